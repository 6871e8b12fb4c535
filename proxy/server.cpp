#include "proxy/server.hpp"

#include <sys/resource.h>
#include <sys/stat.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include "metrics/registry.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/cluster/client.hpp"
#include "proxy/relay/remote_joins.hpp"
#include "proxy/relay/http_session.hpp"
#include "proxy/base/log.hpp"
#include "proxy/base/run_loop.hpp"
#include "proxy/admin/tap.hpp"
#include "proxy/relay/worker.hpp"
#include "proxy/relay/ws_pair.hpp"
#include "rules/config.hpp"

#ifndef WSPROXY_VERSION
#define WSPROXY_VERSION "dev"
#endif

namespace wsproxy {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

// Each proxied connection takes two descriptors, so the soft limit (often
// 1024) would cap us at ~500 connections: raise it to the hard limit.
std::size_t raise_descriptor_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
    if (lim.rlim_cur < lim.rlim_max) {
        rlim_t before = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) == 0)
            log::write(log::level::info, "descriptor_limit_raised",
                       {{"from", before}, {"to", lim.rlim_cur}});
        else
            getrlimit(RLIMIT_NOFILE, &lim);
    }
    return lim.rlim_cur == RLIM_INFINITY ? 1'000'000 : static_cast<std::size_t>(lim.rlim_cur);
}

std::shared_ptr<const rules::config> load_rules(const proxy_options& opts) {
    rules::config cfg;
    try {
        if (!opts.rules_file.empty()) cfg = rules::load_config_file(opts.rules_file);
    } catch (const rules::config_error& e) {
        throw startup_error(std::string("--rules: ") + e.what());
    }
    if (opts.mode) cfg.run_mode = *opts.mode == "observe" ? rules::mode::observe : rules::mode::fix;
    return std::make_shared<const rules::config>(std::move(cfg));
}

double unix_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void load_or_throw(const char* what, const std::string& file, const std::function<void()>& load) {
    try {
        load();
    } catch (const std::exception& e) {
        throw startup_error(std::string(what) + ": cannot use \"" + file + "\": " + e.what());
    }
}

// The admin port is reachable from other hosts and nothing guards it.
bool admin_open_to_all(const proxy_options& o) {
    if (!o.admin_token.empty()) return false;
    beast::error_code ec;
    auto a = net::ip::make_address(o.admin.host, ec);
    return !ec && !a.is_loopback();
}

}  // namespace

struct server::impl {
    explicit impl(proxy_options o) : shared(std::move(o)), acceptor(control) {}

    shared_state shared;
    std::optional<ssl::context> client_tls;
    std::optional<ssl::context> upstream_tls;
    std::unique_ptr<metrics::registry> registry;
    std::unique_ptr<tap::hub> tap;  // before `control`: handlers destroyed with it may name it
    std::unique_ptr<cluster::client> cluster;  // --shared-state; outlives the workers' use of it
    std::vector<std::unique_ptr<worker>> workers;
    std::vector<std::thread> threads;
    net::io_context control{1};  // acceptor, admin server, drain timer
    std::optional<net::executor_work_guard<net::io_context::executor_type>> control_work;
    tcp::acceptor acceptor;
    std::unique_ptr<admin::admin_server> admin;
    std::optional<net::steady_timer> drain_timer;
    std::optional<net::steady_timer> accept_retry;
    std::optional<net::steady_timer> rules_watch;
    // Reloads come from the signal thread (SIGHUP), the control thread (watch_rules) and
    // tests: the mutex serialises them, and guards rules_stat, which both threads read.
    std::mutex reload_mutex;
    struct stat rules_stat{};  // of --rules when last read: a change means reload
    unsigned next_worker{0};
    unsigned short listen_port{0};  // kept: the acceptor closes when draining
    bool stopped{false};

    void accept() {
        worker& w = *workers[next_worker];
        next_worker = (next_worker + 1) % workers.size();
        // The socket is created on the worker's io_context; the session is started there.
        acceptor.async_accept(w.ioc, [this, &w](beast::error_code ec, flex_stream::socket_type s) {
            if (!acceptor.is_open()) return;
            if (ec) {
                // Out of descriptors (EMFILE/ENFILE) or a transient error: pause, never spin.
                log::write(log::level::warn, "accept_failed", {{"error", ec.message()}});
                accept_retry.emplace(control, std::chrono::milliseconds(100));
                accept_retry->async_wait([this](beast::error_code) {
                    if (acceptor.is_open()) accept();
                });
                return;
            }
            net::post(w.ioc, [&w, s = std::move(s), this]() mutable { start_session(w, std::move(s)); });
            accept();
        });
    }

    void start_session(worker& w, flex_stream::socket_type s) {
        beast::error_code ec;
        auto remote = s.remote_endpoint(ec);
        if (ec) return;
        s.set_option(tcp::no_delay(true), ec);
        flex_stream::tcp_type tcp_stream(std::move(s));
        std::string address = remote.address().to_string();
        auto stream = client_tls ? flex_stream(std::move(tcp_stream), *client_tls)
                                 : flex_stream(std::move(tcp_stream));
        // Every client connection takes a slot, plain HTTP too: each may hold a body of
        // up to --max-body-bytes and an upstream connection.
        bool over = shared.connections.fetch_add(1, std::memory_order_relaxed) >= shared.max_connections;
        std::make_shared<http_session>(w, std::move(stream), std::move(address), over)->start();
    }

    // Per worker, at most a second apart: idle timeouts, keep-alive pings, stalled writes
    // (ws_pair::tick). One timer per thread instead of one re-armed per frame.
    void sweep(worker& w, std::shared_ptr<net::steady_timer> timer) {
        timer->expires_after(ws_pair::sweep_interval(shared.opts));
        timer->async_wait([this, &w, timer](beast::error_code ec) {
            if (ec) return;
            // Re-armed first: a tick that throws (run_loop goes on) must not end the
            // timeouts of every other pair of this worker.
            sweep(w, timer);
            auto now = now_ms();
            std::vector<std::shared_ptr<ws_pair>> live;
            live.reserve(w.pairs.size());
            for (auto& [id, weak] : w.pairs)
                if (auto p = weak.lock()) live.push_back(std::move(p));
            for (auto& p : live) p->tick(now);
        });
    }

    void drain_tick(std::chrono::steady_clock::time_point close_at, bool closed_sessions,
                    std::chrono::steady_clock::time_point give_up_at) {
        auto now = std::chrono::steady_clock::now();
        if (shared.connections.load() == 0 || now >= give_up_at) {
            log::write(log::level::info, "drained", {{"remaining", shared.connections.load()}});
            stop_all();
            return;
        }
        if (!closed_sessions && now >= close_at) {
            closed_sessions = true;
            log::write(log::level::info, "drain_closing_sessions",
                       {{"remaining", shared.connections.load()}});
            for (auto& w : workers) {
                net::post(w->ioc, [wp = w.get()] {
                    // Copy first: drain() may finish a pair, which erases it from the map.
                    std::vector<std::shared_ptr<ws_pair>> live;
                    for (auto& [id, weak] : wp->pairs)
                        if (auto p = weak.lock()) live.push_back(std::move(p));
                    for (auto& p : live) p->drain();
                    for (auto& s : live_http_sessions(*wp)) s->abort();
                });
            }
        }
        drain_timer->expires_after(std::chrono::milliseconds(50));
        drain_timer->async_wait([this, close_at, closed_sessions, give_up_at](beast::error_code ec) {
            if (!ec) drain_tick(close_at, closed_sessions, give_up_at);
        });
    }

    static std::vector<std::shared_ptr<http_session>> live_http_sessions(worker& w) {
        std::vector<std::shared_ptr<http_session>> live;
        for (auto& [id, weak] : w.http_sessions)
            if (auto s = weak.lock()) live.push_back(std::move(s));
        return live;
    }

    // /connections: each worker snapshots its own pairs on its own thread and posts the
    // result back here; the last answer completes the list (by id).
    void gather_connections(std::function<void(nlohmann::json)> done) {
        struct gathering {
            std::size_t waiting{0};
            nlohmann::json connections = nlohmann::json::array();
            std::function<void(nlohmann::json)> done;
        };
        auto g = std::make_shared<gathering>();
        g->waiting = workers.size();
        g->done = std::move(done);
        for (auto& w : workers) {
            net::post(w->ioc, [this, wp = w.get(), g] {
                std::vector<nlohmann::json> snaps;
                for (auto& [id, weak] : wp->pairs)
                    if (auto p = weak.lock()) snaps.push_back(p->snapshot());
                net::post(control, [g, snaps = std::move(snaps)]() mutable {
                    for (auto& s : snaps) g->connections.push_back(std::move(s));
                    if (--g->waiting != 0) return;
                    auto& list = g->connections;
                    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
                        return a["id"].template get<std::uint64_t>() <
                               b["id"].template get<std::uint64_t>();
                    });
                    g->done(std::move(list));
                });
            });
        }
    }

    // Whether --rules differs from the file last read. False while another thread
    // reloads (it records the file it reads): the next poll looks again, and the control
    // thread never waits for a reload it did not start.
    bool rules_file_changed() {
        std::unique_lock lock(reload_mutex, std::try_to_lock);
        if (!lock.owns_lock()) return false;
        struct stat now {};
        return ::stat(shared.opts.rules_file.c_str(), &now) == 0 && !same_file(now, rules_stat);
    }

    static bool same_file(const struct stat& a, const struct stat& b) {
        return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
               a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
    }

    // Polls --rules once a second: a Kubernetes ConfigMap update swaps a symlink,
    // which stat() (following links) sees as another inode.
    void watch_rules(server& owner) {
        rules_watch->expires_after(std::chrono::seconds(1));
        rules_watch->async_wait([this, &owner](beast::error_code ec) {
            if (ec) return;
            if (rules_file_changed()) owner.reload_rules();
            watch_rules(owner);
        });
    }

    void stop_all() {
        if (stopped) return;
        stopped = true;
        beast::error_code ec;
        acceptor.close(ec);
        if (admin) admin->stop();
        for (auto& w : workers) w->ioc.stop();
        control_work.reset();
        control.stop();
    }
};

server::server(proxy_options opts) {
    validate(opts);
    impl_ = std::make_unique<impl>(std::move(opts));
    auto& shared = impl_->shared;
    const auto& o = shared.opts;

    if (!o.rules_file.empty()) ::stat(o.rules_file.c_str(), &impl_->rules_stat);
    shared.rules.store(load_rules(o));

    if (!o.tls_cert.empty()) {
        auto& ctx = impl_->client_tls.emplace(ssl::context::tls_server);
        ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        load_or_throw("--tls-cert", o.tls_cert, [&] { ctx.use_certificate_chain_file(o.tls_cert); });
        load_or_throw("--tls-key", o.tls_key,
                      [&] { ctx.use_private_key_file(o.tls_key, ssl::context::pem); });
        shared.client_tls = &ctx;
    }
    if (o.upstream.tls) {
        auto& ctx = impl_->upstream_tls.emplace(ssl::context::tls_client);
        ctx.set_options(ssl::context::default_workarounds | ssl::context::no_tlsv1 |
                        ssl::context::no_tlsv1_1);
        ctx.set_verify_mode(ssl::verify_peer);
        ctx.set_default_verify_paths();
        if (!o.upstream_ca.empty())
            load_or_throw("--upstream-ca", o.upstream_ca, [&] { ctx.load_verify_file(o.upstream_ca); });
        shared.upstream_tls = &ctx;
    }

    try {
        shared.trusted = http1::trusted_peers::parse(o.trusted_proxies);
    } catch (const std::invalid_argument& e) {
        throw startup_error(std::string("--trusted-proxies: ") + e.what());
    }
    std::size_t fds = raise_descriptor_limit();
    shared.max_connections = o.max_connections ? o.max_connections
                                               : (fds > 128 ? (fds - 64) / 2 : 32);

    unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
    impl_->registry = std::make_unique<metrics::registry>(shared.rules.load()->message_types,
                                                          threads, WSPROXY_VERSION);
    impl_->registry->rules_loaded(true, unix_seconds());  // the rules were loaded above
    shared.metrics = impl_->registry.get();
    if (!o.cluster.url.empty()) {
        impl_->cluster = std::make_unique<cluster::client>(
            o.cluster, *impl_->registry,
            static_cast<std::int64_t>(shared.rules.load()->rejoin.ttl_s));
        shared.sessions.attach(impl_->cluster.get());
    }
    for (unsigned i = 0; i < threads; ++i)
        impl_->workers.push_back(std::make_unique<worker>(i, shared, impl_->registry->at(i)));

    beast::error_code ec;
    auto address = net::ip::make_address(o.listen.host, ec);
    if (ec) throw startup_error("--listen: \"" + o.listen.host + "\" is not an IP address");
    tcp::endpoint endpoint(address, o.listen.port);
    auto& a = impl_->acceptor;
    a.open(endpoint.protocol(), ec);
    if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(endpoint, ec);
    if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw startup_error(listen_error("--listen", o.listen, ec.value(), ec.message()));

    impl_->listen_port = a.local_endpoint().port();

    tap::hub_options tap_opts;
    tap_opts.payloads = o.tap_payloads;
    for (const auto& p : o.tap_redact_paths) tap_opts.redact.push_back(rules::split_path(p));
    tap_opts.queue_limit = o.tap_queue_limit;
    tap_opts.history = o.tap_history;
    tap_opts.history_per_conn = o.tap_history_per_conn;
    tap_opts.closed_seconds = o.closed_connections_seconds;
    tap_opts.closed_max = o.closed_connections_max;
    tap_opts.rules = [this] { return impl_->shared.rules.load(); };
    impl_->tap = std::make_unique<tap::hub>(impl_->control, *impl_->registry, std::move(tap_opts));
    std::vector<net::io_context*> worker_contexts;
    for (auto& w : impl_->workers) worker_contexts.push_back(&w->ioc);
    impl_->tap->attach_workers(std::move(worker_contexts));
    shared.tap = impl_->tap.get();

    admin::admin_hooks hooks;
    hooks.ready = [this] { return !impl_->shared.draining.load(); };
    hooks.metrics = [this] { return impl_->registry->render(); };
    hooks.connections = [this](std::function<void(nlohmann::json)> done) {
        impl_->gather_connections(std::move(done));
    };
    hooks.tap = impl_->tap.get();
    hooks.token = o.admin_token;
    hooks.allowed_origins = o.admin_allow_origins;
    hooks.allowed_hosts = o.admin_allow_hosts;
    impl_->admin = std::make_unique<admin::admin_server>(impl_->control, o.admin, std::move(hooks));
}

server::~server() {
    stop();
    wait();
    if (impl_->cluster) impl_->cluster->stop();
}

void server::start() {
    auto& i = *impl_;
    if (i.cluster)
        i.cluster->start([&shared = i.shared](const std::string& session, const std::string& chat,
                                              const std::string& cause,
                                              std::function<void(bool)> reply) {
            join_local_sockets(shared, session, chat, cause, std::move(reply));
        });
    for (auto& w : i.workers) {
        i.sweep(*w, std::make_shared<net::steady_timer>(w->ioc));
        i.threads.emplace_back([wp = w.get()] {
            auto guard = net::make_work_guard(wp->ioc);
            run_loop(wp->ioc, "worker");
        });
    }
    i.control_work.emplace(i.control.get_executor());
    if (!i.shared.opts.rules_file.empty()) {
        i.rules_watch.emplace(i.control);
        i.watch_rules(*this);
    }
    i.admin->start();
    if (admin_open_to_all(i.shared.opts))
        log::write(log::level::warn, "admin_open",
                   {{"admin", i.shared.opts.admin.host},
                    {"why", "the admin port listens beyond loopback without --admin-token: anyone "
                            "who reaches it can read /tap (chat ids, and payloads with "
                            "--tap-payloads); set --admin-token-file or bind it to 127.0.0.1"}});
    i.accept();
    i.threads.emplace_back([&i] { run_loop(i.control, "control"); });
    const auto& o = i.shared.opts;
    log::write(log::level::info, "listening",
               {{"listen", o.listen.host + ":" + std::to_string(port())},
                {"admin", o.admin.host + ":" + std::to_string(admin_port())},
                {"upstream", o.upstream.url},
                {"threads", i.workers.size()},
                {"tls", i.client_tls.has_value()},
                {"mode", i.shared.rules.load()->run_mode == rules::mode::fix ? "fix" : "observe"},
                {"max_connections", i.shared.max_connections}});
}

unsigned short server::port() const { return impl_->listen_port; }
unsigned short server::admin_port() const { return impl_->admin->port(); }

void server::begin_drain() {
    net::post(impl_->control, [&i = *impl_] {
        if (i.shared.draining.exchange(true)) return;
        beast::error_code ec;
        i.acceptor.close(ec);
        auto drain = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(i.shared.opts.drain_timeout));
        auto grace = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(i.shared.opts.handshake_timeout + 1));
        auto now = std::chrono::steady_clock::now();
        log::write(log::level::info, "draining",
                   {{"connections", i.shared.connections.load()},
                    {"drain_timeout_s", i.shared.opts.drain_timeout}});
        // Idle keep-alive connections close now; busy ones answer with Connection: close.
        for (auto& w : i.workers)
            net::post(w->ioc, [wp = w.get()] {
                for (auto& s : impl::live_http_sessions(*wp)) s->drain();
            });
        i.drain_timer.emplace(i.control);
        i.drain_tick(now + drain, false, now + drain + grace);
    });
}

void server::wait() {
    for (auto& t : impl_->threads)
        if (t.joinable()) t.join();
}

void server::stop() {
    net::post(impl_->control, [&i = *impl_] { i.stop_all(); });
    // If the control thread never started, stop directly.
    if (impl_->threads.empty()) impl_->stop_all();
}

bool server::reload_rules() {
    auto& i = *impl_;
    std::lock_guard lock(i.reload_mutex);
    const auto& file = i.shared.opts.rules_file;
    if (file.empty()) {
        log::write(log::level::warn, "rules_reload_skipped",
                   {{"why", "no --rules file: the built-in rules cannot change"}});
        return false;
    }
    ::stat(file.c_str(), &i.rules_stat);
    try {
        auto next = load_rules(i.shared.opts);
        auto current = i.shared.rules.load();
        // The frame type labels were fixed when the metrics were created.
        if (next->message_types != current->message_types)
            throw startup_error(file + ": messages.message_types changed; they are metric "
                                "labels, so restart wsproxy to apply them");
        i.shared.rules.store(std::move(next));
        i.registry->control().count(metrics::proxy_stat::rules_reload, 0);
        i.registry->rules_loaded(true, unix_seconds());
        log::write(log::level::info, "rules_reloaded", {{"file", file}});
        return true;
    } catch (const std::exception& e) {
        i.registry->control().count(metrics::proxy_stat::rules_reload, 1);
        i.registry->rules_loaded(false, unix_seconds());
        log::write(log::level::error, "rules_reload_failed",
                   {{"file", file}, {"error", e.what()}, {"kept", "the rules already in force"}});
        return false;
    }
}

metrics::registry& server::metrics() { return *impl_->registry; }

std::size_t server::connections() const { return impl_->shared.connections.load(); }

}  // namespace wsproxy
