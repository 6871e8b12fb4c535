#pragma once
// A scriptable upstream for relay tests: a WebSocket echo server that also
// answers plain HTTP, records what it received, and misbehaves on command.
// Synchronous Beast, one thread per connection: simple, and tests are small.
//
//   upgrade on /decline...      -> 403 with a body (the proxy must pass it on)
//   upgrade offering "chat.v2"  -> selects "chat.v2"; adds "X-Upstream: yes"
//   text "close:CODE:REASON"    -> closes with that code and reason
//   text "drop"                 -> drops the TCP connection without a close
//   text "big:N"                -> sends a text message of N bytes
//   text "headers"              -> sends the upgrade request's headers as JSON
//   text "stall"                -> stops reading (until the server stops)
//   text "send:PAYLOAD"         -> sends PAYLOAD as a text message (a frame of the test's choosing)
//   text "stream:MS"            -> sends "tick" every 50 ms for MS ms without reading, then echoes again
//   any other message           -> echoed with its kind (text or binary)
//   plain HTTP                  -> 200 {"method","target","body","headers"}
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace test_upstream {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

class server {
public:
    explicit server(net::ssl::context* tls = nullptr) : tls_(tls), acceptor_(ioc_) {
        tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(ep.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        accept_thread_ = std::thread([this] { accept_loop(); });
    }

    ~server() { stop(); }

    void stop() {
        if (stopped_.exchange(true)) return;
        beast::error_code ec;
        {
            // A blocking accept() is not woken by close(): connect once to release it.
            tcp::socket poke(ioc_);
            poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
        }
        if (accept_thread_.joinable()) accept_thread_.join();
        acceptor_.close(ec);
        {
            std::lock_guard lock(mutex_);
            // shutdown() wakes the connection threads' blocking reads; each thread closes
            // its own socket as it ends. It goes through each connection's duplicate
            // descriptor, not the Asio socket, which its thread may be closing right now (a
            // data race TSan reports); the duplicate keeps the number from being reused.
            for (int fd : wake_fds_)
                if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
        }
        for (auto& t : threads_)
            if (t.joinable()) t.join();
        std::lock_guard lock(mutex_);
        for (int& fd : wake_fds_) release_wake_fd(fd);
    }

    unsigned short port() const { return port_; }

    // Headers of the most recent request (upgrade or plain), lower-case names.
    nlohmann::json last_headers() const {
        std::lock_guard lock(mutex_);
        return last_headers_;
    }
    int connections_closed() const { return closed_.load(); }
    // Close codes the upstream received from the proxy.
    std::vector<int> close_codes() const {
        std::lock_guard lock(mutex_);
        return close_codes_;
    }
    int accepted() const { return accepted_.load(); }

private:
    void accept_loop() {
        for (;;) {
            beast::error_code ec;
            auto sock = std::make_shared<tcp::socket>(ioc_);
            acceptor_.accept(*sock, ec);
            if (ec || stopped_) return;
            ++accepted_;
            std::lock_guard lock(mutex_);
            wake_fds_.push_back(::dup(sock->native_handle()));
            const std::size_t slot = wake_fds_.size() - 1;
            threads_.emplace_back([this, sock, slot] {
                if (tls_) {
                    beast::ssl_stream<tcp::socket&> stream(*sock, *tls_);
                    beast::error_code ec;
                    stream.handshake(net::ssl::stream_base::server, ec);
                    if (!ec) serve(stream, *sock);
                } else {
                    serve(*sock, *sock);
                }
                ++closed_;
                // Closed with the connection: a duplicate left open would hold the socket
                // (and its FIN) past this thread's own close.
                std::lock_guard lock(mutex_);
                release_wake_fd(wake_fds_[slot]);
            });
        }
    }

    static nlohmann::json headers_of(const http::request<http::string_body>& req) {
        nlohmann::json h = nlohmann::json::object();
        for (const auto& f : req) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (h.contains(name))
                h[name] = h[name].get<std::string>() + ", " + std::string(f.value());
            else
                h[name] = std::string(f.value());
        }
        return h;
    }

    template <class Stream>
    void serve(Stream& stream, tcp::socket& raw) {
        beast::flat_buffer buf;
        for (;;) {
            http::request<http::string_body> req;
            beast::error_code ec;
            http::read(stream, buf, req, ec);
            if (ec) return;
            auto headers = headers_of(req);
            headers[":target"] = std::string(req.target());
            {
                std::lock_guard lock(mutex_);
                last_headers_ = headers;
            }
            if (!websocket::is_upgrade(req)) {
                http::response<http::string_body> res{http::status::ok, req.version()};
                res.set(http::field::content_type, "application/json");
                res.body() = nlohmann::json{{"method", std::string(req.method_string())},
                                            {"target", std::string(req.target())},
                                            {"body", req.body()},
                                            {"headers", headers}}
                                 .dump();
                res.keep_alive(req.keep_alive());
                res.prepare_payload();
                http::write(stream, res, ec);
                if (ec || !req.keep_alive()) return;
                continue;
            }
            if (req.target().starts_with("/decline")) {
                http::response<http::string_body> res{http::status::forbidden, req.version()};
                res.set(http::field::content_type, "text/plain");
                res.body() = "forbidden by upstream";
                res.prepare_payload();
                http::write(stream, res, ec);
                return;
            }
            websocket::stream<Stream&> ws(stream);
            websocket::permessage_deflate pmd;
            pmd.server_enable = true;
            ws.set_option(pmd);
            std::string offered(req[http::field::sec_websocket_protocol]);
            ws.set_option(websocket::stream_base::decorator([offered](websocket::response_type& r) {
                r.set("X-Upstream", "yes");
                if (offered.find("chat.v2") != std::string::npos)
                    r.set(http::field::sec_websocket_protocol, "chat.v2");
            }));
            ws.accept(req, ec);
            if (ec) return;
            {
                std::lock_guard lock(mutex_);
                deflate_negotiated_ = req[http::field::sec_websocket_extensions].find(
                                          "permessage-deflate") != std::string::npos;
            }
            echo(ws, raw, headers);
            return;
        }
    }

    template <class WS>
    void echo(WS& ws, tcp::socket& raw, const nlohmann::json& headers) {
        beast::flat_buffer msg;
        for (;;) {
            beast::error_code ec;
            msg.clear();
            ws.read(msg, ec);
            if (ec == websocket::error::closed) {
                std::lock_guard lock(mutex_);
                close_codes_.push_back(ws.reason().code);
                return;
            }
            if (ec) {
                std::lock_guard lock(mutex_);
                close_codes_.push_back(-1);  // vanished without a close frame
                return;
            }
            std::string text = beast::buffers_to_string(msg.data());
            if (ws.got_text() && text.rfind("close:", 0) == 0) {
                auto second = text.find(':', 6);
                int code = std::stoi(text.substr(6, second - 6));
                std::string reason = second == std::string::npos ? "" : text.substr(second + 1);
                ws.close(websocket::close_reason(static_cast<websocket::close_code>(code), reason), ec);
                // Wait for the peer's close reply, as a real server would.
                while (!ec) ws.read(msg, ec);
                return;
            }
            if (ws.got_text() && text == "drop") {
                raw.close(ec);
                return;
            }
            if (ws.got_text() && text.rfind("big:", 0) == 0) {
                ws.text(true);
                ws.write(net::buffer(std::string(std::stoul(text.substr(4)), 'x')), ec);
                continue;
            }
            if (ws.got_text() && text == "stall") {
                while (!stopped_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
                return;
            }
            if (ws.got_text() && text.rfind("send:", 0) == 0) {
                ws.text(true);
                ws.write(net::buffer(text.substr(5)), ec);
                if (ec) return;
                continue;
            }
            if (ws.got_text() && text.rfind("stream:", 0) == 0) {
                auto until = std::chrono::steady_clock::now() +
                             std::chrono::milliseconds(std::stoul(text.substr(7)));
                ws.text(true);
                while (!ec && std::chrono::steady_clock::now() < until) {
                    ws.write(net::buffer(std::string("tick")), ec);
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                }
                if (ec) return;
                continue;
            }
            if (ws.got_text() && text == "headers") {
                ws.text(true);
                ws.write(net::buffer(headers.dump()), ec);
                continue;
            }
            ws.text(ws.got_text());
            ws.write(msg.data(), ec);
            if (ec) return;
        }
    }

    net::io_context ioc_;
    net::ssl::context* tls_;
    tcp::acceptor acceptor_;
    unsigned short port_{0};
    std::thread accept_thread_;
    std::vector<std::thread> threads_;
    // Per connection, a duplicate of its descriptor for stop() to shut it down with; -1 once
    // the connection's thread ended.
    std::vector<int> wake_fds_;
    static void release_wake_fd(int& fd) {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    mutable std::mutex mutex_;
    nlohmann::json last_headers_;
    std::vector<int> close_codes_;
    bool deflate_negotiated_{false};
    std::atomic<bool> stopped_{false};
    std::atomic<int> closed_{0};
    std::atomic<int> accepted_{0};
};

}  // namespace test_upstream
