// RFC 6455 strictness where Autobahn's fuzzing client found wsproxy only "non-strict"
// (issue 17 item 1), through real sockets with hand-made frames:
// - what arrived before a protocol error is relayed, in order, before the close, both ways
//   (Autobahn 3.2, 3.3, 4.1.3-4.2.4, 5.15);
// - invalid UTF-8 gets 1007 as soon as the bytes that cannot become valid arrive, without
//   the rest of the message (6.4.1-6.4.4);
// - after a client's close, the backend's data keeps reaching the client until the
//   backend's close, then the handshake completes (7.1.6).
#include <catch2/catch.hpp>

#include <atomic>
#include <boost/asio/write.hpp>
#include <mutex>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>

#include "proxy_fixture.hpp"
#include "raw_ws_peer.hpp"
#include "raw_client.hpp"
#include "test_upstream.hpp"

using namespace relay_test;

namespace {

// What came before the close frame, and the close's code (-1: none came).
struct until_close {
    std::vector<raw_client::frame> frames;
    int code{-1};
};

until_close read_until_close(raw_client& r) {
    until_close out;
    for (int i = 0; i < 1000; ++i) {
        auto f = r.read_frame();
        if (!f) return out;
        if (f->opcode == 8) {
            out.code = f->payload.size() >= 2 ? (static_cast<unsigned char>(f->payload[0]) << 8) |
                                                    static_cast<unsigned char>(f->payload[1])
                                              : 1005;
            return out;
        }
        out.frames.push_back(*f);
    }
    return out;
}

std::string close_frame(unsigned code) {
    std::string body;
    body.push_back(static_cast<char>(code >> 8));
    body.push_back(static_cast<char>(code & 0xff));
    return make_frame(0x8, body);
}

// An upstream that completes the upgrade, writes `burst` as it is (frames of the test's
// making, valid or not), then records the proxy's frames (unmasked) until a close frame,
// answers the close with a 1000 once `answer` allows, and closes.
class raw_upstream {
public:
    explicit raw_upstream(std::string burst) : burst_(std::move(burst)) {
        thread_ = std::thread([this] { serve(); });
    }
    ~raw_upstream() {
        ::shutdown(socket_.native_handle(), SHUT_RDWR);
        thread_.join();
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    // Opcode and payload of each frame the proxy sent, the close included.
    std::vector<std::pair<int, std::string>> received() const {
        std::lock_guard lock(mutex_);
        return received_;
    }

private:
    void serve() {
        namespace net = boost::asio;
        boost::system::error_code ec;
        acceptor_.accept(socket_, ec);
        if (ec) return;
        std::string in;
        char buf[4096];
        if (!raw_ws_peer::accept_upgrade(socket_, in, burst_)) return;
        for (;;) {
            // One masked frame from the proxy (payloads here are under 126 bytes).
            while (!ec && (in.size() < 6 || in.size() < 6 + static_cast<std::size_t>(in[1] & 0x7f)))
                in.append(buf, socket_.read_some(net::buffer(buf), ec));
            if (ec) return;
            int op = in[0] & 0x0f;
            std::size_t len = in[1] & 0x7f;
            std::string payload = in.substr(6, len);
            for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ in[2 + i % 4]);
            in.erase(0, 6 + len);
            {
                std::lock_guard lock(mutex_);
                received_.emplace_back(op, payload);
            }
            if (op == 8) break;
        }
        net::write(socket_, net::buffer(std::string("\x88\x02\x03\xe8", 4)), ec);
        socket_.shutdown(net::socket_base::shutdown_send, ec);
        while (!ec) socket_.read_some(net::buffer(buf), ec);
    }

    std::string burst_;
    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::acceptor acceptor_{
        ioc_, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)};
    boost::asio::ip::tcp::socket socket_{ioc_};
    mutable std::mutex mutex_;
    std::vector<std::pair<int, std::string>> received_;
    std::thread thread_;
};

// A server's (unmasked) frame.
std::string server_frame(int first_byte, const std::string& payload) {
    std::string f;
    f.push_back(static_cast<char>(first_byte));
    f.push_back(static_cast<char>(payload.size()));
    return f + payload;
}

}  // namespace

TEST_CASE("a valid message before a client's protocol error is relayed and its echo arrives "
          "before the 1002",
          "[conformance]") {
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    struct bad {
        const char* what;
        std::string frame;
    };
    const std::vector<bad> cases = {
        {"reserved bits (3.2)", make_frame(0x1, "bad", true, 2)},
        {"reserved opcode 3 (4.1.1)", make_frame(0x3, "")},
        {"reserved control opcode 11 (4.2.3)", make_frame(0xb, "bad")},
        {"a continuation without a start (5.15)", make_frame(0x0, "bad")},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        raw_client r;
        REQUIRE(r.upgrade(proxy.port()));
        // Both in one write, as Autobahn sends them: the proxy reads them together.
        REQUIRE(r.write(make_frame(0x1, "Hello, world!") + c.frame));
        auto got = read_until_close(r);
        REQUIRE(got.frames.size() == 1);
        CHECK(got.frames[0].opcode == 0x1);
        CHECK(got.frames[0].payload == "Hello, world!");
        CHECK(got.code == 1002);
        CHECK(r.eof_follows());
    }
    // The upstream was told each time: 1001, after the message.
    REQUIRE(eventually([&] { return up.close_codes().size() == cases.size(); }));
    for (int code : up.close_codes()) CHECK(code == 1001);
}

TEST_CASE("a valid message before an upstream's protocol error reaches the client, and the "
          "client's answer reaches the upstream before the 1002",
          "[conformance]") {
    raw_upstream up(server_frame(0x81, "from upstream") + server_frame(0x83, "bad"));
    running_proxy proxy(proxy_options_for(up.port()));
    raw_client r;
    REQUIRE(r.upgrade(proxy.port()));
    auto got = read_until_close(r);
    REQUIRE(got.frames.size() == 1);
    CHECK(got.frames[0].payload == "from upstream");
    CHECK(got.code == 1011);  // "upstream error"
    // The client answers the message, then the close, as an echo endpoint does.
    REQUIRE(r.write(make_frame(0x1, "answer") + close_frame(1011)));
    REQUIRE(eventually([&] {
        auto seen = up.received();
        return !seen.empty() && seen.back().first == 8;
    }));
    auto seen = up.received();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == std::pair<int, std::string>(0x1, "answer"));
    CHECK(seen[1].first == 8);
    REQUIRE(seen[1].second.size() >= 2);
    CHECK(((static_cast<unsigned char>(seen[1].second[0]) << 8) |
           static_cast<unsigned char>(seen[1].second[1])) == 1002);
}

TEST_CASE("invalid UTF-8 in a middle fragment gets 1007 without the final fragment",
          "[conformance]") {
    // Autobahn 6.4.1: κόσμε, then a fragment with U+110000's bytes; the final one is never sent.
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    raw_client r;
    REQUIRE(r.upgrade(proxy.port()));
    REQUIRE(r.write(make_frame(0x1, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", false)));
    REQUIRE(r.write(make_frame(0x0, "\xf4\x90\x80\x80", false)));
    auto got = read_until_close(r);
    CHECK(got.frames.empty());
    CHECK(got.code == 1007);
}

TEST_CASE("invalid UTF-8 gets 1007 while its frame is still incomplete", "[conformance]") {
    // Autobahn 6.4.3: one frame sent in chops; the chop with the invalid bytes decides,
    // the rest of the frame never comes.
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    raw_client r;
    REQUIRE(r.upgrade(proxy.port()));
    std::string valid = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
    std::string wire = make_frame(0x1, valid + "\xf4\x90\x80\x80" + "edited");
    std::size_t head = 6;  // 2 + the mask key
    REQUIRE(r.write(wire.substr(0, head + valid.size())));
    REQUIRE(r.write(wire.substr(head + valid.size(), 4)));
    auto got = read_until_close(r);
    CHECK(got.frames.empty());
    CHECK(got.code == 1007);
}

TEST_CASE("after a client's close the upstream's answers still reach it, then the handshake "
          "completes",
          "[conformance]") {
    // Autobahn 7.1.6: messages, then the close at once. The upstream streams ticks for a
    // while without reading, then answers the next message and only then reads the close.
    test_upstream::server up;
    running_proxy proxy(proxy_options_for(up.port()));
    raw_client r;
    REQUIRE(r.upgrade(proxy.port()));
    REQUIRE(r.write(make_frame(0x1, "stream:200") + make_frame(0x1, "send:last answer") +
                    close_frame(1000)));
    auto got = read_until_close(r);
    REQUIRE_FALSE(got.frames.empty());
    CHECK(got.frames.front().payload == "tick");
    CHECK(got.frames.back().payload == "last answer");
    CHECK(got.code == 1000);
    CHECK(r.eof_follows());
    REQUIRE(eventually([&] { return up.close_codes().size() == 1; }));
    CHECK(up.close_codes()[0] == 1000);
}
