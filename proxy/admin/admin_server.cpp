#include "proxy/admin/admin_server.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "proxy/log.hpp"

namespace wsproxy::admin {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

class admin_session : public std::enable_shared_from_this<admin_session> {
public:
    admin_session(tcp::socket s, const admin_hooks& hooks) : stream_(std::move(s)), hooks_(hooks) {}

    void start() { do_read(); }

private:
    void do_read() {
        req_ = {};
        stream_.expires_after(std::chrono::seconds(30));
        http::async_read(stream_, buf_, req_,
                         [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             if (ec) return self->close();
                             self->handle();
                         });
    }

    void handle() {
        std::string_view target = req_.target();
        std::string_view path = target.substr(0, target.find('?'));
        if (req_.method() != http::verb::get && req_.method() != http::verb::head)
            return reply(http::status::method_not_allowed, "only GET is served here\n");
        if (path == "/healthz") return reply(http::status::ok, "ok\n");
        if (path == "/readyz") {
            return hooks_.ready() ? reply(http::status::ok, "ready\n")
                                  : reply(http::status::service_unavailable, "draining\n");
        }
        if (path == "/metrics")
            return reply(http::status::ok, hooks_.metrics(), "text/plain; version=0.0.4");
        reply(http::status::not_found,
              "not found; try /healthz, /readyz or /metrics\n");
    }

    void reply(http::status status, std::string body, const char* type = "text/plain") {
        res_ = {};
        res_.result(status);
        res_.version(req_.version());
        res_.set(http::field::content_type, type);
        res_.set(http::field::cache_control, "no-store");
        res_.keep_alive(req_.keep_alive());
        res_.body() = std::move(body);
        res_.prepare_payload();
        http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec || !self->res_.keep_alive()) return self->close();
            self->do_read();
        });
    }

    void close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream_.socket().close(ec);
    }

    beast::tcp_stream stream_;
    const admin_hooks& hooks_;
    beast::flat_buffer buf_;
    http::request<http::string_body> req_;
    http::response<http::string_body> res_;
};

}  // namespace

struct admin_server::impl : std::enable_shared_from_this<impl> {
    impl(net::io_context& ioc, admin_hooks h) : ioc(ioc), acceptor(ioc), hooks(std::move(h)) {}

    void accept() {
        acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
            if (!self->acceptor.is_open()) return;
            if (!ec) std::make_shared<admin_session>(std::move(s), self->hooks)->start();
            self->accept();
        });
    }

    net::io_context& ioc;
    tcp::acceptor acceptor;
    admin_hooks hooks;
};

admin_server::admin_server(net::io_context& ioc, const host_port& where, admin_hooks hooks)
    : impl_(std::make_shared<impl>(ioc, std::move(hooks))) {
    beast::error_code ec;
    auto address = net::ip::make_address(where.host, ec);
    if (ec) throw startup_error("--admin: \"" + where.host + "\" is not an IP address");
    tcp::endpoint endpoint(address, where.port);
    auto& a = impl_->acceptor;
    a.open(endpoint.protocol(), ec);
    if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(endpoint, ec);
    if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        throw startup_error("--admin: cannot listen on " + where.host + ":" +
                            std::to_string(where.port) + ": " + ec.message() +
                            " (is another process using it?)");
}

admin_server::~admin_server() = default;

void admin_server::start() { impl_->accept(); }

void admin_server::stop() {
    net::post(impl_->ioc, [i = impl_] {
        beast::error_code ec;
        i->acceptor.close(ec);
    });
}

unsigned short admin_server::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace wsproxy::admin
