// The relay's transparency, through real sockets on 127.0.0.1: what the
// browser sends reaches the upstream unchanged and the other way round.
#include <catch2/catch.hpp>

#include "proxy_fixture.hpp"
#include "relay_client.hpp"
#include "test_certs.hpp"
#include "test_upstream.hpp"

using namespace relay_test;
namespace websocket = boost::beast::websocket;

TEST_CASE("an upgrade goes upstream to the same path and query with the client's headers",
          "[relay]") {
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    client c;
    client_options o;
    o.target = "/any/path/here?tenant_id=t1&chat_id=abc";
    o.headers = {{"Cookie", "mip_session=s3cret"},
                 {"Authorization", "Bearer tok"},
                 {"Origin", "https://app.example"},
                 {"User-Agent", "relay-test/1"},
                 {"X-Custom", "custom-value"},
                 {"X-Forwarded-For", "10.1.2.3"},
                 {"Keep-Alive", "timeout=5"}};
    REQUIRE_FALSE(c.connect(proxy.port(), o));
    REQUIRE_FALSE(c.send("headers"));
    auto m = c.read();
    REQUIRE_FALSE(m.ec);
    auto h = nlohmann::json::parse(m.data);
    CHECK(h[":target"] == "/any/path/here?tenant_id=t1&chat_id=abc");
    CHECK(h["cookie"] == "mip_session=s3cret");
    CHECK(h["authorization"] == "Bearer tok");
    CHECK(h["origin"] == "https://app.example");
    CHECK(h["user-agent"] == "relay-test/1");
    CHECK(h["x-custom"] == "custom-value");
    CHECK(h["x-forwarded-for"] == "10.1.2.3, 127.0.0.1");
    CHECK(h["x-forwarded-proto"] == "http");
    CHECK(h["x-forwarded-host"] == "127.0.0.1:" + std::to_string(proxy.port()));
    CHECK(h["host"] == "127.0.0.1:" + std::to_string(proxy.port()));
    CHECK_FALSE(h.contains("keep-alive"));
}

TEST_CASE("the client's subprotocols are offered upstream and the upstream's choice comes back",
          "[relay]") {
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    {
        client c;
        client_options o;
        o.headers = {{"Sec-WebSocket-Protocol", "chat.v1, chat.v2"}};
        REQUIRE_FALSE(c.connect(proxy.port(), o));
        CHECK(c.response()["Sec-WebSocket-Protocol"] == "chat.v2");
        CHECK(c.response()["X-Upstream"] == "yes");
        CHECK(up.last_headers()["sec-websocket-protocol"] == "chat.v1, chat.v2");
    }
    {
        client c;
        REQUIRE_FALSE(c.connect(proxy.port()));
        CHECK(c.response()["Sec-WebSocket-Protocol"].empty());
        CHECK_FALSE(up.last_headers().contains("sec-websocket-protocol"));
    }
}

TEST_CASE("text and binary messages keep their content and kind, fragmented and large",
          "[relay]") {
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));

    std::string all_bytes;
    for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
    REQUIRE_FALSE(c.send(all_bytes, false));
    auto m = c.read();
    REQUIRE_FALSE(m.ec);
    CHECK_FALSE(m.text);
    CHECK(m.data == all_bytes);

    REQUIRE_FALSE(c.send("{\"type\":\"ping\",\"data\":{}}"));
    m = c.read();
    CHECK(m.text);
    CHECK(m.data == "{\"type\":\"ping\",\"data\":{}}");

    REQUIRE_FALSE(c.send_fragmented({"frag", "ment", "ed"}));
    m = c.read();
    CHECK(m.text);
    CHECK(m.data == "fragmented");

    std::string large(5u << 20, 'L');
    for (std::size_t i = 0; i < large.size(); i += 997) large[i] = static_cast<char>('a' + i % 26);
    REQUIRE_FALSE(c.send(large, false));
    m = c.read();
    REQUIRE_FALSE(m.ec);
    CHECK_FALSE(m.text);
    CHECK(m.data == large);

    // Both ways: a large message that the upstream makes.
    REQUIRE_FALSE(c.send("big:3000000"));
    m = c.read();
    REQUIRE_FALSE(m.ec);
    CHECK(m.data.size() == 3000000);
}

TEST_CASE("a message over the size limit closes its sender with 1009 and the upstream with 1001",
          "[relay]") {
    test_upstream::server up;
    auto o = proxy_options_for(up.port());
    o.max_message_bytes = 1024;
    running_proxy proxy(o);
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    // Small enough to sit in the socket buffers at once: a sender still writing when
    // the proxy hangs up would get a reset that can swallow the close frame.
    REQUIRE_FALSE(c.send(std::string(2000, 'x')));
    auto reason = c.read_until_closed();
    INFO("read: " << c.last_error().message());
    CHECK(reason.code == websocket::close_code::too_big);
    REQUIRE(eventually([&] { return !up.close_codes().empty(); }));
    CHECK(up.close_codes().front() == 1001);
    CHECK(proxy.server->metrics().value("wsproxy_connections_closed_total",
                                        {{"reason", "too_big"}}) == 1);
}

TEST_CASE("close codes and reasons pass through in both directions", "[relay]") {
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    {
        client c;
        REQUIRE_FALSE(c.connect(proxy.port()));
        REQUIRE_FALSE(c.close(websocket::close_reason(static_cast<websocket::close_code>(4001), "client bye")));
        REQUIRE(eventually([&] { return up.close_codes().size() == 1; }));
        CHECK(up.close_codes()[0] == 4001);
    }
    {
        client c;
        REQUIRE_FALSE(c.connect(proxy.port()));
        REQUIRE_FALSE(c.send("close:4002:server bye"));
        auto reason = c.read_until_closed();
        CHECK(static_cast<int>(reason.code) == 4002);
        CHECK(std::string(reason.reason.c_str()) == "server bye");
    }
}

TEST_CASE("a client that vanishes gets its upstream leg closed at once", "[relay]") {
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    REQUIRE_FALSE(c.send("hello"));
    REQUIRE_FALSE(c.read().ec);
    c.vanish();
    REQUIRE(eventually([&] { return up.close_codes().size() == 1; }, std::chrono::seconds(2)));
    CHECK(up.close_codes()[0] == 1001);
    REQUIRE(eventually([&] { return proxy.server->connections() == 0; }));
}

TEST_CASE("an upstream that drops mid-session closes the client with 1011", "[relay]") {
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    REQUIRE_FALSE(c.send("drop"));
    auto reason = c.read_until_closed();
    CHECK(reason.code == websocket::close_code::internal_error);
    CHECK(std::string(reason.reason.c_str()) == "upstream went away");
    CHECK(proxy.server->metrics().value("wsproxy_upstream_errors_total", {{"reason", "closed"}}) ==
          1);
}

TEST_CASE("an unreachable upstream answers the upgrade with 502", "[relay]") {
    unsigned short dead_port;
    {
        test_upstream::server up;
        dead_port = up.port();
    }
    running_proxy proxy(proxy_options_for(dead_port));
    client c;
    auto ec = c.connect(proxy.port());
    REQUIRE(ec == websocket::error::upgrade_declined);
    CHECK(c.response().result_int() == 502);
    CHECK(proxy.server->metrics().value("wsproxy_upstream_errors_total", {{"reason", "connect"}}) ==
          1);
}

TEST_CASE("an upstream that refuses the upgrade has its status and body passed on", "[relay]") {
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    client c;
    client_options o;
    o.target = "/decline/me";
    REQUIRE(c.connect(proxy.port(), o) == websocket::error::upgrade_declined);
    CHECK(c.response().result_int() == 403);
    CHECK(c.response().body() == "forbidden by upstream");
}

TEST_CASE("plain HTTP requests are reverse-proxied with keep-alive, and 502 when upstream is down",
          "[relay]") {
    auto up = std::make_unique<test_upstream::server>();
    running_proxy proxy(proxy_options_for(up->port()));

    auto res = http_request(proxy.port(), http::verb::post, "/api/v1/chats/c1/messages?x=1",
                            R"({"content":"hi"})",
                            {{"Content-Type", "application/json"}, {"Cookie", "mip_session=a"}});
    REQUIRE(res.result_int() == 200);
    auto j = nlohmann::json::parse(res.body());
    CHECK(j["method"] == "POST");
    CHECK(j["target"] == "/api/v1/chats/c1/messages?x=1");
    CHECK(j["body"] == R"({"content":"hi"})");
    CHECK(j["headers"]["cookie"] == "mip_session=a");
    CHECK(j["headers"]["x-forwarded-for"] == "127.0.0.1");

    // Two requests on one client connection: the second reuses it.
    {
        net::io_context ioc;
        beast::tcp_stream s(ioc);
        s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), proxy.port()));
        s.expires_after(std::chrono::seconds(5));
        beast::flat_buffer buf;
        for (int i = 0; i < 2; ++i) {
            http::request<http::string_body> req{http::verb::get, "/healthz/" + std::to_string(i), 11};
            req.set(http::field::host, "x");
            http::write(s, req);
            http::response<http::string_body> r;
            http::read(s, buf, r);
            CHECK(r.result_int() == 200);
            CHECK(r.keep_alive());
            CHECK(nlohmann::json::parse(r.body())["target"] == "/healthz/" + std::to_string(i));
        }
        CHECK(up->accepted() == 2);  // the first request's connection, then this session's one
    }

    up.reset();
    res = http_request(proxy.port(), http::verb::get, "/api/v1/chats/c1/messages");
    CHECK(res.result_int() == 502);
    CHECK(proxy.server->metrics().value("wsproxy_http_requests_total", {{"code", "502"}}) == 1);
}

TEST_CASE("TLS works on both legs, and an untrusted upstream certificate gives 502", "[relay][tls]") {
    auto certs = test_certs::make();
    net::ssl::context upstream_ctx(net::ssl::context::tls_server);
    upstream_ctx.use_certificate_chain_file(certs.server_cert);
    upstream_ctx.use_private_key_file(certs.server_key, net::ssl::context::pem);
    test_upstream::server up(&upstream_ctx);

    net::ssl::context client_ctx(net::ssl::context::tls_client);
    client_ctx.load_verify_file(certs.ca_cert);
    client_options o;
    o.tls = &client_ctx;
    o.sni = "localhost";
    {
        auto opts = proxy_options_for(up.port(), true, "localhost");
        opts.tls_cert = certs.server_cert;
        opts.tls_key = certs.server_key;
        opts.upstream_ca = certs.ca_cert;
        running_proxy proxy(opts);
        client c;
        REQUIRE_FALSE(c.connect(proxy.port(), o));
        REQUIRE_FALSE(c.send("headers"));
        auto m = c.read();
        REQUIRE_FALSE(m.ec);
        CHECK(nlohmann::json::parse(m.data)["x-forwarded-proto"] == "https");
        REQUIRE_FALSE(c.send("over tls"));
        CHECK(c.read().data == "over tls");
    }
    {
        auto opts = proxy_options_for(up.port(), true, "localhost");
        opts.tls_cert = certs.server_cert;
        opts.tls_key = certs.server_key;
        opts.upstream_ca = certs.other_ca_cert;  // does not vouch for the upstream
        running_proxy proxy(opts);
        client c;
        REQUIRE(c.connect(proxy.port(), o) == websocket::error::upgrade_declined);
        CHECK(c.response().result_int() == 502);
        CHECK(proxy.server->metrics().value("wsproxy_upstream_errors_total", {{"reason", "tls"}}) ==
              1);
    }
    std::filesystem::remove_all(certs.dir);
}

TEST_CASE("permessage-deflate is negotiated on each leg independently", "[relay]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.permessage_deflate = true;
    running_proxy proxy(opts);
    {
        client c;
        client_options o;
        o.deflate = true;
        REQUIRE_FALSE(c.connect(proxy.port(), o));
        CHECK(c.response()["Sec-WebSocket-Extensions"].find("permessage-deflate") !=
              std::string::npos);
        std::string text(100000, 'z');
        REQUIRE_FALSE(c.send(text));
        CHECK(c.read().data == text);
        // Messages in a row, each compressed against the window the previous ones left
        // (context takeover on both legs), and an empty one between them.
        for (std::string m : {std::string(R"({"type":"send_message","n":1})"), std::string(),
                              std::string(R"({"type":"send_message","n":2})"),
                              std::string(3000, 'q') + "end"}) {
            REQUIRE_FALSE(c.send(m));
            CHECK(c.read().data == m);
        }
    }
    {
        // A client that does not offer it still gets a working relay.
        client c;
        REQUIRE_FALSE(c.connect(proxy.port()));
        CHECK(c.response()["Sec-WebSocket-Extensions"].empty());
        CHECK(up.last_headers()["sec-websocket-extensions"].get<std::string>().find(
                  "permessage-deflate") != std::string::npos);
        REQUIRE_FALSE(c.send("plain"));
        CHECK(c.read().data == "plain");
    }
}

TEST_CASE("an idle leg is closed after the idle timeout when pings are off", "[relay]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.idle_timeout = 0.5;
    opts.keepalive_pings = false;
    running_proxy proxy(opts);
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    auto m = c.read_for(std::chrono::seconds(5));
    CHECK(m.ec);
    CHECK(m.ec != net::error::timed_out);
    REQUIRE(eventually([&] { return proxy.server->connections() == 0; }));
    CHECK(proxy.server->metrics().value("wsproxy_connections_closed_total",
                                        {{"reason", "idle_timeout"}}) == 1);
}

TEST_CASE("keep-alive pings hold an idle but healthy connection open", "[relay]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.idle_timeout = 0.4;
    running_proxy proxy(opts);
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    // Reading lets the client answer pings; nothing else arrives for 1.2 s.
    auto m = c.read_for(std::chrono::milliseconds(1200));
    CHECK(m.ec == net::error::timed_out);
    CHECK(proxy.server->metrics().value("wsproxy_connections_closed_total",
                                        {{"reason", "idle_timeout"}}) == 0);
}

TEST_CASE("a client that sends half a request is dropped after the handshake timeout",
          "[relay]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.handshake_timeout = 0.3;
    running_proxy proxy(opts);
    net::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), proxy.port()));
    net::write(s, net::buffer(std::string("GET /ws/chat HTTP/1.1\r\nHost: x\r\n")));
    char byte;
    beast::error_code ec;
    bool done = false;
    s.async_read_some(net::buffer(&byte, 1), [&](beast::error_code e, std::size_t) {
        ec = e;
        done = true;
    });
    ioc.run_for(std::chrono::seconds(5));
    CHECK(done);
    CHECK(ec == net::error::eof);
    // The deadline closes the socket first and the read's handler counts it after, so the
    // client can see EOF a moment before the metric moves.
    CHECK(eventually([&] {
        return proxy.server->metrics().value("wsproxy_handshake_errors_total",
                                             {{"reason", "timeout"}}) == 1;
    }));
}

TEST_CASE("beyond --max-connections the upgrade is answered 503", "[relay]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.max_connections = 1;
    running_proxy proxy(opts);
    client first;
    REQUIRE_FALSE(first.connect(proxy.port()));
    client second;
    REQUIRE(second.connect(proxy.port()) == websocket::error::upgrade_declined);
    CHECK(second.response().result_int() == 503);
    CHECK(proxy.server->metrics().value("wsproxy_rejected_total", {{"reason", "max_connections"}}) ==
          1);
}

TEST_CASE("a drain fails readiness, refuses new connections and closes sessions with 1001",
          "[relay]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.drain_timeout = 0.3;
    auto proxy = std::make_unique<wsproxy::server>(opts);
    proxy->start();
    CHECK(http_request(proxy->admin_port(), http::verb::get, "/readyz").result_int() == 200);
    client c;
    REQUIRE_FALSE(c.connect(proxy->port()));
    proxy->begin_drain();
    REQUIRE(eventually([&] {
        return http_request(proxy->admin_port(), http::verb::get, "/readyz").result_int() == 503;
    }));
    client late;
    CHECK(late.connect(proxy->port()));  // refused: the listener is closed
    auto reason = c.read_until_closed();
    CHECK(reason.code == websocket::close_code::going_away);
    REQUIRE(eventually([&] { return up.close_codes().size() == 1; }));
    CHECK(up.close_codes()[0] == 1001);
    proxy->wait();
    CHECK(proxy->metrics().value("wsproxy_connections_closed_total", {{"reason", "drain"}}) == 1);
}

TEST_CASE("a client that stops reading is closed as too slow and its upstream gets 1001",
          "[relay][limits]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.write_timeout = 0.3;
    running_proxy proxy(opts);
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    // 40 MB towards a client that reads nothing: far more than the socket buffers hold.
    for (int i = 0; i < 10; ++i) REQUIRE_FALSE(c.send("big:4000000"));
    REQUIRE(eventually([&] { return up.close_codes().size() == 1; }, std::chrono::seconds(10)));
    CHECK(up.close_codes()[0] == 1001);
    CHECK(proxy.server->metrics().value("wsproxy_connections_closed_total",
                                        {{"reason", "slow_consumer"}}) == 1);
}

TEST_CASE("an upstream that stops reading is closed as too slow and the client gets 1013",
          "[relay][limits]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.write_timeout = 0.3;
    running_proxy proxy(opts);
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    REQUIRE_FALSE(c.send("stall"));
    // 12 MiB: more than the upstream's socket buffers take, less than all the buffers
    // on the way, so the client's own writes finish and it then only reads.
    std::string chunk(1u << 20, 's');
    beast::error_code ec;
    for (int i = 0; i < 12 && !ec; ++i) ec = c.send(chunk);
    auto reason = c.read_until_closed();
    REQUIRE(eventually([&] {
        return proxy.server->metrics().value("wsproxy_connections_closed_total",
                                             {{"reason", "slow_consumer"}}) == 1;
    }));
    // The close frame comes unless the client was still writing when the proxy hung up.
    INFO("send: " << ec.message() << ", read: " << c.last_error().message());
    if (!ec) CHECK(reason.code == websocket::close_code::try_again_later);
}
