#include "proxy/net/upstream_connect.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>

namespace wsproxy {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

namespace {

class connect_op : public std::enable_shared_from_this<connect_op> {
public:
    connect_op(net::io_context& ioc, const proxy_options& opts, ssl::context* tls, upstream_handler done)
        : opts_(opts), tls_(tls), done_(std::move(done)), resolver_(ioc), tcp_(ioc) {}

    void start() {
        const auto& up = opts_.upstream;
        beast::error_code ec;
        auto address = net::ip::make_address(up.host, ec);
        if (!ec) {
            connect(tcp::endpoint(address, up.port));
            return;
        }
        resolver_.async_resolve(
            up.host, std::to_string(up.port),
            [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type r) {
                self->on_resolve(ec, std::move(r));
            });
    }

private:
    void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
        if (ec) return fail(ec, "resolve");
        tcp_.expires_after(timeout());
        tcp_.async_connect(results, [self = shared_from_this()](beast::error_code ec,
                                                               const tcp::endpoint&) {
            self->on_connect(ec);
        });
    }

    void connect(const tcp::endpoint& endpoint) {
        tcp_.expires_after(timeout());
        tcp_.async_connect(endpoint, [self = shared_from_this()](beast::error_code ec) {
            self->on_connect(ec);
        });
    }

    void on_connect(beast::error_code ec) {
        if (ec) return fail(ec, "connect");
        tcp_.socket().set_option(tcp::no_delay(true), ec);
        if (!opts_.upstream.tls) {
            tcp_.expires_never();
            return done_({}, {}, flex_stream(std::move(tcp_)));
        }
        stream_.emplace(std::move(tcp_), *tls_);
        auto* tls = stream_->tls();
        const auto& host = opts_.upstream.host;
        if (!SSL_set_tlsext_host_name(tls->native_handle(), host.c_str())) {
            return fail(beast::error_code(static_cast<int>(::ERR_get_error()),
                                          net::error::get_ssl_category()),
                        "tls");
        }
        tls->set_verify_callback(ssl::host_name_verification(host));
        tls->async_handshake(ssl::stream_base::client,
                             [self = shared_from_this()](beast::error_code ec) {
                                 self->on_tls(ec);
                             });
    }

    void on_tls(beast::error_code ec) {
        if (ec) return fail(ec, "tls");
        stream_->tcp().expires_never();
        done_({}, {}, std::move(stream_));
    }

    void fail(beast::error_code ec, std::string_view stage) { done_(ec, stage, std::nullopt); }

    std::chrono::steady_clock::duration timeout() const {
        return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(opts_.handshake_timeout));
    }

    const proxy_options& opts_;
    ssl::context* tls_;
    upstream_handler done_;
    tcp::resolver resolver_;
    flex_stream::tcp_type tcp_;
    std::optional<flex_stream> stream_;
};

}  // namespace

void async_connect_upstream(net::io_context& ioc, const proxy_options& opts, ssl::context* tls,
                            upstream_handler done) {
    std::make_shared<connect_op>(ioc, opts, tls, std::move(done))->start();
}

}  // namespace wsproxy
