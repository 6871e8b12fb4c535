#pragma once
// A WebSocket client that writes whatever bytes the test gives it (hand-made frames after
// a real upgrade), and make_frame() to build them. For tests of hostile input and of
// peers that misbehave at the TCP level (never reading, tiny receive windows).
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <string>

#include "relay_client.hpp"

namespace relay_test {

// Every operation runs the io_context for a bounded time.
class raw_client {
public:
    struct frame {
        bool fin{true};
        int opcode{0};
        std::string payload;
    };

    // A receive window of a few KiB, set before connecting (so the kernel does not grow
    // it): what the proxy sends then piles up in the proxy, not in our socket.
    void small_receive_buffer() {
        sock_.open(tcp::v4());
        sock_.set_option(net::socket_base::receive_buffer_size(4096));
    }

    // Connects and sends `request` as is; returns the response head (empty on failure).
    std::string send_request(unsigned short port, const std::string& request) {
        beast::error_code ec = net::error::timed_out;
        sock_.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                            [&](beast::error_code e) { ec = e; });
        run();
        if (ec) return {};
        if (!write(request)) return {};
        return read_head();
    }

    // A real upgrade; true when the proxy answered 101.
    bool upgrade(unsigned short port, const std::string& target = "/ws/chat?tenant_id=t") {
        auto head = send_request(port, "GET " + target +
                                           " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
        if (head.rfind("HTTP/1.1 101", 0) != 0) return false;
        in_.erase(0, head.find("\r\n\r\n") + 4);  // frames may already follow the head
        return true;
    }

    bool write(const std::string& bytes) {
        beast::error_code ec = net::error::timed_out;
        net::async_write(sock_, net::buffer(bytes), [&](beast::error_code e, std::size_t) { ec = e; });
        run();
        return !ec;
    }

    // Reads until the end of an HTTP head (or EOF); returns what came (head and body so far).
    std::string read_head() {
        while (in_.find("\r\n\r\n") == std::string::npos)
            if (!fill()) break;
        return in_;
    }

    // Everything until the peer closes the TCP connection (bounded).
    std::string read_all() {
        while (fill()) {
        }
        return in_;
    }

    // The next frame from the proxy (server frames are unmasked), or nothing on EOF/timeout.
    std::optional<frame> read_frame() {
        for (;;) {
            if (auto f = parse()) return f;
            if (!fill()) return std::nullopt;
        }
    }

    // Reads frames until a close frame; its status code, or -1 when the TCP connection
    // ended (or timed out) without one.
    int read_close_code() {
        for (int i = 0; i < 10000; ++i) {
            auto f = read_frame();
            if (!f) return -1;
            if (f->opcode == 8)
                return f->payload.size() >= 2
                           ? (static_cast<unsigned char>(f->payload[0]) << 8) |
                                 static_cast<unsigned char>(f->payload[1])
                           : 1005;
        }
        return -1;
    }

    void close() {
        beast::error_code ignored;
        sock_.close(ignored);
    }

    // Whether the proxy ended the TCP connection after its close frame (bounded).
    bool eof_follows() {
        while (fill()) {
        }
        return eof_;
    }

private:
    bool fill() {
        char chunk[65536];
        beast::error_code ec = net::error::timed_out;
        std::size_t n = 0;
        bool done = false;
        sock_.async_read_some(net::buffer(chunk), [&](beast::error_code e, std::size_t k) {
            ec = e;
            n = k;
            done = true;
        });
        run();
        if (!done) {
            beast::error_code ignored;
            sock_.cancel(ignored);
            ioc_.restart();
            ioc_.run_for(std::chrono::seconds(1));
            return false;
        }
        in_.append(chunk, n);
        if (ec) eof_ = true;
        return !ec;
    }

    std::optional<frame> parse() {
        auto u = [&](std::size_t i) { return static_cast<unsigned char>(in_[i]); };
        if (in_.size() < 2) return std::nullopt;
        std::size_t len = u(1) & 0x7f, at = 2;
        if (len == 126) {
            if (in_.size() < 4) return std::nullopt;
            len = (u(2) << 8) | u(3);
            at = 4;
        } else if (len == 127) {
            if (in_.size() < 10) return std::nullopt;
            len = 0;
            for (int i = 0; i < 8; ++i) len = (len << 8) | u(2 + i);
            at = 10;
        }
        if (u(1) & 0x80) at += 4;  // a masked server frame is a bug, but parse it anyway
        if (in_.size() < at + len) return std::nullopt;
        frame f{(u(0) & 0x80) != 0, u(0) & 0x0f, in_.substr(at, len)};
        in_.erase(0, at + len);
        return f;
    }

    void run() {
        ioc_.restart();
        ioc_.run_for(std::chrono::seconds(5));
    }

    net::io_context ioc_;
    tcp::socket sock_{ioc_};
    std::string in_;
    bool eof_{false};
};

// One client frame: FIN and RSV bits in `first` with the opcode, masked unless told not.
inline std::string make_frame(int opcode, const std::string& payload, bool fin = true, int rsv = 0,
                       bool masked = true) {
    std::string out;
    out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | opcode));
    unsigned char mask_bit = masked ? 0x80 : 0;
    if (payload.size() < 126) {
        out.push_back(static_cast<char>(mask_bit | payload.size()));
    } else if (payload.size() < 65536) {
        out.push_back(static_cast<char>(mask_bit | 126));
        out.push_back(static_cast<char>(payload.size() >> 8));
        out.push_back(static_cast<char>(payload.size() & 0xff));
    } else {
        out.push_back(static_cast<char>(mask_bit | 127));
        for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(payload.size() >> (8 * i)));
    }
    const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked) out.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
        out.push_back(masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
    return out;
}

}  // namespace relay_test
