// The WebSocket opening handshake (proxy/ws/handshake.hpp): the key and its answer, the
// browser's upgrade request and the backend's 101.
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "proxy/ws/handshake.hpp"

using namespace wsproxy::ws;
namespace http = boost::beast::http;

namespace {

// RFC 6455 section 1.3's example key and its accept value.
const std::string rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";
const std::string rfc_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// A browser's upgrade request as RFC 6455 section 1.2 shows it.
http::request<http::string_body> upgrade_request() {
    http::request<http::string_body> req{http::verb::get, "/chat", 11};
    req.set(http::field::host, "server.example.com");
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::sec_websocket_key, rfc_key);
    req.set(http::field::origin, "http://example.com");
    req.set(http::field::sec_websocket_version, "13");
    return req;
}

// A backend's 101 answering `key`.
http::response<http::string_body> switching(const std::string& key = rfc_key) {
    http::response<http::string_body> res{http::status::switching_protocols, 11};
    res.set(http::field::upgrade, "websocket");
    res.set(http::field::connection, "Upgrade");
    res.set(http::field::sec_websocket_accept, accept_for(key));
    return res;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// keys

TEST_CASE("accept_for answers RFC 6455's example key", "[ws]") {
    CHECK(accept_for(rfc_key) == rfc_accept);
    CHECK(accept_for("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");  // a second pair, computed independently
}

TEST_CASE("make_key gives 24 base64 characters that differ between calls", "[ws]") {
    std::set<std::string> keys;
    for (int i = 0; i < 20; ++i) {
        auto k = make_key();
        CHECK(k.size() == 24);
        CHECK(k.substr(22) == "==");
        CHECK(k.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
              std::string::npos);
        keys.insert(k);
    }
    CHECK(keys.size() == 20);
    CHECK(make_key() != make_key());
}

TEST_CASE("a request carrying make_key's key passes check_upgrade_request", "[ws]") {
    auto req = upgrade_request();
    req.set(http::field::sec_websocket_key, make_key());
    CHECK_FALSE(check_upgrade_request(req));
}

// ---------------------------------------------------------------------------------------
// check_upgrade_request

TEST_CASE("a good upgrade request passes", "[ws]") {
    CHECK_FALSE(check_upgrade_request(upgrade_request()));
}

TEST_CASE("an upgrade request that is not a GET is 400", "[ws]") {
    for (auto verb : {http::verb::post, http::verb::put, http::verb::head}) {
        auto req = upgrade_request();
        req.method(verb);
        auto problem = check_upgrade_request(req);
        REQUIRE(problem);
        CHECK(problem->status == http::status::bad_request);
        CHECK_FALSE(problem->message.empty());
    }
}

TEST_CASE("an upgrade request over HTTP/1.0 is 400", "[ws]") {
    auto req = upgrade_request();
    req.version(10);
    auto problem = check_upgrade_request(req);
    REQUIRE(problem);
    CHECK(problem->status == http::status::bad_request);
}

TEST_CASE("an upgrade request with another or no Sec-WebSocket-Version is 426", "[ws]") {
    for (std::string version : {"8", "12", "14", "13, 8", ""}) {
        CAPTURE(version);
        auto req = upgrade_request();
        if (version.empty())
            req.erase(http::field::sec_websocket_version);
        else
            req.set(http::field::sec_websocket_version, version);
        auto problem = check_upgrade_request(req);
        REQUIRE(problem);
        CHECK(problem->status == http::status::upgrade_required);
        CHECK(problem->message.find("13") != std::string::npos);
    }
}

TEST_CASE("an upgrade request with a missing or malformed key is 400", "[ws]") {
    for (std::string key : {"", "short==", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===",
                            "dGhlIHNhbXBsZSBub25jZQab"}) {
        CAPTURE(key);
        auto req = upgrade_request();
        if (key.empty())
            req.erase(http::field::sec_websocket_key);
        else
            req.set(http::field::sec_websocket_key, key);
        auto problem = check_upgrade_request(req);
        REQUIRE(problem);
        CHECK(problem->status == http::status::bad_request);
    }
}

// ---------------------------------------------------------------------------------------
// check_upgrade_response

TEST_CASE("a 101 with the matching accept passes", "[ws]") {
    auto v = check_upgrade_response(switching(), rfc_key, false);
    CHECK_FALSE(v.declined);
    CHECK(v.error.empty());
    CHECK_FALSE(v.deflate);
    // Header values are compared as HTTP does: case-insensitively, Connection as a list.
    auto res = switching();
    res.set(http::field::upgrade, "WebSocket");
    res.set(http::field::connection, "keep-alive, upgrade");
    auto relaxed = check_upgrade_response(res, rfc_key, false);
    CHECK(relaxed.error.empty());
    CHECK_FALSE(relaxed.declined);
}

TEST_CASE("a 101 whose accept does not match the key is an error", "[ws]") {
    auto other = make_key();
    auto v = check_upgrade_response(switching(other), rfc_key, false);
    CHECK_FALSE(v.declined);
    CHECK_FALSE(v.error.empty());

    auto res = switching();
    res.erase(http::field::sec_websocket_accept);
    CHECK_FALSE(check_upgrade_response(res, rfc_key, false).error.empty());

    auto lower = switching();
    std::string accept = rfc_accept;
    for (auto& c : accept) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    lower.set(http::field::sec_websocket_accept, accept);  // base64 is case-sensitive
    CHECK_FALSE(check_upgrade_response(lower, rfc_key, false).error.empty());
}

TEST_CASE("a non-101 answer is declined, not an error", "[ws]") {
    for (auto status : {http::status::forbidden, http::status::ok, http::status::not_found,
                        http::status::service_unavailable}) {
        http::response<http::string_body> res{status, 11};
        res.body() = "no";
        auto v = check_upgrade_response(res, rfc_key, true);
        CHECK(v.declined);
        CHECK(v.error.empty());
        CHECK_FALSE(v.deflate);
    }
}

TEST_CASE("a 101 without Upgrade: websocket is an error", "[ws]") {
    auto res = switching();
    res.erase(http::field::upgrade);
    auto v = check_upgrade_response(res, rfc_key, false);
    CHECK_FALSE(v.declined);
    CHECK_FALSE(v.error.empty());

    res.set(http::field::upgrade, "h2c");
    CHECK_FALSE(check_upgrade_response(res, rfc_key, false).error.empty());
}

TEST_CASE("a 101 without Connection: upgrade is an error", "[ws]") {
    auto res = switching();
    res.erase(http::field::connection);
    CHECK_FALSE(check_upgrade_response(res, rfc_key, false).error.empty());
    res.set(http::field::connection, "keep-alive");
    CHECK_FALSE(check_upgrade_response(res, rfc_key, false).error.empty());
}

TEST_CASE("a 101 with extensions we did not offer is an error", "[ws]") {
    auto res = switching();
    res.set(http::field::sec_websocket_extensions, "permessage-deflate");
    auto v = check_upgrade_response(res, rfc_key, false);
    CHECK_FALSE(v.declined);
    CHECK_FALSE(v.error.empty());
    CHECK_FALSE(v.deflate);
}

TEST_CASE("a 101 accepting our deflate offer sets the agreed parameters", "[ws]") {
    auto res = switching();
    res.set(http::field::sec_websocket_extensions,
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10");
    auto v = check_upgrade_response(res, rfc_key, true);
    CHECK(v.error.empty());
    CHECK_FALSE(v.declined);
    REQUIRE(v.deflate);
    CHECK(v.deflate->server_no_context_takeover);
    CHECK_FALSE(v.deflate->client_no_context_takeover);
    CHECK(v.deflate->client_max_window_bits == 10);
    CHECK(v.deflate->server_max_window_bits == 15);
}

TEST_CASE("a 101 without extensions after our offer means no deflate", "[ws]") {
    auto v = check_upgrade_response(switching(), rfc_key, true);
    CHECK(v.error.empty());
    CHECK_FALSE(v.deflate);
}

TEST_CASE("a 101 with a bad deflate answer to our offer is an error", "[ws]") {
    for (std::string ext : {"permessage-deflate; foo", "x-webkit-deflate-frame",
                            "permessage-deflate, permessage-deflate",
                            "permessage-deflate; client_max_window_bits"}) {
        CAPTURE(ext);
        auto res = switching();
        res.set(http::field::sec_websocket_extensions, ext);
        auto v = check_upgrade_response(res, rfc_key, true);
        CHECK_FALSE(v.error.empty());
        CHECK_FALSE(v.deflate);
    }
}
