// bench-echo: the smallest Beast WebSocket echo server, the "echo" backend of the side-by-side
// runs (the baseline table was measured against one like it). Every text or binary
// message comes back unchanged, on the same connection, one write at a time; any HTTP path
// is upgraded. One io_context per thread (--threads), connections handed out round-robin, so a
// connection lives on one thread and needs no strand.
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

// --deflate: set once in main before any thread starts, read by every session.
bool offer_deflate = false;

class session : public std::enable_shared_from_this<session> {
public:
    explicit session(tcp::socket s) : ws_(std::move(s)) {}

    void start() {
        beast::error_code ec;
        ws_.next_layer().set_option(tcp::no_delay(true), ec);
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.read_message_max(64 << 20);
        if (offer_deflate) {
            websocket::permessage_deflate pmd;
            pmd.server_enable = true;
            ws_.set_option(pmd);
        }
        ws_.async_accept([self = shared_from_this()](beast::error_code e) {
            if (!e) self->do_read();
        });
    }

private:
    void do_read() {
        ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            self->on_read(ec);
        });
    }
    void on_read(beast::error_code ec) {
        if (ec) return;  // closed, reset or timed out: the session ends with its last handler
        ws_.text(ws_.got_text());
        ws_.async_write(buf_.data(), [self = shared_from_this()](beast::error_code e, std::size_t) {
            if (e) return;
            self->buf_.consume(self->buf_.size());
            self->do_read();
        });
    }

    websocket::stream<tcp::socket> ws_;
    beast::flat_buffer buf_;
};

struct pool {
    explicit pool(unsigned n) {
        for (unsigned i = 0; i < n; ++i) contexts.push_back(std::make_unique<net::io_context>(1));
    }
    net::io_context& next() { return *contexts[next_index++ % contexts.size()]; }
    std::vector<std::unique_ptr<net::io_context>> contexts;
    std::size_t next_index{0};
};

class listener {
public:
    listener(net::io_context& ioc, pool& p, tcp::endpoint ep) : acceptor_(ioc), pool_(p) {
        acceptor_.open(ep.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen(net::socket_base::max_listen_connections);
    }
    void do_accept() {
        acceptor_.async_accept(pool_.next(), [this](beast::error_code ec, tcp::socket s) {
            if (!ec) std::make_shared<session>(std::move(s))->start();
            if (ec == net::error::operation_aborted) return;
            do_accept();
        });
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }

private:
    tcp::acceptor acceptor_;
    pool& pool_;
};

}  // namespace

int main(int argc, char** argv) {
    std::string listen = "127.0.0.1:9000";
    unsigned threads = 1;
    CLI::App app{"bench-echo: WebSocket echo server for wsproxy-bench"};
    app.add_option("--listen", listen, "HOST:PORT (port 0: any; the port is printed)")
        ->capture_default_str();
    app.add_option("--threads", threads, "I/O threads, one io_context each (0: one per core)")
        ->capture_default_str();
    app.add_flag("--deflate", offer_deflate, "Accept permessage-deflate when a client offers it");
    CLI11_PARSE(app, argc, argv);
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());

    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
        std::fprintf(stderr, "bench-echo: --listen must be HOST:PORT\n");
        return 2;
    }
    beast::error_code ec;
    const auto address = net::ip::make_address(listen.substr(0, colon), ec);
    if (ec) {
        std::fprintf(stderr, "bench-echo: --listen: bad address\n");
        return 2;
    }
    pool p(threads);
    net::io_context main_ioc(1);
    std::unique_ptr<listener> l;
    try {
        l = std::make_unique<listener>(
            main_ioc, p,
            tcp::endpoint(address, static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)))));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-echo: cannot listen on %s: %s\n", listen.c_str(), e.what());
        return 1;
    }
    std::printf("bench-echo listening on %s:%u with %u threads\n", listen.substr(0, colon).c_str(),
                l->port(), threads);
    std::fflush(stdout);
    l->do_accept();

    net::signal_set signals(main_ioc, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) {
        main_ioc.stop();
        for (auto& c : p.contexts) c->stop();
    });
    std::vector<std::thread> workers;
    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    for (auto& c : p.contexts) {
        guards.push_back(net::make_work_guard(*c));
        workers.emplace_back([ctx = c.get()] { ctx->run(); });
    }
    main_ioc.run();
    for (auto& c : p.contexts) c->stop();
    for (auto& t : workers) t.join();
    return 0;
}
