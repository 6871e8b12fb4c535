// The closing handshake of one leg, as its flags hold it (issue 17 item 3 turns these into
// enums; until then this table is the list of valid combinations). "Other" is the other leg.
//
//   state        flags                           event                       next
//   open         -                               peer's close or error       answer_due, or
//                                                                            answer_sent when
//                                                                            other has ended
//   open         -                               other ended, drain, slow    close_sent
//   answer_due   read_done, answer_due           other ended (its close,     answer_sent
//                (what other relays still goes    its error, its timeout,
//                 out: relay first, then close)   its socket closed)
//   close_sent   close_sent, write_done          peer's close                answer_sent
//                                                close_deadline passes       ended (timeout)
//   answer_sent  read_done, close_sent           output drained              fin_wait (server,
//                                                                            clean), linger
//                                                                            (its own error) or
//                                                                            socket closed
//   fin_wait     awaiting_fin                    FIN, budget or deadline     socket closed
//   any          -                               I/O error, handler throws   socket closed
//
// tick() reads these: a slow leg (slow) is cut at cut_at; a write that the peer takes
// nothing of for --write-timeout, or less than --min-rate of, makes it slow; fin_wait and
// close_sent end at close_deadline; an open leg idles out or is pinged.

#include "proxy/relay/ws_pair.hpp"

#include <algorithm>
#include <array>
#include <chrono>

#include "proxy/admin/connections.hpp"
#include "proxy/net/headers.hpp"
#include "proxy/base/log.hpp"
#include "proxy/admin/tap.hpp"
#include "proxy/net/tcp_progress.hpp"
#include "proxy/net/upstream_connect.hpp"
#include "proxy/ws/handshake.hpp"
#include "rules/rest.hpp"

namespace wsproxy {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using metrics::close_reason;
using rules::action;
using tcp = net::ip::tcp;

namespace {

constexpr int other(int s) { return 1 - s; }
// A buffer grown past this by one large message is given back once it is empty.
constexpr std::size_t keep_capacity = 64 * 1024;

std::chrono::steady_clock::duration seconds(double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
}

std::int64_t millis(double s) { return static_cast<std::int64_t>(s * 1000); }

log::level to_log_level(rules::log_level l) {
    switch (l) {
        case rules::log_level::debug: return log::level::debug;
        case rules::log_level::info: return log::level::info;
        case rules::log_level::warn: return log::level::warn;
        case rules::log_level::error: return log::level::error;
    }
    return log::level::info;
}

// I/O errors that mean the peer went away without a closing handshake.
bool peer_vanished(const beast::error_code& ec) {
    return ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe || ec == net::error::connection_aborted ||
           ec == net::ssl::error::stream_truncated || ec == net::error::not_connected;
}

void release_if_large(std::string& s) {
    if (s.empty() && s.capacity() > keep_capacity) std::string().swap(s);
}

// Deflate output for frames to compressing peers, reused by every leg on the thread.
thread_local std::string deflate_scratch;

}  // namespace

struct ws_pair::upstream_handshake {
    http::request<http::empty_body> req;
    std::string key;
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
};

ws_pair::ws_pair(worker& w, flex_stream client, request req, std::string remote, std::string early)
    : w_(w),
      id_(w.shared.next_connection_id.fetch_add(1, std::memory_order_relaxed)),
      remote_(std::move(remote)),
      req_(std::move(req)),
      opened_ms_(now_ms()),
      client_(std::move(client), true, w.shared.opts.max_message_bytes),
      engine_(w.shared.rules.load()),
      timer_(w.ioc) {
    client_.in = std::move(early);
}

ws_pair::~ws_pair() { w_.shared.connections.fetch_sub(1, std::memory_order_relaxed); }

std::chrono::milliseconds ws_pair::sweep_interval(const proxy_options& opts) {
    // A quarter of the idle timeout, so that a keep-alive ping at half of it is sent in
    // time; never more than a second, never less than 50 ms.
    double s = std::min({1.0, opts.idle_timeout / 4, opts.handshake_timeout / 2,
                         opts.write_timeout / 2});
    return std::chrono::milliseconds(std::max<std::int64_t>(50, millis(s)));
}

void ws_pair::start() {
    guard([&] { begin(); });
}

void ws_pair::begin() {
    if (auto problem = ws::check_upgrade_request(req_)) {
        w_.stats.count(metrics::handshake_error::bad_request);
        log::write(log::level::info, "client_handshake_failed",
                   {{"conn", id_}, {"error", problem->message}});
        return reject_upgrade(problem->status, "wsproxy: " + problem->message + "\n");
    }
    w_.pairs.emplace(id_, weak_from_this());
    async_connect_upstream(w_.ioc, w_.shared.opts, w_.shared.upstream_tls, [self = shared_from_this()](beast::error_code ec,
                                                           std::string_view stage,
                                                           std::optional<flex_stream> stream) {
        self->guard([&] { self->on_upstream_transport(ec, stage, std::move(stream)); });
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
    const auto& opts = w_.shared.opts;
    server_.emplace(std::move(*stream), false, opts.max_message_bytes);
    handshake_ = std::make_unique<upstream_handshake>();
    auto& hs = *handshake_;
    hs.key = ws::make_key();
    auto& r = hs.req;
    r.method(http::verb::get);
    r.target(req_.target());
    r.version(11);
    std::string host(req_[http::field::host]);
    if (host.empty()) host = opts.upstream.host + ":" + std::to_string(opts.upstream.port);
    r.set(http::field::host, host);
    r.set(http::field::upgrade, "websocket");
    r.set(http::field::connection, "Upgrade");
    r.set(http::field::sec_websocket_key, hs.key);
    r.set(http::field::sec_websocket_version, "13");
    if (opts.permessage_deflate) r.set(http::field::sec_websocket_extensions, ws::deflate_offer);
    // The browser's request, minus what belongs to this hop, plus X-Forwarded-*.
    http::fields forwarded;
    copy_end_to_end(req_, forwarded);
    add_forwarded(forwarded, req_, remote_, client_.stream.is_tls(), w_.shared.trusted.contains(remote_));
    copy_all(forwarded, r);
    hs.parser.header_limit(16 * 1024);
    hs.parser.body_limit(64 * 1024);
    server_->stream.tcp().expires_after(seconds(opts.handshake_timeout));
    http::async_write(server_->stream, r,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          self->guard([&] { self->on_upstream_request_written(ec); });
                      });
}

void ws_pair::on_upstream_request_written(beast::error_code ec) {
    if (ec) return on_upstream_response(ec);
    auto& hs = *handshake_;
    http::async_read(server_->stream, hs.buffer, hs.parser,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         self->guard([&] { self->on_upstream_response(ec); });
                     });
}

void ws_pair::on_upstream_response(beast::error_code ec) {
    auto& hs = *handshake_;
    auto& res = hs.parser.get();
    ws::upstream_verdict verdict;
    if (!ec) verdict = ws::check_upgrade_response(res, hs.key, w_.shared.opts.permessage_deflate);
    if (!ec && verdict.declined) {
        // The backend answered the upgrade with its own status: the browser gets it as is.
        w_.stats.count(metrics::upstream_error::handshake_rejected);
        log::write(log::level::info, "upstream_declined_upgrade",
                   {{"conn", id_}, {"status", res.result_int()}});
        std::string type(res[http::field::content_type]);
        std::string body = std::move(res.body());
        return reject_upgrade(res.result(), std::move(body), type.empty() ? "text/plain" : type,
                              &res.base());
    }
    if (ec || !verdict.error.empty()) {
        bool timeout = ec == beast::error::timeout;
        std::string why = ec ? ec.message() : verdict.error;
        w_.stats.count(timeout ? metrics::upstream_error::timeout
                               : metrics::upstream_error::handshake_rejected);
        log::write(log::level::warn, "upstream_failed",
                   {{"conn", id_}, {"stage", "handshake"}, {"error", why}});
        server_->stream.close();
        return reject_upgrade(timeout ? http::status::gateway_timeout : http::status::bad_gateway,
                              "wsproxy: the upstream WebSocket handshake failed (" + why + ")\n");
    }
    server_->stream.tcp().expires_never();
    if (verdict.deflate) {
        server_->reader.use_deflate(*verdict.deflate, false);
        server_->deflate.emplace(*verdict.deflate, false);
    }
    // Frames the backend sent right behind its 101 (connection_ready, typically).
    auto early = hs.buffer.cdata();
    server_->in.assign(static_cast<const char*>(early.data()), early.size());

    // The browser's 101: the backend's end-to-end headers (its subprotocol choice,
    // cookies) and our own answer to the browser's extension offer.
    auto out = std::make_shared<http::response<http::empty_body>>(http::status::switching_protocols,
                                                                 11);
    out->set(http::field::upgrade, "websocket");
    out->set(http::field::connection, "Upgrade");
    out->set(http::field::sec_websocket_accept,
             ws::accept_for(req_[http::field::sec_websocket_key]));
    if (w_.shared.opts.permessage_deflate) {
        auto offer = req_[http::field::sec_websocket_extensions];
        if (auto agreed = offer.empty() ? std::nullopt : ws::accept_deflate_offer(offer)) {
            out->set(http::field::sec_websocket_extensions, agreed->response);
            client_.reader.use_deflate(agreed->params, true);
            client_.deflate.emplace(agreed->params, true);
        }
    }
    http::fields back;
    copy_end_to_end(res, back);
    copy_all(back, *out);
    handshake_.reset();  // its headers and buffer are not needed any more
    client_.stream.tcp().expires_after(seconds(w_.shared.opts.handshake_timeout));
    http::async_write(client_.stream, *out,
                      [self = shared_from_this(), out](beast::error_code ec, std::size_t) {
                          self->guard([&] { self->on_client_accept(ec); });
                      });
}

void ws_pair::reject_upgrade(http::status status, std::string body, std::string content_type,
                             const http::fields* upstream_headers) {
    auto res = std::make_shared<http::response<http::string_body>>(status, req_.version());
    if (upstream_headers) {
        copy_end_to_end(*upstream_headers, *res);
        res->erase(http::field::content_length);  // set again for the body below
    }
    res->set(http::field::content_type, content_type);
    res->set(http::field::connection, "close");
    if (status == http::status::upgrade_required) res->set(http::field::sec_websocket_version, "13");
    res->body() = std::move(body);
    res->prepare_payload();
    auto& stream = client_.stream;
    stream.tcp().expires_after(seconds(w_.shared.opts.handshake_timeout));
    http::async_write(stream, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) {
        self->guard([&] {
            self->client_.stream.close();
            self->finish();
        });
    });
}

void ws_pair::on_client_accept(beast::error_code ec) {
    if (ec) {
        w_.stats.count(ec == beast::error::timeout ? metrics::handshake_error::timeout
                                                   : metrics::handshake_error::bad_request);
        log::write(log::level::info, "client_handshake_failed",
                   {{"conn", id_}, {"error", ec.message()}});
        // The backend has accepted us: it gets a proper close.
        client_.read_done = client_.write_done = client_.socket_closed = true;
        client_.stream.close();
        server_->stream.tcp().socket().non_blocking(true, ec);
        send_close(server_side, ws::close_code::going_away, "client went away");
        do_read(server_side);
        return;
    }
    client_.stream.tcp().expires_never();
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
    auto now = now_ms();
    session_ = rules::session_of(cfg, info.headers);
    if (!session_.empty()) {
        w_.shared.sessions.add_socket(session_, &w_, id_, now);
        session_touched_ = now;
        if (cfg.rejoin.enabled)
            info.remembered_chats = w_.shared.sessions.remembered_chats(
                session_, now, static_cast<std::int64_t>(cfg.rejoin.ttl_s) * 1000,
                &info.remembered_conns);
    }
    {
        // The query stays out: it may carry tokens. The user agent is cut at 256 bytes.
        beast::error_code peer_ec;
        auto peer = client_.stream.tcp().socket().remote_endpoint(peer_ec);
        std::string remote = remote_;
        if (!peer_ec)
            remote = (peer.address().is_v6() ? "[" + remote_ + "]" : remote_) + ":" +
                     std::to_string(peer.port());
        log::write(log::level::info, "connection_opened",
                   {{"conn", id_},
                    {"remote", remote},
                    {"path", std::string(req_.target().substr(0, req_.target().find('?')))},
                    {"user_agent", std::string(req_[http::field::user_agent].substr(0, 256))}});
    }
    // Plain sockets are read and written without blocking, by hand (do_read, write_bytes).
    for (int s : {client_side, server_side}) {
        leg& l = at(s);
        l.last_read = now;
        if (!l.stream.is_tls()) l.stream.tcp().socket().non_blocking(true, ec);
    }
    actions_.clear();
    engine_.on_open(info, now, actions_);
    run_actions(-1);
    // The request is no longer needed; its headers may be large.
    req_ = {};
    // Bytes that came with the handshakes are the first frames.
    for (int s : {client_side, server_side}) {
        leg& l = at(s);
        if (!l.in.empty() && !l.read_done) process(s, l.in.data(), l.in.size(), true);
        else do_read(s);
    }
}

// ---- reading ----

void ws_pair::do_read(int s) {
    leg& l = at(s);
    if (l.read_done || l.reading || l.paused) return;
    l.reading = true;
    if (auto* tls = l.stream.tls()) {
        // TLS may hold decrypted bytes the socket no longer signals: read through it, into
        // the leg's own buffer, one record (16 KiB) at a time. (resize() fills what it adds:
        // a room the size of the spare capacity made a large message quadratic.)
        std::size_t old = l.in.size();
        constexpr std::size_t room = 16 * 1024;
        l.in.resize(old + room);
        tls->async_read_some(net::buffer(l.in.data() + old, room),
                             [self = shared_from_this(), s, old](beast::error_code ec,
                                                                 std::size_t n) {
                                 self->guard([&] { self->on_tls_read(s, ec, old, n); });
                             });
        return;
    }
    // Wait for readability, then read once: no read is tried that would only say EAGAIN.
    l.stream.tcp().socket().async_wait(
        tcp::socket::wait_read,
        [self = shared_from_this(), s](beast::error_code ec) { self->guard([&] { self->on_readable(s, ec); }); });
}

void ws_pair::on_readable(int s, beast::error_code ec) {
    leg& l = at(s);
    l.reading = false;
    if (l.read_done) return;
    if (ec) return on_io_error(s, ec);
    auto& sock = l.stream.tcp().socket();
    auto& buf = w_.read_buffer;
    std::size_t n = sock.read_some(net::buffer(buf), ec);
    if (ec == net::error::would_block) return do_read(s);
    if (ec) return on_io_error(s, ec);
    // The usual case: whole frames arrive, are relayed from the shared buffer and nothing
    // is kept.
    if (l.in.empty()) return process(s, buf.data(), n, false);
    // The rest of a frame: appended to what is kept. (Reading behind it instead means
    // resizing first, and resize() fills what it adds: a slow sender of a large message
    // paid that fill on every small read.)
    l.in.append(buf.data(), n);
    process(s, l.in.data(), l.in.size(), true);
}

void ws_pair::on_tls_read(int s, beast::error_code ec, std::size_t old_size, std::size_t n) {
    leg& l = at(s);
    l.reading = false;
    l.in.resize(old_size + n);
    if (l.read_done) return;
    if (ec) return on_io_error(s, ec);
    process(s, l.in.data(), l.in.size(), true);
}

void ws_pair::process(int s, char* data, std::size_t size, bool in_leg_buffer) {
    leg& l = at(s);
    l.last_read = now_ms();
    l.ping_sent = false;
    std::size_t pos = 0;
    while (!l.read_done) {
        ws::event e = l.reader.next(data, size, pos);
        using kind = ws::event::kind;
        if (e.what == kind::need_more) break;
        switch (e.what) {
            case kind::message:
                on_message(s, e);
                break;
            case kind::ping: {
                // Answered on this leg, as an endpoint would; not relayed. While output
                // waits, only the latest ping gets its pong, once the output is out
                // (RFC 6455 5.5.3 allows it): a peer that pings and never reads cannot
                // make us queue pongs without bound.
                if (l.has_output()) {
                    l.pong.assign(e.payload);
                    l.pong_due = true;
                    break;
                }
                send_frame(s, ws::opcode::pong, e.payload, false);
                break;
            }
            case kind::pong:
                break;
            case kind::close:
                l.close_received = e.code;
                // The peer starts the closing handshake: echo its code (RFC 6455 5.5.1), once
                // the other side has answered its own close.
                if (!l.close_sent) answer_close(s, e.code, {});
                leg_ended(s, ended::closed, e.code, e.payload);
                break;
            case kind::error:
                answer_close(s, e.code, e.error);
                leg_ended(s, e.code == ws::close_code::too_big ? ended::too_big : ended::protocol,
                          e.code, e.error);
                break;
            case kind::need_more:
                break;
        }
    }
    if (l.read_done) {
        l.in.clear();
        release_if_large(l.in);
        return maybe_close_socket(s);
    }
    // Keep an incomplete frame's bytes for the next read.
    if (in_leg_buffer) {
        l.in.erase(0, pos);
        release_if_large(l.in);
    } else {
        l.in.assign(data + pos, size - pos);
    }
    if (must_pause(s))
        l.paused = true;
    else
        do_read(s);
}

// Back-pressure: a leg reads no more while the other leg still holds what it relayed, or
// while its own peer has not taken more than sent_back_cap of what the rules sent back to
// it in answer to its own frames. (Relayed bytes must not count there: a backend that
// writes a large answer before reading would then never be read again.)
bool ws_pair::must_pause(int s) {
    constexpr std::size_t sent_back_cap = 1 << 20;
    if (!server_) return false;
    const leg& o = at(other(s));
    const leg& l = at(s);
    return (o.has_output() && !o.write_done) || (!l.write_done && l.sent_back > sent_back_cap);
}

void ws_pair::resume(int s) {
    leg& l = at(s);
    if (!l.paused || must_pause(s)) return;
    l.paused = false;
    do_read(s);
}

void ws_pair::on_message(int s, const ws::event& e) {
    if (!established_) return;  // the browser's handshake failed; the backend is being closed
    auto dir = s == client_side ? rules::direction::client_to_server
                                : rules::direction::server_to_client;
    std::string_view payload = e.payload;
    w_.stats.count(metrics::proxy_stat::bytes, static_cast<std::uint32_t>(dir), payload.size());
    // One clock read gives both the engine's time and the start of the processing time.
    auto started = std::chrono::steady_clock::now();
    auto now = to_ms(started);
    if (fault_for_tests) fault_for_tests(payload);
    actions_.clear();
    engine_.on_frame(dir, payload, e.text, now, actions_);
    w_.stats.observe_frame_processing(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                             started)
            .count()));
    // The payload lies in a buffer of ours (the read buffer, the leg's, the reader's),
    // valid until the next read: a forward sends it from there.
    frame_data_ = payload.data();
    frame_size_ = payload.size();
    frame_text_ = e.text;
    run_actions(s);
    frame_data_ = nullptr;
    if (s == client_side && !session_.empty()) {
        // Coarse activity for the "most recent socket" policy: at most once a second.
        if (now - session_touched_ >= 1000) {
            session_touched_ = now;
            w_.shared.sessions.touch_socket(session_, id_, now);
        }
    }
}

void ws_pair::run_actions(int from) {
    if (tap::hub* t = w_.shared.tap; t && t->watching()) {
        std::string_view frame;
        if (from >= 0) frame = std::string_view(frame_data_, frame_size_);
        t->publish(id_, engine_, actions_,
                   from < 0 ? std::nullopt
                            : std::optional(from == client_side ? rules::direction::client_to_server
                                                                : rules::direction::server_to_client),
                   frame, from >= 0 ? frame_text_ : true, w_.stats);
    }
    // Run from a list of our own: an action can end the pair (a write fails on both legs),
    // and finish() then fills actions_ with the engine's on_close while we iterate.
    rules::actions list = std::move(actions_);
    const bool finished_before = finished_;  // finish() runs its own on_close actions
    for (auto& a : list) {
        if (finished_ && !finished_before) break;  // the pair ended under us: nothing left to do
        switch (a.what) {
            case action::kind::forward:
                if (from >= 0)
                    send_data(other(from), std::string_view(frame_data_, frame_size_), frame_text_);
                break;
            case action::kind::replace:
                if (from >= 0) send_data(other(from), a.payload, true);
                break;
            case action::kind::hide:
                break;
            case action::kind::inject: {
                int to = a.to == rules::direction::client_to_server ? server_side : client_side;
                send_data(to, a.payload, true);
                // Sent back to the leg whose frame caused it: its own back-pressure.
                if (to == from && at(to).has_output()) at(to).sent_back += a.payload.size();
                break;
            }
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
                                                     engine_.cfg().rejoin.max_chats, id_);
                settle_waiters(a.chat_id, true);
                break;
            case action::kind::chat_unregistered:
                w_.shared.chats.remove(a.chat_id);
                break;
            case action::kind::chat_join_failed:
                settle_waiters(a.chat_id, false);
                break;
            case action::kind::observe:
                w_.stats.observe(metrics::histogram_of(a.histogram),
                                 static_cast<std::uint64_t>(a.elapsed) * 1'000'000);
                break;
        }
    }
    actions_ = std::move(list);  // its storage is reused for the next frame
}

// ---- writing ----

void ws_pair::send_data(int to, std::string_view payload, bool text) {
    leg& l = at(to);
    if (l.write_done) return;
    bool compressed = false;
    if (l.deflate && !payload.empty()) {
        l.deflate->deflate(payload, deflate_scratch);
        payload = deflate_scratch;
        compressed = true;
    }
    send_frame(to, text ? ws::opcode::text : ws::opcode::binary, payload, compressed);
}

void ws_pair::send_frame(int to, ws::opcode op, std::string_view payload, bool compressed) {
    leg& l = at(to);
    if (l.write_done) return;
    std::array<unsigned char, 14> head;
    if (to == client_side) {
        std::size_t head_size = ws::write_header(head.data(), op, payload.size(), compressed, 0);
        return write_bytes(to, head.data(), head_size, payload.data(), payload.size());
    }
    // Frames to the backend are masked (RFC 6455 5.3). Not in place: the caller's bytes may
    // still be read after this (the tap, a second action on the same frame, a pong kept).
    std::uint32_t key = w_.next_mask_key();
    std::size_t head_size = ws::write_header(head.data(), op, payload.size(), compressed, key);
    write_masked(to, head.data(), head_size, payload, key);
}

void ws_pair::send_close(int to, std::uint16_t code, std::string_view reason) {
    leg& l = at(to);
    if (l.write_done || l.close_sent) return;  // the first close is the one sent
    l.close_sent = true;
    l.close_sent_code = code;
    // 1005 means the peer sent no code: the answer carries none either.
    std::string payload = code == ws::close_code::no_status ? std::string()
                                                            : ws::close_payload(code, reason);
    send_frame(to, ws::opcode::close, payload, false);
    l.write_done = true;
    l.close_deadline = now_ms() + millis(w_.shared.opts.handshake_timeout);
    maybe_close_socket(to);
}

void ws_pair::answer_close(int to, std::uint16_t code, std::string_view reason) {
    leg& l = at(to);
    if (l.close_sent || l.write_done || l.answer_due) return;
    if (!established_ || !server_ || at(other(to)).read_done) return send_close(to, code, reason);
    l.answer_due = true;
    l.answer_code = code;
    l.answer_reason = reason;
}

void ws_pair::send_answer(int to) {
    leg& l = at(to);
    if (!l.answer_due) return;
    l.answer_due = false;
    send_close(to, l.answer_code, l.answer_reason);
}

void ws_pair::write_bytes(int to, const unsigned char* head, std::size_t head_size,
                          const char* data, std::size_t size) {
    leg& l = at(to);
    std::size_t sent = 0;
    if (!l.has_output() && !l.stream.is_tls()) {
        // Nothing queued: try the frame at once, header and payload in one sendmsg.
        std::array<net::const_buffer, 2> bufs{net::const_buffer(head, head_size),
                                              net::const_buffer(data, size)};
        beast::error_code ec;
        sent = l.stream.tcp().socket().send(bufs, 0, ec);
        if (ec && ec != net::error::would_block) return on_io_error(to, ec);
        if (sent == head_size + size) return;
    }
    // The rest waits for the peer to read: copied, since the source buffer is reused.
    std::string& q = l.writing && l.stream.is_tls() ? l.more : l.out;
    if (sent < head_size) {
        q.append(reinterpret_cast<const char*>(head) + sent, head_size - sent);
        q.append(data, size);
    } else {
        q.append(data + (sent - head_size), size - (sent - head_size));
    }
    if (!l.writing) start_write(to);
}

// The masked copy is made where it would be queued anyway, the leg's output, and sent from
// there: one pass over the payload, as masking in place was, and no scratch to keep.
void ws_pair::write_masked(int to, const unsigned char* head, std::size_t head_size,
                           std::string_view payload, std::uint32_t key) {
    leg& l = at(to);
    const bool idle = !l.has_output();
    std::string& q = l.writing && l.stream.is_tls() ? l.more : l.out;
    const std::size_t at_start = q.size();
    q.append(reinterpret_cast<const char*>(head), head_size);
    q.append(payload);
    ws::apply_mask(q.data() + at_start + head_size, payload.size(), key);
    if (l.writing) return;
    if (idle && !l.stream.is_tls()) {
        // Nothing was queued: try it at once, as write_bytes does.
        beast::error_code ec;
        std::size_t sent = l.stream.tcp().socket().send(
            net::buffer(l.out.data() + l.out_sent, l.out.size() - l.out_sent), 0, ec);
        if (ec && ec != net::error::would_block) return on_io_error(to, ec);
        l.out_sent += sent;
        if (l.out_sent == l.out.size()) {
            l.out.clear();
            l.out_sent = 0;
            release_if_large(l.out);
            return;
        }
    }
    start_write(to);
}

void ws_pair::start_write(int to) {
    leg& l = at(to);
    l.writing = true;
    l.write_started = now_ms();
    if (auto* tls = l.stream.tls()) {
        net::async_write(*tls, net::buffer(l.out.data() + l.out_sent, l.out.size() - l.out_sent),
                         [self = shared_from_this(), to](beast::error_code ec, std::size_t) {
                             self->guard([&] { self->on_tls_written(to, ec); });
                         });
        return;
    }
    l.stream.tcp().socket().async_wait(
        tcp::socket::wait_write,
        [self = shared_from_this(), to](beast::error_code ec) { self->guard([&] { self->on_writable(to, ec); }); });
}

void ws_pair::on_writable(int to, beast::error_code ec) {
    leg& l = at(to);
    l.writing = false;
    if (l.socket_closed) return;
    if (ec) return on_io_error(to, ec);
    std::size_t n = l.stream.tcp().socket().send(
        net::buffer(l.out.data() + l.out_sent, l.out.size() - l.out_sent), 0, ec);
    if (ec && ec != net::error::would_block) return on_io_error(to, ec);
    l.out_sent += n;
    if (l.out_sent < l.out.size()) return start_write(to);
    l.out.clear();
    l.out_sent = 0;
    release_if_large(l.out);
    on_drained(to);
}

void ws_pair::on_tls_written(int to, beast::error_code ec) {
    leg& l = at(to);
    l.writing = false;
    if (l.socket_closed) return;
    if (ec) return on_io_error(to, ec);
    l.out.clear();
    l.out_sent = 0;
    if (!l.more.empty()) {
        std::swap(l.out, l.more);
        return start_write(to);
    }
    release_if_large(l.out);
    release_if_large(l.more);
    on_drained(to);
}

void ws_pair::on_drained(int to) {
    leg& l = at(to);
    l.sent_back = 0;
    if (l.pong_due) {
        l.pong_due = false;
        send_frame(to, ws::opcode::pong, l.pong, false);
        if (l.has_output()) return;  // drained again later
    }
    maybe_close_socket(to);
    // What either leg sent to this one is out: they may read again.
    resume(other(to));
    resume(to);
}

// ---- ending ----

void ws_pair::on_io_error(int s, beast::error_code ec) {
    leg& l = at(s);
    if (l.socket_closed) return;
    if (!l.read_done)
        leg_ended(s, peer_vanished(ec) ? ended::vanished : ended::error, ws::close_code::abnormal,
                  ec.message());
    close_socket(s);
}

void ws_pair::leg_ended(int s, ended why_ended, std::uint16_t code, std::string_view detail) {
    leg& l = at(s);
    l.read_done = true;
    l.closed_cleanly = why_ended == ended::closed;
    l.linger = why_ended == ended::protocol || why_ended == ended::too_big;
    // After its close or its own error the peer still gets what the other side sends until
    // the answer (answer_close); after a failure of its connection nothing more is sent.
    if (!l.answer_due && why_ended != ended::closed) l.write_done = true;
    // The other leg waited for this one to end before answering its peer's close.
    send_answer(other(s));
    // Only the first leg to end decides what the other side is told and what is counted.
    if (!closed_by_.empty() || !established_) return;
    bool client = s == client_side;
    std::uint16_t to_other_code = ws::close_code::going_away;
    std::string to_other;
    close_reason why = close_reason::error;
    // What the engine's on_close sees: the peer's code, or 1006 when there was none.
    close_code_ = ws::close_code::abnormal;
    close_text_ = std::string(detail);
    switch (why_ended) {
        case ended::closed:
            // A clean close: its code and reason pass through to the other side.
            to_other_code = code == ws::close_code::no_status ? ws::close_code::normal : code;
            to_other = detail;
            why = client ? close_reason::client_close : close_reason::server_close;
            close_code_ = code;
            break;
        case ended::slow:
            to_other_code = client ? ws::close_code::going_away : ws::close_code::try_again_later;
            to_other = client ? "client too slow" : "upstream too slow";
            why = close_reason::slow_consumer;
            close_code_ = to_other_code;
            close_text_ = to_other;
            break;
        case ended::timeout:
            to_other = "idle timeout";
            why = close_reason::idle_timeout;
            break;
        case ended::too_big:
            // The sender got 1009; the other side just loses its peer.
            to_other = client ? "client sent a message over the size limit"
                              : "upstream sent a message over the size limit";
            why = close_reason::too_big;
            close_code_ = ws::close_code::too_big;
            close_text_.clear();
            break;
        case ended::vanished:
            why = client ? close_reason::client_gone : close_reason::server_gone;
            // 1011, not 1014: RFC 6455 clients such as Beast reject 1014 as reserved.
            to_other_code = client ? ws::close_code::going_away : ws::close_code::internal_error;
            to_other = client ? "client went away" : "upstream went away";
            break;
        case ended::protocol:
        case ended::error:
            why = close_reason::error;
            to_other_code = client ? ws::close_code::going_away : ws::close_code::internal_error;
            to_other = client ? "client error" : "upstream error";
            if (why_ended == ended::protocol) close_code_ = code;
            break;
    }
    closed_by_ = client ? "client" : "server";
    close_why_ = why;
    w_.stats.count(why);
    if (s == server_side && why == close_reason::server_gone)
        w_.stats.count(metrics::upstream_error::closed);
    log::write(log::level::debug, "leg_ended",
               {{"conn", id_}, {"side", closed_by_}, {"error", std::string(detail)}});
    send_close(other(s), to_other_code, to_other);
}

void ws_pair::maybe_close_socket(int s) {
    leg& l = at(s);
    if (l.socket_closed || l.has_output() || l.awaiting_fin) return;
    // Both directions finished: the peer's close came (or it failed), and ours is out.
    if (!l.read_done || !(l.write_done || l.close_sent)) return;
    // After a clean closing handshake the backend, as the server, closes TCP first
    // (RFC 6455 7.1.1), so that TIME_WAIT is its own: ours would hold one of our
    // ephemeral ports towards it for a minute per connection.
    if (s == server_side && l.closed_cleanly) return await_fin(s, fin_wait_ms, 1 << 20);
    // A peer we closed for its own error may still be sending (the rest of a message over
    // the limit): closing over its unread bytes would send a reset, which can destroy our
    // close frame before it reads it. Say we are done, then drop its input until it closes.
    if (l.linger) {
        beast::error_code ignored;
        l.stream.tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
        return await_fin(s, linger_ms, 2 * w_.shared.opts.max_message_bytes + (1 << 20));
    }
    close_socket(s);
}

void ws_pair::await_fin(int s, std::int64_t wait_ms, std::size_t budget) {
    leg& l = at(s);
    if (!l.awaiting_fin) {
        l.awaiting_fin = true;
        l.close_deadline = now_ms() + wait_ms;  // tick() closes it then
        l.linger_left = budget;
        // A TLS leg's socket was left blocking for the SSL stream: the read below must
        // not wait on a wake-up that brought nothing.
        beast::error_code ignored;
        l.stream.tcp().socket().non_blocking(true, ignored);
    }
    // Below TLS, on the socket itself: nothing more of the stream is wanted.
    l.stream.tcp().socket().async_wait(
        tcp::socket::wait_read,
        [self = shared_from_this(), s](beast::error_code ec) { self->guard([&] { self->on_fin_readable(s, ec); }); });
}

void ws_pair::on_fin_readable(int s, beast::error_code ec) {
    leg& l = at(s);
    if (l.socket_closed) return;
    if (!ec) {
        std::size_t n = l.stream.tcp().socket().read_some(net::buffer(w_.read_buffer), ec);
        // Bytes after the close are dropped; the FIN is what we wait for.
        if (ec == net::error::would_block) return await_fin(s, 0, 0);
        if (!ec && n > 0 && n < l.linger_left) {
            l.linger_left -= n;
            return await_fin(s, 0, 0);
        }
    }
    close_socket(s);  // the FIN (or an error): our side ends without TIME_WAIT
}

void ws_pair::close_socket(int s) {
    leg& l = at(s);
    if (l.socket_closed) return;
    l.socket_closed = l.read_done = l.write_done = true;
    l.answer_due = false;
    l.out.clear();
    l.more.clear();
    l.stream.close();  // pending operations end with operation_aborted
    send_answer(other(s));
    // Nothing the other leg relays can be written any more; it reads to see the close answer.
    resume(other(s));
    if (client_.socket_closed && (!server_ || server_->socket_closed)) finish();
}

void ws_pair::tick(std::int64_t now) {
    guard([&] { check_deadlines(now); });
}

void ws_pair::check_deadlines(std::int64_t now) {
    if (finished_ || !server_) return;
    const auto& opts = w_.shared.opts;
    auto idle = millis(opts.idle_timeout);
    auto write_limit = millis(opts.write_timeout);
    for (int s : {client_side, server_side}) {
        leg& l = at(s);
        if (l.socket_closed) continue;
        // A leg still in its handshake has the handshake's deadline; one closing after a
        // failed handshake (on_client_accept) has its close deadline below.
        if (!established_ && !l.close_sent) continue;
        if (l.slow) {
            if (now >= l.cut_at) {
                // It never read its way to our close: cut it.
                if (!l.read_done) leg_ended(s, ended::slow, 0, "too slow");
                close_socket(s);
            }
            continue;
        }
        // A write the peer takes nothing of, for --write-timeout: too slow. Checked even
        // after the peer's close came, or a peer that closes and never reads what was
        // queued before its close would hold the pair open for ever.
        if (l.writing) {
            if (peer_took_bytes(l)) {
                l.write_started = now;
            } else if (now - l.write_started >= write_limit) {
                close_slow(s, now, metrics::slow_cause::stalled);
                continue;
            }
        }
        if (below_min_rate(l, now)) {
            close_slow(s, now, metrics::slow_cause::below_min_rate);
            continue;
        }
        if (l.awaiting_fin) {
            if (now >= l.close_deadline) close_socket(s);  // it never closed: we do
            continue;
        }
        if (l.read_done) continue;
        if (l.close_sent) {
            if (now >= l.close_deadline) {
                // Our close was never answered.
                leg_ended(s, ended::timeout, 0, "close handshake timed out");
                close_socket(s);
            }
            continue;
        }
        if (l.paused || l.writing) {
            // Not idle: waiting for the other side to take what it sent, or taking what we
            // send (the write-stall check above watches that). The idle clock starts again
            // from here.
            l.last_read = now;
            continue;
        }
        if (now - l.last_read >= idle) {
            leg_ended(s, ended::timeout, 0, "idle timeout");
            close_socket(s);
        } else if (opts.keepalive_pings && !l.ping_sent && now - l.last_read >= idle / 2) {
            l.ping_sent = true;
            send_frame(s, ws::opcode::ping, {}, false);
        }
    }
}

// Whether the peer acknowledged more of our bytes since the last look: a write that waits
// is not stalled while they go. (Our own writes complete only in jumps: the kernel wakes a
// blocked writer once a third of its send buffer, up to 4 MB, is free, and a slow but
// steady reader can take longer than --write-timeout to free that much.)
bool ws_pair::peer_took_bytes(leg& l) {
    std::int64_t acked = tcp_bytes_acked(l.stream.tcp().socket().native_handle());
    bool more = l.acked >= 0 && acked > l.acked;
    l.acked = acked;
    return more;
}

bool ws_pair::below_min_rate(leg& l, std::int64_t now) {
    const auto& opts = w_.shared.opts;
    if (opts.min_rate_bytes == 0 || !l.has_output()) {
        l.rate_since = -1;  // nothing waits for this peer: it owes no rate
        return false;
    }
    std::int64_t acked = tcp_bytes_acked(l.stream.tcp().socket().native_handle());
    if (acked < 0) return false;  // the kernel cannot say: no verdict
    if (l.rate_since < 0 || now - l.rate_since >= millis(opts.min_rate_seconds)) {
        bool too_little = l.rate_since >= 0 &&
                          static_cast<std::uint64_t>(acked - l.rate_acked) < opts.min_rate_bytes;
        l.rate_since = now;
        l.rate_acked = acked;
        return too_little;
    }
    return false;
}

void ws_pair::close_slow(int s, std::int64_t now, metrics::slow_cause cause) {
    leg& l = at(s);
    l.slow = true;
    w_.stats.count(cause);
    const auto& opts = w_.shared.opts;
    nlohmann::json fields = {{"conn", id_}, {"side", s == client_side ? "client" : "server"}};
    if (cause == metrics::slow_cause::stalled) {
        fields["write_timeout_s"] = opts.write_timeout;
    } else {
        fields["min_rate_bytes"] = opts.min_rate_bytes;
        fields["min_rate_seconds"] = opts.min_rate_seconds;
    }
    log::write(log::level::warn, "peer_too_slow", fields);
    // The close frame waits behind the stalled bytes; if the peer reads again it gets
    // the rest and then 1013. If not, the socket is cut a second later (tick).
    send_close(s, ws::close_code::try_again_later, "too slow");
    l.cut_at = now + 1000;
}

void ws_pair::drain() {
    guard([&] { close_both(); });
}

void ws_pair::close_both() {
    if (!established_ || finished_) return;
    if (closed_by_.empty()) {
        closed_by_ = "proxy";
        close_code_ = ws::close_code::going_away;
        close_text_ = "proxy shutting down";
        close_why_ = close_reason::drain;
        w_.stats.count(close_reason::drain);
    }
    for (int s : {client_side, server_side})
        send_close(s, ws::close_code::going_away, "proxy shutting down");
}

void ws_pair::ensure_joined(const std::string& chat, std::function<void(bool)> done,
                            const std::string& cause) {
    if (!established_ || finished_) return done(false);
    actions_.clear();
    const auto now = now_ms();
    bool joined = engine_.on_join_request(chat, now, actions_, cause);
    // The REST message is on its way: its answer is expected on this socket (answer SLIs).
    engine_.on_rest_message(chat, now, actions_);
    run_actions(-1);
    if (joined) return done(true);
    // Settled by the backend's answer (chat_registered or chat_join_failed), by the socket
    // closing, or else by the caller's timeout.
    if (engine_.cfg().run_mode == rules::mode::observe) return done(false);
    // Requests that gave up waiting leave their waiter here until the backend answers:
    // bounded, the oldest is told "not joined" first.
    if (join_waiters_.size() >= max_join_waiters) {
        auto oldest = std::move(join_waiters_.front().second);
        join_waiters_.erase(join_waiters_.begin());
        oldest(false);
    }
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

void ws_pair::arm_timer(rules::millis at) {
    if (timer_at_ != -1 && timer_at_ <= at) return;
    timer_at_ = at;
    timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::milliseconds(at)));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec || self->finished_) return;
        self->guard([&] {
            self->timer_at_ = -1;
            self->actions_.clear();
            self->engine_.on_timer(now_ms(), self->actions_);
            self->run_actions(-1);
        });
    });
}

void ws_pair::finish() {
    if (finished_) return;
    finished_ = true;
    // The registrations first: what follows runs the rules and callbacks, which may throw
    // (fail_hard then finds the pair finished and these already released).
    w_.pairs.erase(id_);
    if (established_) {
        if (!session_.empty()) w_.shared.sessions.remove_socket(session_, id_, now_ms());
        w_.stats.connection_closed();
    }
    timer_.cancel();
    for (auto& [chat, done] : std::exchange(join_waiters_, {})) done(false);
    if (!established_) return;
    rules::close_info info;
    info.code = close_code_;
    info.reason = close_text_;
    info.closed_by = closed_by_;
    // Each leg's code for the log: what its peer sent, else what we sent, else 1006.
    const auto leg_code = [](const leg& l) -> int {
        if (l.close_received) return l.close_received;
        if (l.close_sent_code) return l.close_sent_code;
        return ws::close_code::abnormal;
    };
    info.client_code = leg_code(client_);
    info.server_code = server_ ? leg_code(*server_) : 0;
    actions_.clear();
    engine_.on_close(info, now_ms(), actions_);
    run_actions(-1);
    // Listed under /connections' "closed" for a while, with the code each peer sent.
    if (tap::hub* t = w_.shared.tap)
        t->closed(closed_record(id_, snapshot(), now_ms() - opened_ms_, client_.close_received,
                                server_ ? server_->close_received : 0, close_why_),
                  w_.stats);
}

void ws_pair::fail_hard(const char* what) noexcept {
    try {
        if (!failed_hard_) {
            failed_hard_ = true;
            log::write(log::level::error, "handler_failed",
                       {{"conn", id_},
                        {"error", what},
                        {"hint", "the connection was closed and its state released; please "
                                 "report this with the log around it"}});
        }
        if (finished_) return;
        if (established_ && closed_by_.empty()) {
            closed_by_ = "proxy";
            close_text_ = what;
            w_.stats.count(close_reason::error);
        }
        // No close frames: the state that threw cannot be trusted to write them.
        for (leg* l : {&client_, server_ ? &*server_ : nullptr}) {
            if (!l || l->socket_closed) continue;
            l->socket_closed = l->read_done = l->write_done = true;
            l->answer_due = false;
            l->stream.close();
        }
        finish();
    } catch (...) {
        // finish() released the registrations before anything that can throw; what is left
        // (the rules' on_close, the tap) is lost for this one connection.
    }
}

nlohmann::json ws_pair::snapshot() const {
    return connection_snapshot(id_, remote_, opened_ms_, established_, engine_.state());
}

}  // namespace wsproxy
