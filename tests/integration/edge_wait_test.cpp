// proxy/net/edge_wait.hpp through a real loopback TCP connection: the wait completes for
// bytes, EOF and close, never loses bytes that came while nobody waited nor a FIN behind
// the bytes of a short read, and a wait left
// pending when its io_context goes away is destroyed without being called.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "proxy/net/edge_wait.hpp"

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using wsproxy::edge_wait;

// A connected pair: `served` on the io_context under test, `peer` a blocking socket of its own.
struct tcp_pair {
    net::io_context ioc{1};
    net::io_context peer_ioc;
    edge_wait waits{ioc};
    edge_wait::socket_type served{ioc};
    tcp::socket peer{peer_ioc};

    tcp_pair() {
        tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        peer.connect(acceptor.local_endpoint());
        acceptor.accept(served);
        served.non_blocking(true);
        // A fresh registration may say "readable" once with nothing there (the contract
        // allows it): take that first completion, so each test starts drained.
        wait();
        ioc.poll();
        ioc.restart();
        drain();
    }

    // What a wait reported: nothing yet, or its error code.
    std::shared_ptr<std::optional<boost::system::error_code>> wait() {
        auto result = std::make_shared<std::optional<boost::system::error_code>>();
        waits.async_readable(served, [result](boost::system::error_code ec) { *result = ec; });
        return result;
    }

    // Reads until the socket says EAGAIN (or EOF): the edge wait's contract.
    std::string drain() {
        std::string got;
        char buf[4096];
        for (;;) {
            boost::system::error_code ec;
            std::size_t n = served.read_some(net::buffer(buf), ec);
            got.append(buf, n);
            if (ec) return got;
        }
    }

    void send(const std::string& s) { net::write(peer, net::buffer(s)); }

    // Runs handlers until `done` is set, for at most a few seconds (a failing test must
    // end); returns whether it was set.
    bool run_until(const std::shared_ptr<std::optional<boost::system::error_code>>& done) {
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!*done && std::chrono::steady_clock::now() < until) {
            ioc.restart();  // a run that ran out of work leaves the io_context stopped
            ioc.run_one_for(std::chrono::milliseconds(100));
        }
        return done->has_value();
    }
};

}  // namespace

TEST_CASE("edge waits skip the re-arm on this platform (Asio 1.81, epoll)", "[edge_wait]") {
    // Falling back to async_wait would still be correct, but costs an epoll_ctl per read:
    // the bench's system-call table assumes this.
    CHECK(edge_wait::edge_triggered);
}

TEST_CASE("an edge wait completes when bytes arrive, and not while the socket is drained",
          "[edge_wait]") {
    tcp_pair p;
    auto idle = p.wait();
    p.ioc.poll();
    p.ioc.restart();
    CHECK_FALSE(*idle);  // nothing came: no completion

    p.send("hello");
    REQUIRE(p.run_until(idle));
    CHECK_FALSE(**idle);
    CHECK(p.drain() == "hello");

    // Once more: the second wait is queued without a re-arm and still sees the next edge.
    auto again = p.wait();
    p.ioc.poll();
    p.ioc.restart();
    CHECK_FALSE(*again);
    p.send("world");
    REQUIRE(p.run_until(again));
    CHECK(p.drain() == "world");
}

TEST_CASE("bytes that arrive while nobody waits complete the next wait", "[edge_wait]") {
    tcp_pair p;
    auto w = p.wait();
    p.send("a");
    REQUIRE(p.run_until(w));
    CHECK(p.drain() == "a");

    // The edge for "b" reaches the reactor while no wait is queued (the work guard keeps
    // poll() running the reactor): it must not be lost.
    auto guard = net::make_work_guard(p.ioc);
    p.send("b");
    for (int i = 0; i < 20; ++i) {
        p.ioc.poll();
        p.ioc.restart();
    }
    auto next = p.wait();
    REQUIRE(p.run_until(next));
    CHECK_FALSE(**next);
    CHECK(p.drain() == "b");
}

TEST_CASE("an edge wait completes at EOF and with operation_aborted on close", "[edge_wait]") {
    SECTION("EOF") {
        tcp_pair p;
        p.drain();
        auto w = p.wait();
        p.peer.shutdown(tcp::socket::shutdown_send);
        REQUIRE(p.run_until(w));
        CHECK_FALSE(**w);
        boost::system::error_code ec;
        char c;
        p.served.read_some(net::buffer(&c, 1), ec);
        CHECK(ec == net::error::eof);
    }
    SECTION("close") {
        tcp_pair p;
        p.drain();
        auto w = p.wait();
        p.ioc.poll();
        p.ioc.restart();
        REQUIRE_FALSE(*w);
        p.served.close();
        REQUIRE(p.run_until(w));
        CHECK(**w == net::error::operation_aborted);
    }
}

TEST_CASE("a FIN that came with the last bytes completes the wait after their short read",
          "[edge_wait]") {
    // Bytes and FIN reach the socket before the reactor looks: one edge for both. The read
    // returns the bytes, short, and only the next read would say EOF; no new edge comes.
    tcp_pair p;
    p.send("last words");
    p.peer.shutdown(tcp::socket::shutdown_send);
    auto w = p.wait();
    REQUIRE(p.run_until(w));
    char buf[4096];
    boost::system::error_code ec;
    std::size_t n = p.served.read_some(net::buffer(buf), ec);
    REQUIRE_FALSE(ec);
    CHECK(std::string(buf, n) == "last words");

    auto fin = p.wait();
    REQUIRE(p.run_until(fin));  // without EPOLLRDHUP this would wait for an edge forever
    p.served.read_some(net::buffer(buf), ec);
    CHECK(ec == net::error::eof);
}

TEST_CASE("a wait pending when its io_context is destroyed is freed, not called", "[edge_wait]") {
    auto owner = std::make_shared<int>(0);
    bool called = false;
    {
        tcp_pair p;
        p.drain();
        p.waits.async_readable(p.served, [owner, &called](boost::system::error_code) { called = true; });
        p.ioc.poll();
        CHECK(owner.use_count() == 2);
    }
    CHECK_FALSE(called);
    CHECK(owner.use_count() == 1);
}
