#include "proxy/admin/admin_server.hpp"

#include "common/text.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <charconv>
#include <chrono>
#include <deque>
#include <optional>

#include "proxy/admin/history.hpp"
#include "proxy/admin/tap.hpp"
#include "proxy/admin/viewer.hpp"
#include "proxy/base/log.hpp"

namespace wsproxy::admin {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

bool same_secret(std::string_view a, std::string_view b) {
    // Constant time in the length of the candidate: no early exit on the first difference.
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return diff == 0;
}

std::int64_t wall_now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string dump(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A non-negative decimal number, or nullopt.
std::optional<std::uint64_t> parse_count(std::string_view text) {
    std::uint64_t n = 0;
    auto* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, n);
    if (text.empty() || ec != std::errc{} || p != end) return std::nullopt;
    return n;
}

// One /tap subscriber: a WebSocket that gets the hub's events for its filter, at its own
// pace, through the subscriber's bounded queue. With ?history=N it first gets the newest N
// matching events the history kept, each marked "history": true, and one history_end line;
// the history is read and the subscription made in one admin-thread step after the workers
// handed over what they held, so nothing is shown twice or missed. Admin thread only; owns
// itself.
class tap_session : public tap::subscriber, public std::enable_shared_from_this<tap_session> {
public:
    tap_session(beast::tcp_stream stream, tap::filter f, tap::hub& hub,
                std::optional<std::size_t> history)
        : tap::subscriber(std::move(f), hub.options().queue_limit),
          ws_(std::move(stream)),
          hub_(hub),
          history_(history) {}

    void start(http::request<http::string_body> req) {
        auto& tcp = beast::get_lowest_layer(ws_);
        tcp.expires_never();
        beast::error_code ec;
        // A small kernel buffer: a stalled reader shows up as drops here instead of
        // megabytes parked in the kernel.
        tcp.socket().set_option(net::socket_base::send_buffer_size(256 * 1024), ec);
        websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(
            beast::role_type::server);
        t.idle_timeout = std::chrono::seconds(60);
        t.keep_alive_pings = true;
        ws_.set_option(t);
        ws_.read_message_max(64 * 1024);
        ws_.set_option(websocket::stream_base::decorator(
            [](websocket::response_type& r) { r.set(http::field::server, "wsproxy admin"); }));
        ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
            if (ec) return;
            self->do_read();
            if (!self->history_) return self->subscribe();
            self->hub_.collect([self] { self->subscribe(); });
        });
    }

protected:
    void on_ready() override {
        if (!writing_ && !ended_) do_write();
    }

private:
    void subscribe() {
        if (ended_) return;
        preface_.push_back(std::make_shared<const std::string>(hub_.hello()));
        if (history_) {
            hub_.past().expire(wall_now_ms());
            auto past = hub_.past().recent(wants(), *history_);
            for (const auto& e : past) {
                auto j = tap::to_json(*e, hub_.options().redact);
                j["history"] = true;
                preface_.push_back(std::make_shared<const std::string>(dump(j)));
            }
            preface_.push_back(std::make_shared<const std::string>(
                dump({{"history_end", true}, {"sent", past.size()}})));
        }
        hub_.subscribe(shared_from_this());
        subscribed_ = true;
        if (!writing_) do_write();
    }

    void do_read() {
        // Messages from the subscriber are ignored; reading answers pings and sees the close.
        ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->end();
            self->in_.consume(self->in_.size());
            self->do_read();
        });
    }

    void do_write() {
        if (ended_) return;
        if (!preface_.empty()) {
            current_ = std::move(preface_.front());
            preface_.pop_front();
        } else {
            current_ = next();
        }
        if (!current_) {
            writing_ = false;
            return;
        }
        writing_ = true;
        ws_.text(true);
        ws_.async_write(net::buffer(*current_),
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (ec) return self->end();
                            self->do_write();
                        });
    }

    void end() {
        if (ended_) return;
        ended_ = true;
        if (subscribed_) hub_.unsubscribe(this);
        beast::error_code ec;
        beast::get_lowest_layer(ws_).socket().close(ec);
    }

    websocket::stream<beast::tcp_stream> ws_;
    tap::hub& hub_;
    const std::optional<std::size_t> history_;
    // The hello line, then with ?history=N the history and its end: sent before live events.
    std::deque<std::shared_ptr<const std::string>> preface_;
    std::shared_ptr<const std::string> current_;
    beast::flat_buffer in_;
    bool writing_{false};
    bool subscribed_{false};
    bool ended_{false};
};

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

    bool authorized(std::string_view query) const {
        if (hooks_.token.empty()) return true;
        std::string_view auth = req_[http::field::authorization];
        constexpr std::string_view bearer = "Bearer ";
        if (auth.size() > bearer.size() && auth.substr(0, bearer.size()) == bearer &&
            same_secret(auth.substr(bearer.size()), hooks_.token))
            return true;
        for (const auto& [name, value] : tap::parse_query(query))
            if (name == "token" && same_secret(value, hooks_.token)) return true;
        return false;
    }

    void handle() {
        std::string_view target = req_.target();
        auto q = target.find('?');
        std::string_view path = target.substr(0, q);
        std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
        if (req_.method() != http::verb::get && req_.method() != http::verb::head)
            return reply(http::status::method_not_allowed, "only GET is served here\n");
        // Probes tell nothing and come by any name (a Service's, a helm test's).
        if (path == "/healthz") return reply(http::status::ok, "ok\n");
        if (path == "/readyz") {
            return hooks_.ready() ? reply(http::status::ok, "ready\n")
                                  : reply(http::status::service_unavailable, "draining\n");
        }
        if (!admin_host_allowed(req_[http::field::host], hooks_.allowed_hosts))
            return reply(http::status::misdirected_request,
                         "this admin port answers to IP addresses, loopback names and the names "
                         "given with --admin-allow-host, not to \"" +
                             std::string(req_[http::field::host]) + "\"\n");
        if (!admin_origin_allowed(req_[http::field::origin], req_[http::field::host],
                                  hooks_.allowed_origins))
            return reply(http::status::forbidden,
                         "a page from \"" + std::string(req_[http::field::origin]) +
                             "\" may not use this admin port; add it with --admin-allow-origin\n");
        if (!authorized(query)) {
            res_extra_ = [](http::response<http::string_body>& r) {
                r.set(http::field::www_authenticate, "Bearer realm=\"wsproxy admin\"");
            };
            return reply(http::status::unauthorized,
                         "this admin port needs a token: send \"Authorization: Bearer <token>\"\n");
        }
        if (path == "/metrics")
            return reply(http::status::ok, hooks_.metrics(), "text/plain; version=0.0.4");
        if (path == "/" || path == "/index.html") {
            res_extra_ = [](http::response<http::string_body>& r) {
                // The page is self-contained: no other origin, and the token in its address
                // never leaves in a Referer.
                r.set("Content-Security-Policy",
                      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                      "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'");
                r.set("Referrer-Policy", "no-referrer");
                r.set("X-Content-Type-Options", "nosniff");
                r.set("X-Frame-Options", "DENY");
            };
            return reply(http::status::ok, viewer_html(), "text/html; charset=utf-8");
        }
        if (path == "/connections") return connections(query);
        if (path.substr(0, 13) == "/connections/") {
            auto id = parse_count(path.substr(13));
            if (!id)
                return reply(http::status::bad_request,
                             dump({{"error", "expected /connections/ID with a connection id (a "
                                             "number from /connections), got \"" +
                                                 std::string(path.substr(13)) + "\""}}) +
                                 "\n",
                             "application/json");
            return connection(*id);
        }
        if (path == "/tap") {
            if (!hooks_.tap) return reply(http::status::not_found, "no tap here\n");
            if (!websocket::is_upgrade(req_))
                return reply(http::status::upgrade_required,
                             "/tap is a WebSocket: connect with a WebSocket client, or run "
                             "`wsproxy tap`\n");
            std::string error;
            auto f = tap::parse_filter(query, error);
            if (!f) return reply(http::status::bad_request, error + "\n");
            std::optional<std::size_t> history;
            for (const auto& [name, value] : tap::parse_query(query)) {
                if (name != "history") continue;
                auto n = parse_count(value);
                if (!n)
                    return reply(http::status::bad_request,
                                 "history: expected a number of past events to send first (0 "
                                 "to --tap-history), got \"" + value + "\"\n");
                // More than the history can hold gives what it holds.
                const auto& o = hooks_.tap->options();
                history = static_cast<std::size_t>(
                    std::min<std::uint64_t>(*n, std::max(o.history, o.history_per_conn)));
            }
            std::make_shared<tap_session>(std::move(stream_), std::move(*f), *hooks_.tap, history)
                ->start(std::move(req_));
            return;
        }
        reply(http::status::not_found,
              "not found; try /, /healthz, /readyz, /metrics, /connections, /connections/ID "
              "or /tap\n");
    }

    // The workers' snapshots of the live connections, after the tap's history has every
    // close the workers held (so a connection is listed as live or closed, never neither).
    void live_connections(std::function<void(nlohmann::json)> done) {
        auto gather = [this, done = std::move(done)]() mutable {
            if (!hooks_.connections) return done(nlohmann::json::array());
            hooks_.connections(std::move(done));
        };
        if (!hooks_.tap) return gather();
        hooks_.tap->collect(std::move(gather));
    }

    void connections(std::string_view query) {
        bool closed = true;
        for (const auto& [name, value] : tap::parse_query(query))
            if (name == "closed") closed = value != "0" && value != "false";
        live_connections([self = shared_from_this(), closed](nlohmann::json live) {
            nlohmann::json body = {{"connections", std::move(live)}};
            if (closed && self->hooks_.tap)
                body["closed"] = self->hooks_.tap->past().closed_list(wall_now_ms());
            else if (closed)
                body["closed"] = nlohmann::json::array();
            self->reply(http::status::ok, dump(body) + "\n", "application/json");
        });
    }

    // One connection, live or lately closed, with its timeline: when it opened, the events
    // kept for it (--tap-history-per-conn), and its close.
    void connection(std::uint64_t id) {
        live_connections([self = shared_from_this(), id](nlohmann::json live) {
            const nlohmann::json* record = nullptr;
            for (const auto& c : live)
                if (c.value("id", std::uint64_t{0}) == id) record = &c;
            tap::hub* tap = self->hooks_.tap;
            bool closed = false;
            if (!record && tap) {
                record = tap->past().closed_record(id, wall_now_ms());
                closed = record != nullptr;
            }
            if (!record)
                return self->reply(
                    http::status::not_found,
                    dump({{"error", "no connection " + std::to_string(id) +
                                        ": it is unknown, or it closed longer ago than "
                                        "--closed-connections-seconds or was pushed out by "
                                        "--closed-connections-max; see /connections"}}) +
                        "\n",
                    "application/json");
            nlohmann::json timeline = nlohmann::json::array();
            timeline.push_back({{"event", "opened"},
                                {"conn", id},
                                {"time", record->value("started", "")},
                                {"remote", record->value("remote", "")}});
            if (tap)
                for (const auto& e : tap->past().timeline(id)) {
                    auto j = tap::to_json(*e, tap->options().redact);
                    j["event"] = "frame";
                    timeline.push_back(std::move(j));
                }
            if (closed)
                timeline.push_back({{"event", "closed"},
                                    {"conn", id},
                                    {"time", (*record)["closed"]},
                                    {"duration_ms", (*record)["duration_ms"]},
                                    {"close_code_client", (*record)["close_code_client"]},
                                    {"close_code_server", (*record)["close_code_server"]},
                                    {"close_reason", (*record)["close_reason"]}});
            nlohmann::json body = {{"connection", *record}, {"timeline", std::move(timeline)}};
            self->reply(http::status::ok, dump(body) + "\n", "application/json");
        });
    }

    void reply(http::status status, std::string body, const char* type = "text/plain") {
        res_ = {};
        res_.result(status);
        res_.version(req_.version());
        res_.set(http::field::content_type, type);
        res_.set(http::field::cache_control, "no-store");
        if (res_extra_) res_extra_(res_);
        res_extra_ = nullptr;
        res_.keep_alive(req_.keep_alive());
        res_.body() = std::move(body);
        res_.prepare_payload();
        if (req_.method() == http::verb::head) res_.body().clear();
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
    std::function<void(http::response<http::string_body>&)> res_extra_;
};

}  // namespace

namespace {

std::string_view host_without_port(std::string_view host) {
    if (!host.empty() && host.front() == '[') {
        auto close = host.find(']');
        return close == std::string_view::npos ? host : host.substr(1, close - 1);
    }
    auto colon = host.find(':');
    // More than one colon and no brackets: a bare IPv6 address.
    if (colon != std::string_view::npos && host.find(':', colon + 1) != std::string_view::npos)
        return host;
    return host.substr(0, colon);
}

}  // namespace

bool admin_host_allowed(std::string_view host, const std::vector<std::string>& allowed) {
    if (host.empty()) return true;  // HTTP/1.0 tools; every browser sends Host
    auto name = host_without_port(host);
    beast::error_code ec;
    net::ip::make_address(std::string(name), ec);
    if (!ec) return true;
    if (text::iequals(name, "localhost") || (name.size() > 10 && text::iequals(name.substr(name.size() - 10), ".localhost")))
        return true;
    for (const auto& a : allowed)
        if (text::iequals(host_without_port(a), name)) return true;
    return false;
}

bool admin_origin_allowed(std::string_view origin, std::string_view host,
                          const std::vector<std::string>& allowed) {
    if (origin.empty()) return true;
    for (const auto& a : allowed)
        if (text::iequals(a, origin)) return true;
    // Same origin: "http(s)://" + the Host the browser sent to reach us.
    auto sep = origin.find("://");
    return sep != std::string_view::npos && !host.empty() && text::iequals(origin.substr(sep + 3), host);
}

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
    if (ec) throw startup_error(listen_error("--admin", where, ec.value(), ec.message()));
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
