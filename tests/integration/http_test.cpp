// The HTTP half through real sockets (issue 14): interim responses, framing errors,
// replays, headers, limits and drain. The upstream is raw_upstream: it records the exact
// requests it received and answers with the bytes each test scripts, broken ones too.
#include <catch2/catch.hpp>

#include "http_peers.hpp"
#include "proxy_fixture.hpp"

using namespace http_test;
using relay_test::eventually;
using relay_test::metric;
using relay_test::proxy_options_for;
using relay_test::running_proxy;

namespace {

// Answers every request with 200 and a body naming the request: "<conn>/<index> <target>".
reply echo_target(const received& r) {
    return {response_bytes(200, std::to_string(r.conn) + "/" + std::to_string(r.index) + " " +
                                    std::string(r.req.target()))};
}

std::string get(const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: app.example\r\n" + extra + "\r\n";
}

std::string post(const std::string& target, const std::string& body, const std::string& extra = "") {
    return "POST " + target + " HTTP/1.1\r\nHost: app.example\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Sends `bytes` and returns the final response to it (failing the test when none comes).
std::optional<response> roundtrip(http_conn& c, const std::string& bytes) {
    REQUIRE(c.send(bytes));
    auto r = c.read_final();
    REQUIRE(r);
    return r;
}

}  // namespace

TEST_CASE("a 100 Continue or 103 from the backend is relayed as interim, and the final response "
          "goes to its own request",
          "[http]") {
    raw_upstream up([](const received& r) -> reply {
        if (r.req.target() == "/continue")
            return {"HTTP/1.1 100 Continue\r\n\r\n" + response_bytes(200, "final for /continue")};
        if (r.req.target() == "/hints")
            return {"HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n" +
                    response_bytes(200, "final for /hints")};
        return echo_target(r);
    });
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());

    REQUIRE(c.send(post("/continue", "hello")));
    std::vector<unsigned> interims;
    auto first = c.read_final(&interims);
    REQUIRE(first);
    CHECK(interims == std::vector<unsigned>{100});
    CHECK(first->status == 200);
    CHECK(first->body == "final for /continue");

    // The next request on the same connection gets its own answer, not the one before.
    auto second = roundtrip(c, get("/next"));
    CHECK(second->body.find("/next") != std::string::npos);

    interims.clear();
    REQUIRE(c.send(get("/hints")));
    auto hinted = c.read();
    REQUIRE(hinted);
    CHECK(hinted->status == 103);
    CHECK(hinted->headers["Link"] == "</app.css>; rel=preload");
    auto third = c.read_final();
    REQUIRE(third);
    CHECK(third->body == "final for /hints");
}

TEST_CASE("an HTTP/1.0 client gets no interim responses, only the final one", "[http]") {
    raw_upstream up([](const received&) -> reply {
        return {"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + response_bytes(200, "final")};
    });
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());
    REQUIRE(c.send("GET / HTTP/1.0\r\nHost: a\r\n\r\n"));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "final");
}

TEST_CASE("a 101 to a request that asked for no upgrade is a 502, and that connection is dropped",
          "[http]") {
    raw_upstream up([](const received& r) -> reply {
        if (r.req.target() == "/switch") return {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"};
        return echo_target(r);
    });
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());
    auto r = roundtrip(c, get("/switch"));
    CHECK(r->status == 502);
    auto after = roundtrip(c, get("/after"));
    CHECK(after->status == 200);
    CHECK(after->body.rfind("1/0 ", 0) == 0);  // a new upstream connection
    CHECK(metric(proxy, "wsproxy_upstream_errors_total", {{"reason", "bad_response"}}) == 1);
}

TEST_CASE("Expect: 100-continue is answered by the proxy, and the backend gets the body without "
          "the expectation",
          "[http]") {
    raw_upstream up(echo_target);
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());
    REQUIRE(c.send("POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                   "Content-Length: 5\r\n\r\n"));
    auto cont = c.read();
    REQUIRE(cont);
    CHECK(cont->status == 100);
    auto r = roundtrip(c, "hello");
    CHECK(r->status == 200);
    auto reqs = up.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].req.body() == "hello");
    CHECK(reqs[0].req[http::field::expect].empty());
}

TEST_CASE("request framing the RFC forbids is refused before anything goes upstream, and the "
          "connection is closed",
          "[http]") {
    raw_upstream up(echo_target);
    running_proxy proxy(proxy_options_for(up.port()));
    struct bad {
        const char* name;
        std::string bytes;
        unsigned status;
    };
    const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    std::vector<bad> cases = {
        {"TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n" + smuggled, 501},
        {"TE chunked, identity with CL",
         "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\nContent-Length: " +
             std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled,
         501},
        {"TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 400},
        {"two CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
        {"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n", 400},
        {"bare LF", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400},
        {"bare CR", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400},
        {"two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"no Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400},
        {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"bad chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400},
        {"CONNECT", "CONNECT backend:443 HTTP/1.1\r\nHost: backend:443\r\n\r\n", 405},
    };
    for (const auto& b : cases) {
        INFO(b.name);
        http_conn c(proxy.port());
        REQUIRE(c.send(b.bytes));
        auto r = c.read();
        REQUIRE(r);
        CHECK(r->status == b.status);
        CHECK_FALSE(r->keep_alive);
        CHECK(c.closed());
    }
    CHECK(up.requests().empty());
}

TEST_CASE("an upstream response with broken framing is a 502 and its connection is not reused",
          "[http]") {
    raw_upstream up([](const received& r) -> reply {
        if (r.req.target() == "/te-cl")
            return {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n"};
        if (r.req.target() == "/te-gzip")
            return {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc"};
        if (r.req.target() == "/bad-chunk")
            return {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"};
        return echo_target(r);
    });
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());
    int upstream_conn = 0;
    for (const char* target : {"/te-cl", "/te-gzip", "/bad-chunk"}) {
        INFO(target);
        REQUIRE(c.send(get(target)));
        auto r = c.read_final();
        REQUIRE(r);
        CHECK(r->status == 502);
        ++upstream_conn;
        REQUIRE(c.send(get("/ok")));
        auto ok = c.read_final();
        REQUIRE(ok);
        // Served on a fresh upstream connection: the broken one was dropped.
        CHECK(ok->body == std::to_string(upstream_conn) + "/0 /ok");
    }
}

TEST_CASE("bytes behind a 204 or 304 belong to no request: the connection is not reused", "[http]") {
    raw_upstream up([](const received& r) -> reply {
        if (r.req.target() == "/204") return {"HTTP/1.1 204 No Content\r\nContent-Length: 25\r\n\r\nHTTP/1.1 200 OK\r\n\r\nevil"};
        if (r.req.target() == "/304") return {"HTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"};
        return echo_target(r);
    });
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());
    auto r = roundtrip(c, get("/204"));
    CHECK(r->status == 204);
    auto after = roundtrip(c, get("/after-204"));
    CHECK(after->body == "1/0 /after-204");
    REQUIRE(c.send(get("/304")));
    r = c.read_final();
    REQUIRE(r);
    CHECK(r->status == 304);
    REQUIRE(c.send(get("/after-304")));
    after = c.read_final();
    REQUIRE(after);
    CHECK(after->body == "2/0 /after-304");
}

TEST_CASE("a POST whose reused upstream connection dies unanswered is a 502, sent once; a GET is "
          "sent again",
          "[http]") {
    // Each upstream connection answers its first request and silently drops the second.
    raw_upstream up([](const received& r) -> reply {
        if (r.index == 1) return {"", true};
        return echo_target(r);
    });
    running_proxy proxy(proxy_options_for(up.port()));
    {
        http_conn c(proxy.port());
        REQUIRE(c.send(get("/warm")));
        REQUIRE(c.read_final());
        REQUIRE(c.send(post("/api/v1/messages", "a user's message")));
        auto r = c.read_final();
        REQUIRE(r);
        CHECK(r->status == 502);
        int posts = 0;
        for (const auto& q : up.requests()) posts += q.req.method() == http::verb::post;
        CHECK(posts == 1);
    }
    {
        http_conn c(proxy.port());
        REQUIRE(c.send(get("/warm")));
        REQUIRE(c.read_final());
        REQUIRE(c.send(get("/idempotent")));
        auto r = c.read_final();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body.find("/idempotent") != std::string::npos);
    }
}

TEST_CASE("a kept-alive upstream connection the backend closed meanwhile is not written to",
          "[http]") {
    // The backend closes after every response, without saying Connection: close.
    raw_upstream up([](const received& r) -> reply {
        auto answer = echo_target(r);
        answer.close_after = true;
        return answer;
    });
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());
    REQUIRE(c.send(get("/first")));
    REQUIRE(c.read_final());
    // The backend has closed (its FIN is on the loopback at once): the proxy must notice it
    // before writing the POST.
    REQUIRE(eventually([&] { return up.closed() == 1; }));
    auto r = roundtrip(c, post("/api/v1/messages", "hi"));
    CHECK(r->status == 200);
    CHECK(r->body == "1/0 /api/v1/messages");
}

TEST_CASE("pipelined requests are answered in order, each with its own response", "[http]") {
    raw_upstream up([](const received& r) -> reply {
        auto a = echo_target(r);
        if (r.req.target() == "/slow") a.delay_ms = 200;
        return a;
    });
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());
    REQUIRE(c.send(get("/slow") + get("/fast") + "GET /third HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    auto a = c.read_final();
    auto b = c.read_final();
    auto d = c.read_final();
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(d);
    CHECK(a->body == "0/0 /slow");
    CHECK(b->body == "0/1 /fast");
    CHECK(d->body == "0/2 /third");
    CHECK(c.closed());
}

TEST_CASE("HTTP/1.0 keep-alive, absolute-form targets and HEAD", "[http]") {
    raw_upstream up([](const received& r) -> reply {
        if (r.req.method() == http::verb::head)
            return {"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"};
        return echo_target(r);
    });
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());
    REQUIRE(c.send("GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->keep_alive);
    REQUIRE(c.send("GET http://chat.example:8080/two?x=1 HTTP/1.1\r\nHost: ignored.example\r\n\r\n"));
    r = c.read();
    REQUIRE(r);
    CHECK(r->body == "0/1 /two?x=1");
    REQUIRE(c.send("HEAD /three HTTP/1.1\r\nHost: a\r\n\r\n"));
    r = c.read(true);
    REQUIRE(r);
    CHECK(r->headers[http::field::content_length] == "1234");
    CHECK(r->body.empty());
    REQUIRE(c.send(get("/four")));
    r = c.read();
    REQUIRE(r);
    CHECK(r->body == "0/3 /four");
    auto reqs = up.requests();
    REQUIRE(reqs.size() == 4);
    CHECK(reqs[1].req[http::field::host] == "chat.example:8080");
    // HTTP/1.0 sent no Host; the backend speaks HTTP/1.1 with us and gets one.
    CHECK(reqs[0].req[http::field::host] == "127.0.0.1:" + std::to_string(up.port()));
}

TEST_CASE("hop-by-hop headers of every Connection header are removed; X-Forwarded-For keeps the "
          "whole chain",
          "[http]") {
    raw_upstream up(echo_target);
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());
    REQUIRE(c.send(get("/h", "Connection: keep-alive, X-First\r\nConnection: X-Second\r\n"
                             "X-First: 1\r\nX-Second: 2\r\nX-Kept: 3\r\n"
                             "X-Forwarded-For: 203.0.113.1\r\nX-Forwarded-For: 198.51.100.2, 10.0.0.3\r\n"
                             "X-Forwarded-Proto: https\r\nX-Forwarded-Host: spoofed.example\r\n")));
    REQUIRE(c.read_final());
    auto reqs = up.requests();
    REQUIRE(reqs.size() == 1);
    const auto& req = reqs[0].req;
    CHECK(req["X-First"].empty());
    CHECK(req["X-Second"].empty());
    CHECK(req["X-Kept"] == "3");
    CHECK(req["X-Forwarded-For"] == "203.0.113.1, 198.51.100.2, 10.0.0.3, 127.0.0.1");
    // The peer is not a trusted proxy: what it claims is replaced by what we saw.
    CHECK(req["X-Forwarded-Proto"] == "http");
    CHECK(req["X-Forwarded-Host"] == "app.example");
}

TEST_CASE("a trusted proxy's X-Forwarded-Proto and -Host are kept", "[http]") {
    raw_upstream up(echo_target);
    auto o = proxy_options_for(up.port());
    o.trusted_proxies = {"10.0.0.0/8,127.0.0.0/8"};
    running_proxy proxy(o);
    http_conn c(proxy.port());
    REQUIRE(c.send(get("/h", "X-Forwarded-Proto: https\r\nX-Forwarded-Host: chat.example.com\r\n")));
    REQUIRE(c.read_final());
    REQUIRE(c.send(get("/plain")));
    REQUIRE(c.read_final());
    auto reqs = up.requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].req["X-Forwarded-Proto"] == "https");
    CHECK(reqs[0].req["X-Forwarded-Host"] == "chat.example.com");
    // Nothing claimed: ours.
    CHECK(reqs[1].req["X-Forwarded-Proto"] == "http");
    CHECK(reqs[1].req["X-Forwarded-Host"] == "app.example");
}

TEST_CASE("a refused upgrade passes back every end-to-end header of the backend's answer", "[http]") {
    raw_upstream up([](const received&) -> reply {
        return {response_bytes(401, "log in first",
                               "WWW-Authenticate: Bearer realm=\"chat\"\r\nSet-Cookie: a=1\r\n"
                               "Set-Cookie: b=2\r\nLocation: /login\r\nContent-Type: text/plain\r\n"),
                true};
    });
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());
    REQUIRE(c.send("GET /ws/chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"));
    auto r = c.read();
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->body == "log in first");
    CHECK(r->headers[http::field::www_authenticate] == "Bearer realm=\"chat\"");
    CHECK(r->headers[http::field::location] == "/login");
    auto cookies = r->headers.equal_range(http::field::set_cookie);
    CHECK(std::distance(cookies.first, cookies.second) == 2);
}

TEST_CASE("plain HTTP connections count against --max-connections too", "[http]") {
    raw_upstream up(echo_target);
    auto o = proxy_options_for(up.port());
    o.max_connections = 2;
    running_proxy proxy(o);
    http_conn a(proxy.port()), b(proxy.port());
    REQUIRE(a.send(get("/a")));
    REQUIRE(a.read_final());
    REQUIRE(b.send(get("/b")));
    REQUIRE(b.read_final());
    {
        http_conn third(proxy.port());
        auto r = third.read();
        REQUIRE(r);
        CHECK(r->status == 503);
        CHECK(third.closed());
    }
    CHECK(metric(proxy, "wsproxy_rejected_total", {{"reason", "max_connections"}}) == 1);
    // A slot given back is usable again.
    b.send("GET /bye HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    REQUIRE(b.read_final());
    REQUIRE(b.closed());
    REQUIRE(eventually([&] { return proxy.server->connections() == 1; }));
    http_conn fourth(proxy.port());
    auto r = roundtrip(fourth, get("/d"));
    CHECK(r->status == 200);
}

TEST_CASE("drain waits for an HTTP request in flight, says Connection: close, and closes idle "
          "keep-alive connections at once",
          "[http]") {
    raw_upstream up([](const received& r) -> reply {
        auto a = echo_target(r);
        if (r.req.target() == "/slow") a.delay_ms = 800;
        return a;
    });
    auto o = proxy_options_for(up.port());
    o.drain_timeout = 10;
    running_proxy proxy(o);
    http_conn idle(proxy.port()), busy(proxy.port());
    REQUIRE(idle.send(get("/warm")));
    REQUIRE(idle.read_final());
    REQUIRE(busy.send(post("/slow", "a user's message")));
    REQUIRE(eventually([&] { return up.requests().size() == 2; }));
    proxy.server->begin_drain();
    CHECK(idle.closed());
    auto r = busy.read_final();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "1/0 /slow");
    CHECK_FALSE(r->keep_alive);
    CHECK(busy.closed());
    proxy.server->wait();  // returns: nothing left to wait for
}

TEST_CASE("a chunked body's trailer fields are not forwarded as headers", "[http]") {
    raw_upstream up(echo_target);
    running_proxy proxy(proxy_options_for(up.port()));
    http_conn c(proxy.port());
    auto r = roundtrip(c, "POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n0\r\nX-Forwarded-For: 6.6.6.6\r\nX-Trailer: t\r\n\r\n");
    CHECK(r->status == 200);
    auto reqs = up.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].req.body() == "hello");
    CHECK(reqs[0].req["X-Trailer"].empty());
    CHECK(reqs[0].req["X-Forwarded-For"] == "127.0.0.1");
    CHECK(reqs[0].req[http::field::content_length] == "5");
}
