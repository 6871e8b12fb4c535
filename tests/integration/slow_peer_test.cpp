// Peers that read slowly or not at all, through real sockets on 127.0.0.1: what the proxy
// holds for them stays bounded, a peer that stops for good is cut, and one that is only
// slow, or only held back by the proxy itself, is not.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "proxy_fixture.hpp"
#include "raw_client.hpp"
#include "relay_client.hpp"
#include "test_certs.hpp"
#include "test_upstream.hpp"

using namespace relay_test;

TEST_CASE("a client that pings and never reads gets one pong for the pings made meanwhile",
          "[slow]") {
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    raw_client r;
    r.small_receive_buffer();
    REQUIRE(r.upgrade(proxy.port()));
    // 100 000 pings of 125 bytes: 12.7 MB of pongs, three times what the socket buffers
    // between the proxy and a 4 KiB receive window hold. Answered one by one they would
    // all wait in the proxy's memory.
    constexpr int pings = 100000;
    auto payload = [](int i) {
        std::string p = std::to_string(i);  // (GCC 12 warns falsely on "p" + ... + ".")
        p.resize(125, '.');
        return p;
    };
    std::string bytes;
    for (int i = 0; i < pings; ++i) bytes += make_frame(0x9, payload(i));
    REQUIRE(r.write(bytes));
    // Now read: the pongs that fitted in the buffers, then one for the latest ping.
    int pongs = 0;
    std::string last;
    while (last != payload(pings - 1)) {
        auto f = r.read_frame();
        REQUIRE(f);
        REQUIRE(f->opcode == 0xa);
        ++pongs;
        last = f->payload;
    }
    INFO("pongs: " << pongs);
    CHECK(pongs < pings);
    // The connection still relays.
    REQUIRE(r.write(make_frame(0x1, "after the pings")));
    auto echoed = r.read_frame();
    REQUIRE(echoed);
    CHECK(echoed->payload == "after the pings");
}

TEST_CASE("a client that sends its close and never reads what was queued before it is cut "
          "after --write-timeout",
          "[slow]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.write_timeout = 2;
    running_proxy proxy(opts);
    raw_client r;
    r.small_receive_buffer();
    REQUIRE(r.upgrade(proxy.port()));
    // 8 MB towards a client that reads nothing: the proxy holds most of it.
    REQUIRE(r.write(make_frame(0x1, "big:8000000")));
    REQUIRE(eventually([&] {
        return metric(proxy, "wsproxy_bytes_total", {{"direction", "server_to_client"}}) >=
               8000000;
    }, std::chrono::seconds(20)));
    std::string close_payload = {'\x03', '\xe8'};  // 1000
    REQUIRE(r.write(make_frame(0x8, close_payload)));
    // The close goes upstream at once: the client ended the connection, not the stall.
    REQUIRE(eventually([&] { return up.close_codes().size() == 1; }));
    CHECK(up.close_codes()[0] == 1000);
    CHECK(metric(proxy, "wsproxy_connections_closed_total", {{"reason", "client_close"}}) == 1);
    // Its leg still holds megabytes the client never takes: cut once the write has
    // stalled for --write-timeout, not held for ever.
    CHECK(eventually([&] { return proxy.server->connections() == 0; }, std::chrono::seconds(10)));
}

TEST_CASE("a client held back while the upstream reads nothing is not closed as idle",
          "[slow]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.idle_timeout = 1;
    running_proxy proxy(opts);
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    // For 3 s the upstream streams ticks and reads nothing. 12 MiB from the client fill the
    // buffers towards it, and the proxy stops reading the client (back-pressure) for far
    // longer than the idle timeout: the client is waiting for us, it is not idle.
    REQUIRE_FALSE(c.send("stream:3000"));
    std::string chunk(1u << 20, 'c');
    for (int i = 0; i < 12; ++i) REQUIRE_FALSE(c.send(chunk));
    int echoes = 0;
    while (echoes < 12) {
        auto m = c.read();
        REQUIRE_FALSE(m.ec);
        if (m.data == "tick") continue;
        CHECK(m.data == chunk);
        ++echoes;
    }
    CHECK(metric(proxy, "wsproxy_connections_closed_total", {{"reason", "idle_timeout"}}) == 0);
}

TEST_CASE("a TLS client that reads a large message slowly but steadily is not cut as too slow",
          "[slow][tls]") {
    auto certs = test_certs::make();
    test_upstream::server up;
    net::ssl::context client_ctx(net::ssl::context::tls_client);
    client_ctx.load_verify_file(certs.ca_cert);
    client_options o;
    o.tls = &client_ctx;
    o.sni = "localhost";
    o.receive_buffer = 64 * 1024;
    auto opts = proxy_options_for(up.port());
    opts.tls_cert = certs.server_cert;
    opts.tls_key = certs.server_key;
    opts.write_timeout = 1;
    running_proxy proxy(opts);
    client c;
    REQUIRE_FALSE(c.connect(proxy.port(), o));
    // 12 MB read at about 4 MB/s (a TLS record per read, a pause every 8 reads): the
    // message takes seconds to go out, far more than --write-timeout, but every moment
    // some of it moves.
    constexpr std::size_t size = 12000000;
    REQUIRE_FALSE(c.send("big:" + std::to_string(size)));
    std::size_t got = 0;
    for (int reads = 1; got < size; ++reads) {
        std::size_t n = c.read_some(256 * 1024);
        if (n == 0) break;
        got += n;
        if (reads % 8 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(32));
    }
    CHECK(got == size);
    CHECK(metric(proxy, "wsproxy_connections_closed_total", {{"reason", "slow_consumer"}}) == 0);
}
