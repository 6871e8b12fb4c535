// Who closes TCP first after a WebSocket closing handshake, through real sockets on
// 127.0.0.1. RFC 6455 7.1.1: the server does, so that the TIME_WAIT is its own. Towards
// the backend the proxy is the client: it waits for the backend's FIN (for a bounded
// time), or every proxied connection would leave one of its ephemeral ports in TIME_WAIT.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <boost/asio/write.hpp>
#include <fstream>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <utility>
#include <vector>

#include "proxy_fixture.hpp"
#include "raw_ws_peer.hpp"
#include "relay_client.hpp"
#include "test_upstream.hpp"

using namespace relay_test;

namespace {

// TCP connections in TIME_WAIT, as (local port, remote port), from /proc/net/tcp.
std::vector<std::pair<unsigned, unsigned>> time_waits() {
    std::vector<std::pair<unsigned, unsigned>> out;
    std::ifstream f("/proc/net/tcp");
    std::string line;
    std::getline(f, line);  // the column names
    auto port = [](const std::string& address) {
        return static_cast<unsigned>(std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
    };
    while (std::getline(f, line)) {
        std::istringstream in(line);
        std::string slot, local, remote, state;
        in >> slot >> local >> remote >> state;
        if (state == "06") out.emplace_back(port(local), port(remote));
    }
    return out;
}

// An upstream that completes the upgrade and answers the proxy's close frame, but never
// closes its TCP connection: it only records that the proxy did.
class lingering_upstream {
public:
    lingering_upstream() {
        thread_ = std::thread([this] { serve(); });
    }
    ~lingering_upstream() {
        // Unblocks a read that is still waiting (the test failed).
        ::shutdown(socket_.native_handle(), SHUT_RDWR);
        thread_.join();
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    bool saw_eof() const { return saw_eof_; }

private:
    void serve() {
        beast::error_code ec;
        acceptor_.accept(socket_, ec);
        if (ec) return;
        std::string in;
        char buf[4096];
        if (!raw_ws_peer::accept_upgrade(socket_, in)) return;
        // The proxy's close frame: masked, with a 2-byte code, 8 bytes in all.
        while (!ec && in.size() < 8) in.append(buf, socket_.read_some(net::buffer(buf), ec));
        if (ec || static_cast<unsigned char>(in[0]) != 0x88) return;
        net::write(socket_, net::buffer(std::string("\x88\x02\x03\xe8", 4)), ec);
        // Our close is out; the TCP connection stays open from this side.
        while (!ec) socket_.read_some(net::buffer(buf), ec);
        saw_eof_ = ec == net::error::eof;
    }

    net::io_context ioc_;
    tcp::acceptor acceptor_{ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
    tcp::socket socket_{ioc_};
    std::atomic<bool> saw_eof_{false};
    std::thread thread_;
};

}  // namespace

TEST_CASE("after a clean close the upstream closes TCP first and holds the TIME_WAIT",
          "[relay]") {
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    {
        client c;  // the client starts the closing handshake
        REQUIRE_FALSE(c.connect(proxy.port()));
        REQUIRE_FALSE(c.close());
    }
    {
        client c;  // the upstream starts it
        REQUIRE_FALSE(c.connect(proxy.port()));
        REQUIRE_FALSE(c.send("close:1000:bye"));
        CHECK(c.read_until_closed().code == websocket::close_code::normal);
    }
    REQUIRE(eventually([&] { return proxy.server->connections() == 0; }));
    // Both upstream sockets end in TIME_WAIT on the upstream's side; none on the proxy's.
    auto count = [&](bool upstream_side) {
        int n = 0;
        for (auto [local, remote] : time_waits())
            if ((upstream_side ? local : remote) == up.port()) ++n;
        return n;
    };
    CHECK(eventually([&] { return count(true) == 2; }));
    CHECK(count(false) == 0);
}

TEST_CASE("an upstream that never closes TCP after the closing handshake is closed by the proxy",
          "[relay]") {
    lingering_upstream up;
    running_proxy proxy(proxy_options_for(up.port()));
    client c;
    REQUIRE_FALSE(c.connect(proxy.port()));
    REQUIRE_FALSE(c.close());
    // The proxy waits a second for the upstream's FIN, then closes its side itself.
    CHECK(eventually([&] { return up.saw_eof(); }, std::chrono::seconds(10)));
    CHECK(eventually([&] { return proxy.server->connections() == 0; }));
}
