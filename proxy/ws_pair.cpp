#include "proxy/ws_pair.hpp"

#include <chrono>

#include "proxy/connections.hpp"
#include "proxy/headers.hpp"
#include "proxy/log.hpp"
#include "proxy/tap.hpp"
#include "proxy/upstream_connect.hpp"
#include "rules/rest.hpp"

namespace wsproxy {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using metrics::close_reason;
using rules::action;

namespace {

constexpr int other(int s) { return 1 - s; }

std::chrono::steady_clock::duration seconds(double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
}

log::level to_log_level(rules::log_level l) {
    switch (l) {
        case rules::log_level::debug: return log::level::debug;
        case rules::log_level::info: return log::level::info;
        case rules::log_level::warn: return log::level::warn;
        case rules::log_level::error: return log::level::error;
    }
    return log::level::info;
}

// The same timeouts, size limit and compression on both legs; only the role differs.
void configure_leg(websocket::stream<flex_stream>& ws, const proxy_options& opts, bool server_role) {
    ws.set_option(websocket::stream_base::timeout{
        seconds(opts.handshake_timeout), seconds(opts.idle_timeout), opts.keepalive_pings});
    ws.read_message_max(opts.max_message_bytes);
    ws.auto_fragment(false);
    if (opts.permessage_deflate) {
        websocket::permessage_deflate pmd;
        pmd.server_enable = server_role;
        pmd.client_enable = !server_role;
        ws.set_option(pmd);
    }
}

// Read errors that mean the peer went away without a closing handshake.
bool peer_vanished(const beast::error_code& ec) {
    return ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe || ec == net::error::connection_aborted ||
           ec == net::ssl::error::stream_truncated || ec == net::error::not_connected;
}

}  // namespace

ws_pair::ws_pair(worker& w, flex_stream client, request req, std::string remote)
    : w_(w),
      id_(w.shared.next_connection_id.fetch_add(1, std::memory_order_relaxed)),
      remote_(std::move(remote)),
      req_(std::move(req)),
      opened_ms_(now_ms()),
      client_(std::move(client)),
      engine_(w.shared.rules.load()),
      timer_(w.ioc) {}

ws_pair::~ws_pair() { w_.shared.connections.fetch_sub(1, std::memory_order_relaxed); }

void ws_pair::start() {
    w_.pairs.emplace(id_, weak_from_this());
    async_connect_upstream(w_, [self = shared_from_this()](beast::error_code ec,
                                                           std::string_view stage,
                                                           std::optional<flex_stream> stream) {
        self->on_upstream_transport(ec, stage, std::move(stream));
    });
}

void ws_pair::on_upstream_transport(beast::error_code ec, std::string_view stage,
                                    std::optional<flex_stream> stream) {
    if (ec) {
        bool timeout = ec == beast::error::timeout;
        w_.stats.count(timeout ? metrics::upstream_error::timeout
                       : stage == "tls" ? metrics::upstream_error::tls
                                        : metrics::upstream_error::connect);
        log::write(log::level::warn, "upstream_failed",
                   {{"conn", id_}, {"stage", stage}, {"error", ec.message()},
                    {"upstream", w_.shared.opts.upstream.url}});
        return reject_upgrade(timeout ? http::status::gateway_timeout : http::status::bad_gateway,
                              "wsproxy: the upstream " + w_.shared.opts.upstream.url +
                                  " is unreachable (" + std::string(stage) + ": " + ec.message() +
                                  ")\n");
    }
    server_.emplace(std::move(*stream));
    const auto& opts = w_.shared.opts;
    auto& ws = server_->ws;
    configure_leg(ws, opts, false);
    // The browser's request, minus what belongs to this hop, plus X-Forwarded-*.
    http::fields forwarded;
    copy_end_to_end(req_, forwarded);
    add_forwarded(forwarded, req_, remote_, client_.ws.next_layer().is_tls());
    ws.set_option(websocket::stream_base::decorator(
        [forwarded = std::move(forwarded)](websocket::request_type& r) {
            r.erase(http::field::user_agent);
            copy_all(forwarded, r);
        }));
    std::string host(req_[http::field::host]);
    if (host.empty()) host = opts.upstream.host + ":" + std::to_string(opts.upstream.port);
    ws.async_handshake(upstream_res_, host, req_.target(),
                       [self = shared_from_this()](beast::error_code ec) {
                           self->on_upstream_handshake(ec);
                       });
}

void ws_pair::on_upstream_handshake(beast::error_code ec) {
    if (ec == websocket::error::upgrade_declined) {
        // The backend answered the upgrade with its own status: the browser gets it as is.
        w_.stats.count(metrics::upstream_error::handshake_rejected);
        log::write(log::level::info, "upstream_declined_upgrade",
                   {{"conn", id_}, {"status", upstream_res_.result_int()}});
        auto status = upstream_res_.result();
        std::string type(upstream_res_[http::field::content_type]);
        return reject_upgrade(status, std::move(upstream_res_.body()),
                              type.empty() ? "text/plain" : type);
    }
    if (ec) {
        bool timeout = ec == beast::error::timeout;
        w_.stats.count(timeout ? metrics::upstream_error::timeout
                               : metrics::upstream_error::handshake_rejected);
        log::write(log::level::warn, "upstream_failed",
                   {{"conn", id_}, {"stage", "handshake"}, {"error", ec.message()}});
        return reject_upgrade(timeout ? http::status::gateway_timeout : http::status::bad_gateway,
                              "wsproxy: the upstream WebSocket handshake failed (" +
                                  ec.message() + ")\n");
    }
    auto& ws = client_.ws;
    configure_leg(ws, w_.shared.opts, true);
    // The backend's 101 headers (its subprotocol choice, cookies) go back to the browser.
    http::fields back;
    copy_end_to_end(upstream_res_, back);
    upstream_res_ = {};  // not needed any more: free its headers
    ws.set_option(websocket::stream_base::decorator(
        [back = std::move(back)](websocket::response_type& r) {
            r.erase(http::field::server);
            copy_all(back, r);
        }));
    ws.async_accept(req_, [self = shared_from_this()](beast::error_code ec) {
        self->on_client_accept(ec);
    });
}

void ws_pair::reject_upgrade(http::status status, std::string body, std::string content_type) {
    auto res = std::make_shared<http::response<http::string_body>>(status, req_.version());
    res->set(http::field::content_type, content_type);
    res->set(http::field::connection, "close");
    res->body() = std::move(body);
    res->prepare_payload();
    auto& stream = client_.ws.next_layer();
    stream.tcp().expires_after(seconds(w_.shared.opts.handshake_timeout));
    http::async_write(stream, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) {
        self->client_.ws.next_layer().close();
        self->finish();
    });
}

void ws_pair::on_client_accept(beast::error_code ec) {
    if (ec) {
        w_.stats.count(metrics::handshake_error::bad_request);
        log::write(log::level::info, "client_handshake_failed",
                   {{"conn", id_}, {"error", ec.message()}});
        server_->ws.async_close(websocket::close_code::going_away,
                                [self = shared_from_this()](beast::error_code) { self->finish(); });
        return;
    }
    established_ = true;
    w_.stats.connection_opened();
    rules::open_info info;
    info.target = std::string(req_.target());
    for (const auto& f : req_) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        info.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    const auto& cfg = engine_.cfg();
    session_ = rules::session_of(cfg, info.headers);
    if (!session_.empty()) {
        auto now = now_ms();
        w_.shared.sessions.add_socket(session_, &w_, id_, now);
        session_touched_ = now;
        if (cfg.rejoin.enabled)
            info.remembered_chats = w_.shared.sessions.remembered_chats(
                session_, now, static_cast<std::int64_t>(cfg.rejoin.ttl_s) * 1000);
    }
    log::write(log::level::debug, "connection_opened",
               {{"conn", id_}, {"remote", remote_}, {"path", std::string(req_.target().substr(
                                                          0, req_.target().find('?')))}});
    actions_.clear();
    engine_.on_open(info, now_ms(), actions_);
    run_actions(-1);
    // The request is no longer needed; its headers may be large.
    req_ = {};
    do_read(client_side);
    do_read(server_side);
}

void ws_pair::do_read(int s) {
    leg& l = at(s);
    if (l.read_done) return;
    l.ws.async_read(l.in, [self = shared_from_this(), s](beast::error_code ec, std::size_t) {
        self->on_read(s, ec);
    });
}

void ws_pair::on_read(int s, beast::error_code ec) {
    leg& l = at(s);
    if (ec) return on_leg_ended(s, ec);
    auto data = l.in.cdata();
    std::string_view payload(static_cast<const char*>(data.data()), data.size());
    bool text = l.ws.got_text();
    auto dir = s == client_side ? rules::direction::client_to_server
                                : rules::direction::server_to_client;
    w_.stats.count(metrics::proxy_stat::bytes, static_cast<std::uint32_t>(dir), payload.size());
    // One clock read gives both the engine's time and the start of the processing time.
    auto started = std::chrono::steady_clock::now();
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(started.time_since_epoch())
                   .count();
    actions_.clear();
    engine_.on_frame(dir, payload, text, now, actions_);
    w_.stats.observe_frame_processing(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                             started)
            .count()));
    run_actions(s);
    if (s == client_side && !session_.empty()) {
        // Coarse activity for the "most recent socket" policy: at most once a second.
        if (now - session_touched_ >= 1000) {
            session_touched_ = now;
            w_.shared.sessions.touch_socket(session_, id_, now);
        }
    }
    if (l.borrowed == 0) {
        l.in.consume(l.in.size());
        do_read(s);
    }
    // Otherwise reading resumes when the frame has been written (release_borrow):
    // one message in flight per direction is the back-pressure.
}

void ws_pair::run_actions(int from) {
    if (tap::hub* t = w_.shared.tap; t && t->watching()) {
        std::string_view frame;
        bool text = true;
        if (from >= 0) {
            auto data = at(from).in.cdata();
            frame = std::string_view(static_cast<const char*>(data.data()), data.size());
            text = at(from).ws.got_text();
        }
        t->publish(id_, engine_, actions_,
                   from < 0 ? std::nullopt
                            : std::optional(from == client_side ? rules::direction::client_to_server
                                                                : rules::direction::server_to_client),
                   frame, text, w_.stats);
    }
    for (auto& a : actions_) {
        switch (a.what) {
            case action::kind::forward:
                if (from >= 0) enqueue(other(from), outgoing::frame_from_other_leg(at(from).ws.got_text()), from);
                break;
            case action::kind::replace:
                if (from >= 0) enqueue(other(from), outgoing::frame(std::move(a.payload)), -1);
                break;
            case action::kind::hide:
                break;
            case action::kind::inject:
                enqueue(a.to == rules::direction::client_to_server ? server_side : client_side,
                        outgoing::frame(std::move(a.payload)), -1);
                break;
            case action::kind::arm_timer:
                arm_timer(a.at);
                break;
            case action::kind::log: {
                nlohmann::json fields = {{"conn", id_}};
                if (a.fields.is_object()) fields.update(a.fields);
                log::write(to_log_level(a.level), a.event, fields);
                break;
            }
            case action::kind::count:
                w_.stats.count(a.counter, a.label);
                break;
            case action::kind::user_message: {
                bool registered = a.registered || w_.shared.chats.registered(a.chat_id);
                w_.stats.count(metrics::proxy_stat::broadcasts, registered ? 0 : 1);
                break;
            }
            case action::kind::chat_registered:
                w_.shared.chats.add(a.chat_id);
                if (!session_.empty())
                    w_.shared.sessions.remember_chat(session_, a.chat_id, now_ms(),
                                                     engine_.cfg().rejoin.max_chats);
                settle_waiters(a.chat_id, true);
                break;
            case action::kind::chat_unregistered:
                w_.shared.chats.remove(a.chat_id);
                break;
        }
    }
}

void ws_pair::enqueue(int to, outgoing msg, int borrowed_from) {
    leg& l = at(to);
    if (l.write_done) return;
    if (borrowed_from >= 0) ++at(borrowed_from).borrowed;
    l.out.push_back(std::move(msg));
    if (!l.writing) do_write(to);
}

void ws_pair::enqueue_close(int to, websocket::close_reason reason) {
    leg& l = at(to);
    if (l.write_done || l.close_queued) return;  // the first close is the one sent
    l.close_queued = true;
    l.close_to_send = std::move(reason);
    enqueue(to, outgoing::close(), -1);
}

void ws_pair::do_write(int s) {
    leg& l = at(s);
    if (l.out.empty() || l.writing) return;
    l.writing = true;
    l.write_started = now_ms();
    auto& msg = l.out.front();
    auto self = shared_from_this();
    if (msg.is_close) {
        l.write_done = true;
        l.close_sent = true;
        l.ws.async_close(l.close_to_send, [self, s](beast::error_code ec) { self->on_write(s, ec); });
        return;
    }
    net::const_buffer buf;
    if (msg.borrowed) {
        auto data = at(other(s)).in.cdata();
        buf = net::const_buffer(data.data(), data.size());
    } else {
        buf = net::buffer(msg.owned);
    }
    l.ws.text(msg.text);
    l.ws.async_write(buf, [self, s](beast::error_code ec, std::size_t) { self->on_write(s, ec); });
}

void ws_pair::on_write(int s, beast::error_code ec) {
    leg& l = at(s);
    l.writing = false;
    bool borrowed = l.out.front().borrowed;
    l.out.erase(l.out.begin());
    if (borrowed) release_borrow(other(s));
    if (ec && !l.write_done) {
        // The leg is broken. Its pending read then ends with operation_aborted, so the
        // real cause is kept here for on_leg_ended to report.
        l.write_error = ec;
        l.write_done = true;
        drop_queue(s);
        return;
    }
    if (l.write_done) {
        drop_queue(s);
        return;
    }
    do_write(s);
}

void ws_pair::release_borrow(int s) {
    leg& l = at(s);
    if (--l.borrowed == 0) {
        l.in.consume(l.in.size());
        do_read(s);
    }
}

void ws_pair::drop_queue(int s) {
    leg& l = at(s);
    // An entry being written stays until its handler runs: its buffer is in use.
    while (l.out.size() > (l.writing ? 1u : 0u)) {
        bool borrowed = l.out.back().borrowed;
        l.out.pop_back();
        if (borrowed) release_borrow(other(s));
    }
}

void ws_pair::on_leg_ended(int s, beast::error_code ec) {
    leg& l = at(s);
    if (ec == net::error::operation_aborted && l.write_error) ec = l.write_error;
    l.read_done = true;
    l.write_done = true;  // Beast has answered the close or torn the socket down
    drop_queue(s);
    bool first = closed_by_.empty();
    const char* who = s == client_side ? "client" : "server";
    websocket::close_reason to_other;
    close_reason why;
    if (ec == websocket::error::closed) {
        // A clean close: its code and reason pass through to the other side.
        to_other = l.ws.reason();
        if (to_other.code == websocket::close_code::none)
            to_other.code = websocket::close_code::normal;
        why = s == client_side ? close_reason::client_close : close_reason::server_close;
    } else if (l.slow) {
        to_other = s == client_side
                       ? websocket::close_reason{websocket::close_code::going_away, "client too slow"}
                       : websocket::close_reason{websocket::close_code::try_again_later,
                                                 "upstream too slow"};
        why = close_reason::slow_consumer;
    } else if (ec == beast::error::timeout) {
        to_other = {websocket::close_code::going_away, "idle timeout"};
        why = close_reason::idle_timeout;
    } else if (ec == websocket::error::message_too_big) {
        // Beast has closed the sender with 1009; the other side just loses its peer.
        to_other = {websocket::close_code::going_away,
                    s == client_side ? "client sent a message over the size limit"
                                     : "upstream sent a message over the size limit"};
        why = close_reason::too_big;
    } else if (ec == net::error::operation_aborted && !first) {
        why = close_reason::error;  // our own teardown after the other side ended
    } else if (peer_vanished(ec)) {
        why = s == client_side ? close_reason::client_gone : close_reason::server_gone;
        to_other = s == client_side
                       ? websocket::close_reason{websocket::close_code::going_away, "client went away"}
                       // 1011, not 1014: RFC 6455 clients such as Beast reject 1014 as reserved.
                       : websocket::close_reason{websocket::close_code::internal_error,
                                                 "upstream went away"};
    } else {
        why = close_reason::error;
        to_other = s == client_side
                       ? websocket::close_reason{websocket::close_code::going_away, "client error"}
                       : websocket::close_reason{websocket::close_code::internal_error,
                                                 "upstream error"};
    }
    if (first) {
        closed_by_ = who;
        close_reason_ = ec == websocket::error::closed ? l.ws.reason() : to_other;
        if (ec != websocket::error::closed && why != close_reason::too_big && !l.slow)
            close_reason_ = {websocket::close_code::abnormal, ec.message()};
        if (why == close_reason::too_big) close_reason_ = {websocket::close_code::too_big, ""};
        w_.stats.count(why);
        if (s == server_side && why == close_reason::server_gone)
            w_.stats.count(metrics::upstream_error::closed);
        log::write(log::level::debug, "leg_ended",
                   {{"conn", id_}, {"side", who}, {"error", ec.message()}});
        enqueue_close(other(s), std::move(to_other));
    }
    if (client_.read_done && server_->read_done) finish();
}

void ws_pair::drain() {
    if (!established_ || finished_) return;
    if (closed_by_.empty()) {
        closed_by_ = "proxy";
        close_reason_ = {websocket::close_code::going_away, "proxy shutting down"};
        w_.stats.count(close_reason::drain);
    }
    for (int s : {client_side, server_side})
        enqueue_close(s, {websocket::close_code::going_away, "proxy shutting down"});
}

void ws_pair::ensure_joined(const std::string& chat, std::function<void(bool)> done) {
    if (!established_ || finished_) return done(false);
    actions_.clear();
    bool joined = engine_.on_join_request(chat, now_ms(), actions_);
    run_actions(-1);
    if (joined) return done(true);
    // A failed join settles by the caller's timeout (rare: the engine retries a failed chat
    // only for a new REST message).
    if (engine_.cfg().run_mode == rules::mode::observe) return done(false);
    join_waiters_.emplace_back(chat, std::move(done));
}

void ws_pair::settle_waiters(const std::string& chat, bool joined) {
    for (auto it = join_waiters_.begin(); it != join_waiters_.end();) {
        if (it->first == chat) {
            auto done = std::move(it->second);
            it = join_waiters_.erase(it);
            done(joined);
        } else {
            ++it;
        }
    }
}

void ws_pair::check_write_stall(std::int64_t now) {
    if (!established_ || finished_) return;
    auto limit = static_cast<std::int64_t>(w_.shared.opts.write_timeout * 1000);
    for (int s : {client_side, server_side}) {
        leg& l = at(s);
        if (l.writing && !l.slow && !l.read_done && now - l.write_started >= limit) close_slow(s);
    }
}

void ws_pair::close_slow(int s) {
    leg& l = at(s);
    l.slow = true;
    log::write(log::level::warn, "peer_too_slow",
               {{"conn", id_}, {"side", s == client_side ? "client" : "server"},
                {"write_timeout_s", w_.shared.opts.write_timeout}});
    // The close frame waits behind the stalled write; if the peer reads again it
    // gets the rest and then 1013. If not, the socket is cut a second later.
    l.write_done = true;
    drop_queue(s);
    if (!l.close_sent) {
        l.close_sent = true;
        l.ws.async_close({websocket::close_code::try_again_later, "too slow"},
                         [self = shared_from_this()](beast::error_code) {});
    }
    hard_close_.emplace(w_.ioc, std::chrono::seconds(1));
    hard_close_->async_wait([self = shared_from_this(), s](beast::error_code ec) {
        if (!ec && !self->at(s).read_done) self->at(s).ws.next_layer().close();
    });
}

void ws_pair::arm_timer(rules::millis at) {
    if (timer_at_ != -1 && timer_at_ <= at) return;
    timer_at_ = at;
    timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::milliseconds(at)));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec || self->finished_) return;
        self->timer_at_ = -1;
        self->actions_.clear();
        self->engine_.on_timer(now_ms(), self->actions_);
        self->run_actions(-1);
    });
}

void ws_pair::finish() {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    if (hard_close_) hard_close_->cancel();
    w_.pairs.erase(id_);
    for (auto& [chat, done] : std::exchange(join_waiters_, {})) done(false);
    if (!established_) return;
    if (!session_.empty()) w_.shared.sessions.remove_socket(session_, id_, now_ms());
    w_.stats.connection_closed();
    rules::close_info info;
    info.code = static_cast<int>(close_reason_.code);
    info.reason = std::string(close_reason_.reason.c_str());
    info.closed_by = closed_by_;
    actions_.clear();
    engine_.on_close(info, now_ms(), actions_);
    run_actions(-1);
}

nlohmann::json ws_pair::snapshot() const {
    return connection_snapshot(id_, remote_, opened_ms_, established_, engine_.state());
}

}  // namespace wsproxy
