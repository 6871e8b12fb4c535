// The HTTP/1.1 head checks (proxy/http/message_checks) and the trusted-proxy list, with
// no sockets: each row of the tables in message_checks.hpp, and what must pass.
#include <catch2/catch.hpp>

#include "proxy/http/message_checks.hpp"
#include "proxy/http/trusted_peers.hpp"

using namespace wsproxy::http1;
namespace http = boost::beast::http;

namespace {

http::fields fields(std::initializer_list<std::pair<const char*, const char*>> list) {
    http::fields f;
    for (auto [name, value] : list) f.insert(name, value);
    return f;
}

std::optional<problem> request(std::initializer_list<std::pair<const char*, const char*>> list,
                               unsigned version = 11, http::verb m = http::verb::post,
                               std::string_view target = "/") {
    return check_request(m, target, version, fields(list));
}

}  // namespace

TEST_CASE("obs-fold is found in a head, and only before its empty line", "[unit][http]") {
    CHECK(has_obs_fold("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"));
    CHECK(has_obs_fold("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"));
    CHECK_FALSE(has_obs_fold("GET / HTTP/1.1\r\nX: a b\r\n\r\n"));
    CHECK_FALSE(has_obs_fold("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n a"));
    // A head still arriving: the fold may be the last thing read so far.
    CHECK(has_obs_fold("GET / HTTP/1.1\r\nX: a\r\n "));
    CHECK_FALSE(has_obs_fold("GET / HTTP/1.1\r\nX: a\r\n"));
}

TEST_CASE("request framing: what nginx and RFC 9112 refuse is refused", "[unit][http]") {
    CHECK_FALSE(request({{"Host", "a"}, {"Content-Length", "3"}}));
    CHECK_FALSE(request({{"Host", "a"}, {"Transfer-Encoding", "chunked"}}));
    CHECK_FALSE(request({{"Host", "a"}, {"Transfer-Encoding", "Chunked"}}));

    SECTION("a coding list that does not end in chunked, or is more than chunked: 501") {
        for (const char* te : {"gzip", "chunked, identity", "gzip, chunked", "chunked, chunked"}) {
            auto p = request({{"Host", "a"}, {"Transfer-Encoding", te}});
            REQUIRE(p);
            CHECK(p->status == 501);
        }
        auto split = request({{"Host", "a"}, {"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}});
        REQUIRE(split);
        CHECK(split->status == 501);
    }
    SECTION("Transfer-Encoding with Content-Length, in either order: 400") {
        auto p = request({{"Host", "a"}, {"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}});
        REQUIRE(p);
        CHECK(p->status == 400);
        p = request({{"Host", "a"}, {"Content-Length", "3"}, {"Transfer-Encoding", "chunked"}});
        REQUIRE(p);
        CHECK(p->status == 400);
        // An unknown coding is 501 first, as nginx answers.
        p = request({{"Host", "a"}, {"Content-Length", "3"}, {"Transfer-Encoding", "chunked, identity"}});
        REQUIRE(p);
        CHECK(p->status == 501);
    }
    SECTION("Content-Length twice, as a list, or not a number: 400") {
        for (auto list : {std::vector<const char*>{"3", "3"}, {"3", "4"}, {"3, 3"}, {"+3"}, {"0x3"}, {""}}) {
            http::fields f;
            f.insert("Host", "a");
            for (auto v : list) f.insert("Content-Length", v);
            auto p = check_request(http::verb::post, "/", 11, f);
            REQUIRE(p);
            CHECK(p->status == 400);
        }
    }
    SECTION("Transfer-Encoding in HTTP/1.0: 400") {
        auto p = request({{"Host", "a"}, {"Transfer-Encoding", "chunked"}}, 10);
        REQUIRE(p);
        CHECK(p->status == 400);
    }
}

TEST_CASE("Host: exactly one in HTTP/1.1, at most one in HTTP/1.0, and well formed",
          "[unit][http]") {
    CHECK(request({}, 11));
    CHECK_FALSE(request({}, 10));
    CHECK(request({{"Host", "a"}, {"Host", "b"}}, 11));
    CHECK(request({{"Host", "a"}, {"Host", "a"}}, 10));
    CHECK(request({{"Host", "a b"}}));
    CHECK(request({{"Host", "a/b"}}));
    CHECK(request({{"Host", "user@a"}}));
    CHECK_FALSE(request({{"Host", "chat.example.com:8443"}}));
    CHECK_FALSE(request({{"Host", "[::1]:80"}}));
}

TEST_CASE("targets: origin, absolute (http/https) and * for OPTIONS; no forward proxying",
          "[unit][http]") {
    CHECK_FALSE(request({{"Host", "a"}}, 11, http::verb::get, "/x?y"));
    CHECK_FALSE(request({{"Host", "a"}}, 11, http::verb::get, "http://b/x"));
    CHECK_FALSE(request({{"Host", "a"}}, 11, http::verb::options, "*"));
    CHECK(request({{"Host", "a"}}, 11, http::verb::get, "*")->status == 400);
    CHECK(request({{"Host", "a"}}, 11, http::verb::get, "ftp://b/x")->status == 400);
    CHECK(request({{"Host", "a"}}, 11, http::verb::connect, "b:443")->status == 405);

    auto o = split_absolute_form("http://chat.example:8080/api/x?q=1");
    REQUIRE(o);
    CHECK(o->authority == "chat.example:8080");
    CHECK(o->target == "/api/x?q=1");
    CHECK(split_absolute_form("HTTPS://b")->target == "/");
    CHECK(split_absolute_form("http://b?q")->target == "/?q");
    CHECK_FALSE(split_absolute_form("http://u@b/"));
    CHECK_FALSE(split_absolute_form("http:///x"));
}

TEST_CASE("response framing: 502 for what the upstream may not send", "[unit][http]") {
    CHECK_FALSE(check_response(200, fields({{"Content-Length", "3"}}), false));
    CHECK_FALSE(check_response(200, fields({{"Transfer-Encoding", "chunked"}}), false));
    CHECK_FALSE(check_response(101, fields({}), true));
    CHECK(check_response(101, fields({}), false)->status == 502);
    CHECK(check_response(200, fields({{"Transfer-Encoding", "gzip"}}), false)->status == 502);
    CHECK(check_response(200, fields({{"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}}),
                         false)->status == 502);
    CHECK(check_response(200, fields({{"Content-Length", "3"}, {"Content-Length", "3"}}), false)
              ->status == 502);
}

TEST_CASE("idempotent methods are the ones RFC 9110 names", "[unit][http]") {
    for (auto m : {http::verb::get, http::verb::head, http::verb::options, http::verb::put,
                   http::verb::delete_, http::verb::trace})
        CHECK(idempotent(m));
    for (auto m : {http::verb::post, http::verb::patch, http::verb::connect}) CHECK_FALSE(idempotent(m));
}

TEST_CASE("joined_values joins every field of a name in order", "[unit][http]") {
    auto f = fields({{"X-Forwarded-For", "1.1.1.1"}, {"Other", "x"}, {"x-forwarded-for", "2.2.2.2, 3.3.3.3"}});
    CHECK(joined_values(f, "X-Forwarded-For") == "1.1.1.1, 2.2.2.2, 3.3.3.3");
    CHECK(joined_values(f, "Missing").empty());
}

TEST_CASE("trusted peers: addresses and CIDRs, v4, v6 and v4-mapped", "[unit][http]") {
    auto t = trusted_peers::parse({"10.0.0.0/8, 192.168.1.7", "fd00::/8"});
    CHECK(t.contains(std::string("10.1.2.3")));
    CHECK(t.contains(std::string("192.168.1.7")));
    CHECK_FALSE(t.contains(std::string("192.168.1.8")));
    CHECK(t.contains(std::string("fd12::1")));
    CHECK_FALSE(t.contains(std::string("fe80::1")));
    CHECK(t.contains(std::string("::ffff:10.9.9.9")));
    CHECK(t.contains(std::string("10.1.2.3:5555")));
    CHECK(t.contains(std::string("[fd00::1]:443")));
    CHECK_FALSE(t.contains(std::string("not an address")));
    CHECK(trusted_peers::parse({}).empty());
    CHECK_THROWS_AS(trusted_peers::parse({"10.0.0.0/33"}), std::invalid_argument);
    CHECK_THROWS_AS(trusted_peers::parse({"ingress"}), std::invalid_argument);
}
