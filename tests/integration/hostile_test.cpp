// Hostile input, through real sockets on 127.0.0.1: hand-made WebSocket frames after a
// real upgrade, malformed HTTP and header injection. None of it may crash or stall the
// proxy or touch other connections: every case keeps a bystander connection open across
// the attack and checks it (and a fresh connection) still relays afterwards.
#include <catch2/catch.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>

#include "proxy_fixture.hpp"
#include "raw_client.hpp"
#include "relay_client.hpp"
#include "test_upstream.hpp"

using namespace relay_test;
namespace websocket = boost::beast::websocket;

namespace {

// The bystander opened before the attack still relays both ways, and so does a new client.
void check_unaffected(running_proxy& proxy, client& bystander) {
    REQUIRE_FALSE(bystander.send("still here"));
    auto m = bystander.read();
    REQUIRE_FALSE(m.ec);
    CHECK(m.data == "still here");
    client fresh;
    REQUIRE_FALSE(fresh.connect(proxy.port()));
    REQUIRE_FALSE(fresh.send("fresh"));
    CHECK(fresh.read().data == "fresh");
}

// The proxy options for `up`, built before the proxy (the upstream's port is needed first).
struct hostile {
    test_upstream::server up;
    std::optional<running_proxy> proxy;
    client bystander;
    explicit hostile(std::function<void(wsproxy::proxy_options&)> adjust = {}) {
        auto o = proxy_options_for(up.port());
        if (adjust) adjust(o);
        proxy.emplace(std::move(o));
        REQUIRE_FALSE(bystander.connect(proxy->port()));
    }
    unsigned short port() { return proxy->port(); }
    double value(std::string_view name, wsproxy::metrics::label_list labels = {}) {
        return metric(*proxy, name, std::move(labels));
    }
    void check_unaffected() { ::check_unaffected(*proxy, bystander); }
};

}  // namespace

// A protocol error fails the connection (RFC 6455 7.1.7): the proxy writes its close frame,
// half-closes, and drops what the client still sends until its FIN (bounded: 5 s), so the
// close frame is not lost to a reset; the upstream learns at once.
TEST_CASE("invalid UTF-8 in a text frame closes the sender with 1007", "[hostile]") {
    hostile h;
    raw_client r;
    REQUIRE(r.upgrade(h.port()));
    REQUIRE(r.write(make_frame(0x1, std::string("caf\xc3\x28 \xff\xfe", 8))));
    CHECK(r.read_close_code() == 1007);
    CHECK(r.eof_follows());
    // The client never closes its socket; the upstream gets 1001 anyway, well before any
    // idle timeout (60 s here).
    REQUIRE(eventually([&] { return h.up.close_codes().size() == 1; }, std::chrono::seconds(2)));
    CHECK(h.up.close_codes()[0] == 1001);
    // The failed client's slot comes back once its lingering read ends: at its FIN, or after
    // ws_pair::linger_ms (5 s) for a client that never closes, as this one.
    CHECK(eventually([&] { return h.proxy->server->connections() == 1; },
                     std::chrono::seconds(10)));  // the bystander
    h.check_unaffected();
}

TEST_CASE("a client's ping is answered by the proxy with a pong carrying its payload",
          "[hostile]") {
    hostile h;
    raw_client r;
    REQUIRE(r.upgrade(h.port()));
    REQUIRE(r.write(make_frame(0x9, "are you there?")));
    auto f = r.read_frame();
    REQUIRE(f);
    CHECK(f->opcode == 0xa);
    CHECK(f->payload == "are you there?");
    h.check_unaffected();
}

TEST_CASE("a large frame that trickles in small pieces arrives whole, followed by the next",
          "[hostile]") {
    hostile h;
    raw_client r;
    REQUIRE(r.upgrade(h.port()));
    // 300 KB of varying bytes, so that a piece kept twice or lost shows in the content.
    std::string big;
    for (int i = 0; big.size() < 300000; ++i) big += "{\"n\":" + std::to_string(i) + "},";
    std::string bytes = make_frame(0x1, big) + make_frame(0x1, "after");
    // 997-byte pieces: the proxy reads each frame in many reads, some of them mid-header.
    for (std::size_t i = 0; i < bytes.size(); i += 997) REQUIRE(r.write(bytes.substr(i, 997)));
    auto echoed = r.read_frame();
    REQUIRE(echoed);
    CHECK(echoed->opcode == 0x1);
    CHECK(echoed->payload.size() == big.size());
    CHECK(echoed->payload == big);
    echoed = r.read_frame();
    REQUIRE(echoed);
    CHECK(echoed->payload == "after");
    h.check_unaffected();
}

TEST_CASE("invalid UTF-8 split across fragments also closes with 1007", "[hostile]") {
    hostile h;
    raw_client r;
    REQUIRE(r.upgrade(h.port()));
    REQUIRE(r.write(make_frame(0x1, "ok \xe2\x82", false)));  // a valid prefix of the euro sign
    REQUIRE(r.write(make_frame(0x0, "X", true)));            // ... not continued
    CHECK(r.read_close_code() == 1007);
    h.check_unaffected();
}

TEST_CASE("reserved opcodes and reserved bits close the sender with 1002", "[hostile]") {
    hostile h;
    for (int opcode : {0x3, 0x7, 0xb, 0xf}) {
        INFO("opcode " << opcode);
        raw_client r;
        REQUIRE(r.upgrade(h.port()));
        REQUIRE(r.write(make_frame(opcode, "x")));
        CHECK(r.read_close_code() == 1002);
    }
    for (int rsv : {1, 2, 4}) {  // RSV1 too: no extension was negotiated
        INFO("rsv " << rsv);
        raw_client r;
        REQUIRE(r.upgrade(h.port()));
        REQUIRE(r.write(make_frame(0x1, "x", true, rsv)));
        CHECK(r.read_close_code() == 1002);
    }
    {
        // A continuation frame with no message to continue.
        raw_client r;
        REQUIRE(r.upgrade(h.port()));
        REQUIRE(r.write(make_frame(0x0, "x")));
        CHECK(r.read_close_code() == 1002);
    }
    REQUIRE(eventually([&] { return h.proxy->server->connections() == 1; }));
    h.check_unaffected();
}

TEST_CASE("control frames over 125 bytes, or fragmented, close the sender with 1002",
          "[hostile]") {
    hostile h;
    for (int opcode : {0x8, 0x9, 0xa}) {
        INFO("opcode " << opcode);
        raw_client r;
        REQUIRE(r.upgrade(h.port()));
        REQUIRE(r.write(make_frame(opcode, std::string(126, 'p'))));
        CHECK(r.read_close_code() == 1002);
    }
    {
        raw_client r;
        REQUIRE(r.upgrade(h.port()));
        REQUIRE(r.write(make_frame(0x9, "ping", false)));
        CHECK(r.read_close_code() == 1002);
    }
    h.check_unaffected();
}

TEST_CASE("an unmasked client frame closes the sender with 1002", "[hostile]") {
    hostile h;
    raw_client r;
    REQUIRE(r.upgrade(h.port()));
    REQUIRE(r.write(make_frame(0x1, "{\"type\":\"ping\"}", true, 0, false)));
    CHECK(r.read_close_code() == 1002);
    // A client that closes its socket after the close frame: the upstream learns at once.
    r.close();
    REQUIRE(eventually([&] { return h.up.close_codes().size() == 1; }, std::chrono::seconds(1)));
    CHECK(h.up.close_codes()[0] == 1001);
    h.check_unaffected();
}

TEST_CASE("100 000 nested brackets are relayed uninspected and the connection keeps working",
          "[hostile]") {
    hostile h;
    raw_client r;
    REQUIRE(r.upgrade(h.port()));
    std::string deep = std::string(100000, '[') + std::string(100000, ']');
    REQUIRE(r.write(make_frame(0x1, deep)));
    auto echoed = r.read_frame();
    REQUIRE(echoed);
    CHECK(echoed->opcode == 0x1);
    CHECK(echoed->payload == deep);
    // Once towards the upstream and once for its echo.
    CHECK(h.value("wsproxy_frames_uninspected_total", {{"reason", "too_deep"}}) == 2);
    // Unclosed brackets too: the scanner stops at the depth bound either way.
    REQUIRE(r.write(make_frame(0x1, std::string(100000, '['))));
    echoed = r.read_frame();
    REQUIRE(echoed);
    CHECK(echoed->payload.size() == 100000);
    CHECK(h.value("wsproxy_frames_uninspected_total", {{"reason", "too_deep"}}) == 4);
    REQUIRE(r.write(make_frame(0x1, "{\"type\":\"ping\",\"data\":{}}")));
    echoed = r.read_frame();
    REQUIRE(echoed);
    CHECK(echoed->payload == "{\"type\":\"ping\",\"data\":{}}");
    h.check_unaffected();
}

TEST_CASE("a 20 MiB frame closes its sender with 1009 in either direction", "[hostile]") {
    hostile h;  // default --max-message-bytes: 16 MiB
    {
        raw_client r;
        REQUIRE(r.upgrade(h.port()));
        // The header announces 20 MiB: the proxy refuses on the header alone. Only the first
        // 64 KiB are written, so the close frame is not lost to a reset while we still write.
        std::string f = make_frame(0x2, std::string(20u << 20, 'b'));
        REQUIRE(r.write(f.substr(0, 65536)));
        CHECK(r.read_close_code() == 1009);
        REQUIRE(eventually([&] { return h.up.close_codes().size() == 1; }));
        CHECK(h.up.close_codes()[0] == 1001);
    }
    {
        // 20 MiB arriving from the upstream: the upstream gets 1009, the client 1001.
        client c;
        REQUIRE_FALSE(c.connect(h.port()));
        REQUIRE_FALSE(c.send("big:20971520"));
        auto reason = c.read_until_closed();
        CHECK(reason.code == websocket::close_code::going_away);
    }
    CHECK(h.value("wsproxy_connections_closed_total", {{"reason", "too_big"}}) == 2);
    h.check_unaffected();
}

TEST_CASE("garbage instead of an HTTP request gets 400 or a close, and nothing goes upstream",
          "[hostile]") {
    hostile h;
    const int accepted_before = h.up.accepted();
    const std::string garbage[] = {
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(300, '\x00'),
        "\r\n\r\n\r\n\r\n",
        "GET\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "\xff\xfe\xfd GARBAGE \x01\x02\r\n\r\n",
        "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
    };
    int i = 0;
    for (const auto& g : garbage) {
        INFO("garbage #" << i++);
        raw_client r;
        auto answer = r.send_request(h.port(), g);
        answer = r.read_all();
        bool bad_request = answer.rfind("HTTP/1.1 400", 0) == 0;
        CHECK((bad_request || answer.empty()));
    }
    CHECK(h.up.accepted() == accepted_before);
    CHECK(h.value("wsproxy_handshake_errors_total", {{"reason", "bad_request"}}) >= 5);
    h.check_unaffected();
}

TEST_CASE("CR or LF inside header values is refused with 400 and nothing is forwarded",
          "[hostile]") {
    hostile h;
    const int accepted_before = h.up.accepted();
    const std::string upgrade_head =
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    const std::string injections[] = {
        "X-Evil: a\rX-Injected: yes\r\n",        // a bare CR in a value
        "X-Evil: a\nX-Injected: yes\r\n",        // a bare LF in a value
        "X-Evil: a\r\rX-Injected: yes\r\n",
        std::string("X-Evil: a\0X-Injected: yes\r\n", 27),  // NUL
        "X-Ev\ril: a\r\n",                       // CR in a name
        "X-Evil : a\r\n",                        // space before the colon (smuggling)
    };
    int i = 0;
    for (const auto& inj : injections) {
        for (bool ws : {true, false}) {
            INFO("injection #" << i << (ws ? " in an upgrade" : " in a plain request"));
            std::string req = std::string("GET /ws/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n") +
                              (ws ? upgrade_head : "") + inj + "\r\n";
            raw_client r;
            r.send_request(h.port(), req);
            auto answer = r.read_all();
            CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
        }
        ++i;
    }
    CHECK(h.up.accepted() == accepted_before);
    CHECK_FALSE(h.up.last_headers().contains("x-injected"));
    h.check_unaffected();
}

TEST_CASE("obsolete line folding never puts a CR or LF into a forwarded value", "[hostile]") {
    hostile h;
    raw_client r;
    r.send_request(h.port(),
                   "GET /fold HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Folded: a\r\n X-Injected: yes\r\n"
                   "Connection: close\r\n\r\n");
    auto answer = r.read_all();
    // Either refused, or forwarded with the fold as plain spaces inside the one value.
    if (answer.rfind("HTTP/1.1 400", 0) != 0) {
        REQUIRE(answer.rfind("HTTP/1.1 200", 0) == 0);
        auto headers = h.up.last_headers();
        CHECK_FALSE(headers.contains("x-injected"));
        for (auto& [k, v] : headers.items()) {
            INFO(k);
            CHECK(v.get<std::string>().find_first_of("\r\n") == std::string::npos);
        }
    }
    h.check_unaffected();
}

TEST_CASE("an oversized header gets 431 and an oversized body 413", "[hostile][limits]") {
    hostile h([](wsproxy::proxy_options& o) {
        o.max_header_bytes = 4096;
        o.max_body_bytes = 2048;
    });
    const int accepted_before = h.up.accepted();
    auto res = http_request(h.port(), http::verb::get, "/api", {},
                            {{"X-Big", std::string(8192, 'h')}});
    CHECK(res.result_int() == 431);
    res = http_request(h.port(), http::verb::post, "/api", std::string(4096, 'b'));
    CHECK(res.result_int() == 413);
    {
        // The upgrade path has the same header limit.
        client c;
        client_options o;
        o.headers = {{"Cookie", std::string(8192, 'c')}};
        REQUIRE(c.connect(h.port(), o) == websocket::error::upgrade_declined);
        CHECK(c.response().result_int() == 431);
    }
    CHECK(h.up.accepted() == accepted_before);
    CHECK(h.value("wsproxy_rejected_total", {{"reason", "header_too_large"}}) == 2);
    CHECK(h.value("wsproxy_rejected_total", {{"reason", "body_too_large"}}) == 1);
    // Under the limits goes through (the echoed response must fit --max-body-bytes too).
    res = http_request(h.port(), http::verb::post, "/api", std::string(500, 'b'));
    CHECK(res.result_int() == 200);
    h.check_unaffected();
}

TEST_CASE("with isolation_enforce a broadcast for a chat never joined is dropped and counted",
          "[hostile][isolation]") {
    auto rules = std::filesystem::temp_directory_path() /
                 ("wsproxy-isolation-" + std::to_string(::getpid()) + ".yaml");
    {
        std::ofstream f(rules);
        f << "policy:\n  isolation_enforce: true\n";
    }
    hostile h([&](wsproxy::proxy_options& o) { o.rules_file = rules.string(); });
    client c;
    REQUIRE_FALSE(c.connect(h.port()));
    // The connection joins chat "mine" (the upstream plays the backend's answer).
    REQUIRE_FALSE(c.send(R"({"type":"join_chat","data":{"chat_id":"mine"}})"));
    REQUIRE(c.read().data == R"({"type":"join_chat","data":{"chat_id":"mine"}})");
    REQUIRE_FALSE(c.send(R"(send:{"type":"chat_joined","data":{"chat_id":"mine","success":true}})"));
    REQUIRE(c.read().data == R"({"type":"chat_joined","data":{"chat_id":"mine","success":true}})");
    // A broadcast for another user's chat is dropped; one for its own chat arrives.
    REQUIRE_FALSE(c.send(
        R"(send:{"type":"response_chunk","data":{"chat_id":"someone-else","content":"secret"}})"));
    REQUIRE_FALSE(c.send(R"(send:{"type":"response_chunk","data":{"chat_id":"mine","content":"hi"}})"));
    auto m = c.read();
    REQUIRE_FALSE(m.ec);
    CHECK(m.data == R"({"type":"response_chunk","data":{"chat_id":"mine","content":"hi"}})");
    CHECK(h.value("wsproxy_isolation_dropped_total") == 1);
    CHECK(h.value("wsproxy_isolation_violations_total") == 1);
    // Other connections never saw it either.
    REQUIRE_FALSE(h.bystander.send("after"));
    CHECK(h.bystander.read().data == "after");
    h.check_unaffected();
    std::filesystem::remove(rules);
}

TEST_CASE("without isolation_enforce the same broadcast is delivered but counted",
          "[hostile][isolation]") {
    hostile h;
    client c;
    REQUIRE_FALSE(c.connect(h.port()));
    REQUIRE_FALSE(c.send(R"(send:{"type":"response_chunk","data":{"chat_id":"someone-else"}})"));
    CHECK(c.read().data == R"({"type":"response_chunk","data":{"chat_id":"someone-else"}})");
    CHECK(h.value("wsproxy_isolation_violations_total") == 1);
    CHECK(h.value("wsproxy_isolation_dropped_total") == 0);
}

// Beast delivers a peer's reset to the write in progress, and the pending read then
// completes with operation_aborted: the pair must still be counted as client_gone.
TEST_CASE("a client reset while the proxy writes to it is counted as client_gone",
          "[hostile]") {
    hostile h;
    client c;
    REQUIRE_FALSE(c.connect(h.port()));
    // 15 MB (under --max-message-bytes) towards a client that reads nothing: more than the
    // loopback socket buffers hold, so the proxy's write to the client stays pending.
    REQUIRE_FALSE(c.send("big:15000000"));
    REQUIRE(eventually([&] {
        return h.value("wsproxy_bytes_total", {{"direction", "server_to_client"}}) >= 15000000;
    }, std::chrono::seconds(20)));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the buffers fill up
    auto& sock = c.ws().next_layer().tcp().socket();
    sock.set_option(net::socket_base::linger(true, 0));  // close with a reset
    c.vanish();
    REQUIRE(eventually([&] { return h.up.close_codes().size() == 1; }));
    CHECK(h.up.close_codes()[0] == 1001);
    CHECK(h.value("wsproxy_connections_closed_total", {{"reason", "client_gone"}}) == 1);
    CHECK(h.value("wsproxy_connections_closed_total", {{"reason", "error"}}) == 0);
}
