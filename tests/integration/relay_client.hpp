#pragma once
// A WebSocket client for relay tests, plain or TLS, where every operation is
// bounded: it runs its own io_context for at most `timeout`, so a proxy that
// hangs fails the test instead of freezing the suite.
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/net/flex_stream.hpp"

namespace relay_test {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

struct client_options {
    std::string target{"/ws/chat?tenant_id=miptech-company"};
    std::string host{"127.0.0.1"};
    std::vector<std::pair<std::string, std::string>> headers;
    net::ssl::context* tls{nullptr};
    std::string sni;  // TLS server name to ask for and verify
    bool deflate{false};
    std::size_t max_message{64u << 20};
    std::chrono::milliseconds timeout{5000};
    int receive_buffer{0};  // SO_RCVBUF in bytes when not 0: a fixed, small window
};

struct message {
    beast::error_code ec;  // websocket::error::closed after a clean close
    bool text{true};
    std::string data;
};

class client {
public:
    // Connects and upgrades. On a refused upgrade the error is
    // websocket::error::upgrade_declined and response() has the status and body.
    beast::error_code connect(unsigned short port, const client_options& o = {}) {
        opts_ = o;
        wsproxy::flex_stream::tcp_type tcp(ioc_);
        if (o.receive_buffer) {
            tcp.socket().open(net::ip::tcp::v4());
            tcp.socket().set_option(net::socket_base::receive_buffer_size(o.receive_buffer));
        }
        beast::error_code result = net::error::timed_out;
        tcp.async_connect(tcp::endpoint(net::ip::make_address(o.host), port),
                          [&](beast::error_code ec) { result = ec; });
        run();
        if (result) return result;
        if (o.tls) {
            ws_.emplace(wsproxy::flex_stream(std::move(tcp), *o.tls));
            auto* tls = ws_->next_layer().tls();
            if (!o.sni.empty()) {
                SSL_set_tlsext_host_name(tls->native_handle(), o.sni.c_str());
                tls->set_verify_mode(net::ssl::verify_peer);
                tls->set_verify_callback(net::ssl::host_name_verification(o.sni));
            }
            result = net::error::timed_out;
            tls->async_handshake(net::ssl::stream_base::client,
                                 [&](beast::error_code ec) { result = ec; });
            run();
            if (result) return result;
        } else {
            ws_.emplace(wsproxy::flex_stream(std::move(tcp)));
        }
        if (o.deflate) {
            websocket::permessage_deflate pmd;
            pmd.client_enable = true;
            ws_->set_option(pmd);
        }
        ws_->read_message_max(o.max_message);
        // Mask whole messages in one buffer, so a large message goes out in one write.
        ws_->write_buffer_bytes(1u << 20);
        auto headers = o.headers;
        ws_->set_option(websocket::stream_base::decorator([headers](websocket::request_type& r) {
            for (auto& [k, v] : headers) r.insert(k, v);
        }));
        result = net::error::timed_out;
        ws_->async_handshake(response_, o.host + ":" + std::to_string(port), o.target,
                             [&](beast::error_code ec) { result = ec; });
        run();
        return result;
    }

    const websocket::response_type& response() const { return response_; }
    websocket::stream<wsproxy::flex_stream>& ws() { return *ws_; }

    beast::error_code send(const std::string& data, bool text = true) {
        ws_->text(text);
        beast::error_code result = net::error::timed_out;
        ws_->async_write(net::buffer(data), [&](beast::error_code ec, std::size_t) { result = ec; });
        run();
        return result;
    }

    // Sends one message as several frames.
    beast::error_code send_fragmented(const std::vector<std::string>& parts, bool text = true) {
        ws_->text(text);
        beast::error_code result;
        for (std::size_t i = 0; i < parts.size() && !result; ++i) {
            result = net::error::timed_out;
            ws_->async_write_some(i + 1 == parts.size(), net::buffer(parts[i]),
                                  [&](beast::error_code ec, std::size_t) { result = ec; });
            run();
        }
        return result;
    }

    message read() { return read_for(opts_.timeout); }

    message read_for(std::chrono::milliseconds limit) {
        message m;
        m.ec = net::error::timed_out;
        beast::flat_buffer buf;
        bool done = false;
        ws_->async_read(buf, [&](beast::error_code ec, std::size_t) {
            m.ec = ec;
            done = true;
        });
        run(limit);
        if (!done) {
            // Abandon the read: close the socket so the handler runs before `buf` dies.
            ws_->next_layer().close();
            ioc_.restart();
            ioc_.run_for(std::chrono::seconds(1));
            m.ec = net::error::timed_out;
            return m;
        }
        m.text = ws_->got_text();
        m.data = beast::buffers_to_string(buf.data());
        return m;
    }

    // Reads at most `max` bytes of the current message; 0 on error or timeout.
    std::size_t read_some(std::size_t max) {
        std::string buf(max, '\0');
        std::size_t got = 0;
        bool done = false;
        ws_->async_read_some(net::buffer(buf), [&](beast::error_code ec, std::size_t n) {
            if (!ec) got = n;
            done = true;
        });
        run();
        if (!done) {
            // Abandon the read: close the socket so the handler runs before `buf` dies.
            ws_->next_layer().close();
            ioc_.restart();
            ioc_.run_for(std::chrono::seconds(1));
        }
        return got;
    }

    // Reads until the peer closes; returns the close frame's reason (code 0 if none came).
    websocket::close_reason read_until_closed() {
        for (int i = 0; i < 1000; ++i) {
            auto m = read();
            if (m.ec == websocket::error::closed) return ws_->reason();
            if (m.ec) {
                // A close frame may have come before the error (replying to it can fail
                // with a broken pipe once the peer has hung up): its reason is kept.
                last_error_ = m.ec;
                return ws_->reason();
            }
        }
        return {};
    }

    beast::error_code close(websocket::close_reason reason = websocket::close_code::normal) {
        beast::error_code result = net::error::timed_out;
        ws_->async_close(reason, [&](beast::error_code ec) { result = ec; });
        run();
        return result;
    }

    // The error that ended read_until_closed() without a close frame.
    beast::error_code last_error() const { return last_error_; }

    // Drops the TCP connection without a closing handshake.
    void vanish() { ws_->next_layer().close(); }

private:
    void run(std::optional<std::chrono::milliseconds> limit = std::nullopt) {
        ioc_.restart();
        ioc_.run_for(limit.value_or(opts_.timeout));
    }

    net::io_context ioc_;
    client_options opts_;
    std::optional<websocket::stream<wsproxy::flex_stream>> ws_;
    websocket::response_type response_;
    beast::error_code last_error_;
};

// One plain HTTP request with a bounded wait; returns the response (status 0 on failure).
inline http::response<http::string_body> http_request(
    unsigned short port, http::verb method, const std::string& target, const std::string& body = {},
    std::vector<std::pair<std::string, std::string>> headers = {},
    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::response<http::string_body> res;
    res.result(0);
    beast::flat_buffer buf;
    stream.expires_after(timeout);
    stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                         [&](beast::error_code ec) {
                             if (ec) return;
                             http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
                                 if (ec) return;
                                 http::async_read(stream, buf, res,
                                                  [&](beast::error_code, std::size_t) {});
                             });
                         });
    ioc.run_for(timeout + std::chrono::milliseconds(500));
    return res;
}

}  // namespace relay_test
