// Peers that read slowly or not at all, through real sockets on 127.0.0.1: what the proxy
// holds for them stays bounded, a peer that stops for good is cut, and one that is only
// slow, or only held back by the proxy itself, is not.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <chrono>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>
#include <vector>

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

namespace {

// A client on a bare socket that takes at most `chunk` bytes per `pause`, with a 4 KiB
// receive window, whatever the machine's speed: its rate can only be lower than that.
// Returns the bytes it read before the proxy closed the connection (bounded: 20 s).
std::size_t trickle_after(unsigned short port, const std::string& frame, std::size_t chunk,
                          std::chrono::milliseconds pause) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int window = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &window, sizeof window);
    timeval limit{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::size_t total = 0;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
        std::string req = "GET /ws/chat?tenant_id=t HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: "
                          "13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" + frame;
        ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
        std::vector<char> buf(chunk);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            auto n = ::recv(fd, buf.data(), buf.size(), 0);
            if (n <= 0) break;
            total += static_cast<std::size_t>(n);
            std::this_thread::sleep_for(pause);
        }
    }
    ::close(fd);
    return total;
}

}  // namespace

TEST_CASE("a client that takes less than --min-rate of what waits for it is closed as too slow",
          "[slow]") {
    test_upstream::server up;
    auto opts = proxy_options_for(up.port());
    opts.min_rate_bytes = 64 * 1024;  // per second
    opts.min_rate_seconds = 1;
    running_proxy proxy(std::move(opts));
    constexpr std::size_t big = 8'000'000;
    {
        // A reader that takes what comes as it comes gets all 8 MB, never cut.
        raw_client fast;
        REQUIRE(fast.upgrade(proxy.port()));
        REQUIRE(fast.write(make_frame(0x1, "big:" + std::to_string(big))));
        auto f = fast.read_frame();
        REQUIRE(f);
        CHECK(f->payload.size() == big);
    }
    CHECK(metric(proxy, "wsproxy_slow_peers_total", {{"cause", "below_min_rate"}}) == 0);
    // 1 KiB per 50 ms is at most 20 KiB/s: below 64 KiB/s, so the proxy ends it early.
    std::size_t got = trickle_after(proxy.port(), make_frame(0x1, "big:" + std::to_string(big)),
                                    1024, std::chrono::milliseconds(50));
    INFO("read " << got << " bytes before the close");
    CHECK(got < big);
    CHECK(metric(proxy, "wsproxy_slow_peers_total", {{"cause", "below_min_rate"}}) == 1);
    CHECK(metric(proxy, "wsproxy_slow_peers_total", {{"cause", "stalled"}}) == 0);
    CHECK(metric(proxy, "wsproxy_connections_closed_total", {{"reason", "slow_consumer"}}) == 1);
    // The upstream is told the client was too slow.
    REQUIRE(eventually([&] { return up.close_codes().size() == 2; }));
    CHECK(up.close_codes()[1] == 1001);
}
