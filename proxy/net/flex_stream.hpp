#pragma once
// One stream type for both plain TCP and TLS, so that the connection pair,
// the HTTP session and the reverse proxy are written (and compiled) once
// instead of once per combination of client and upstream transport.
// Owned by the session that holds it; used only on that session's thread.
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <memory>
#include <optional>
#include <utility>

namespace wsproxy {

class flex_stream {
public:
    // A session never leaves its worker's io_context, so the executor is that context's
    // own, not the type-erased any_io_executor of beast::tcp_stream: copying and
    // "preferring" a type-erased executor in every operation was 8 % of the relay's CPU.
    using executor_type = boost::asio::io_context::executor_type;
    using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp, executor_type>;
    using tcp_type = boost::beast::basic_stream<boost::asio::ip::tcp, executor_type>;
    using tls_stream = boost::beast::ssl_stream<tcp_type>;

    explicit flex_stream(tcp_type&& tcp) : tcp_(std::move(tcp)) {}
    flex_stream(tcp_type&& tcp, boost::asio::ssl::context& ctx)
        : tls_(std::make_unique<tls_stream>(std::move(tcp), ctx)) {}

    flex_stream(flex_stream&&) = default;

    executor_type get_executor() { return tcp().get_executor(); }

    tcp_type& tcp() { return tls_ ? tls_->next_layer() : *tcp_; }
    tls_stream* tls() { return tls_.get(); }
    bool is_tls() const { return tls_ != nullptr; }

    template <class MutableBuffers, class Handler>
    void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
        if (tls_)
            tls_->async_read_some(buffers, std::forward<Handler>(handler));
        else
            tcp_->async_read_some(buffers, std::forward<Handler>(handler));
    }

    template <class ConstBuffers, class Handler>
    void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
        if (tls_)
            tls_->async_write_some(buffers, std::forward<Handler>(handler));
        else
            tcp_->async_write_some(buffers, std::forward<Handler>(handler));
    }

    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers, boost::beast::error_code& ec) {
        return tls_ ? tls_->read_some(buffers, ec) : tcp_->socket().read_some(buffers, ec);
    }

    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& buffers, boost::beast::error_code& ec) {
        return tls_ ? tls_->write_some(buffers, ec) : tcp_->socket().write_some(buffers, ec);
    }

    // Closes the socket at once: pending operations complete with operation_aborted.
    void close() {
        boost::beast::error_code ec;
        tcp().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
        tcp().socket().close(ec);
    }

    // WebSocket teardown, found by Beast through argument-dependent lookup: the test
    // clients and the admin tooling run Beast's websocket::stream over this type.
    template <class Handler>
    friend void async_teardown(boost::beast::role_type role, flex_stream& s, Handler&& handler) {
        using boost::beast::websocket::async_teardown;
        if (s.tls_)
            async_teardown(role, *s.tls_, std::forward<Handler>(handler));
        else
            async_teardown(role, *s.tcp_, std::forward<Handler>(handler));
    }
    friend void teardown(boost::beast::role_type role, flex_stream& s,
                         boost::beast::error_code& ec) {
        using boost::beast::websocket::teardown;
        if (s.tls_)
            teardown(role, *s.tls_, ec);
        else
            teardown(role, s.tcp_->socket(), ec);
    }
    friend void beast_close_socket(flex_stream& s) { s.close(); }

private:
    std::optional<tcp_type> tcp_;
    std::unique_ptr<tls_stream> tls_;
};

}  // namespace wsproxy
