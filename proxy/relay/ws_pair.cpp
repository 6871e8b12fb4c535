// One WebSocket pair's construction, reading and relaying: frames are read from either
// leg, handed to the rules engine, and what it decides is written to the legs. The
// opening handshakes are in ws_pair_handshake.cpp, the closing handshake, deadlines and
// teardown in ws_pair_close.cpp.

#include "proxy/relay/ws_pair.hpp"

#include <algorithm>
#include <array>
#include <chrono>

#include "proxy/admin/connections.hpp"
#include "proxy/admin/tap.hpp"
#include "proxy/base/log.hpp"
#include "proxy/relay/ws_pair_internals.hpp"

namespace wsproxy {
namespace net = boost::asio;
namespace beast = boost::beast;
using rules::action;
using tcp = net::ip::tcp;
using namespace ws_pair_internals;

namespace {

// A buffer grown past this by one large message is given back once it is empty.
constexpr std::size_t keep_capacity = 64 * 1024;

log::level to_log_level(rules::log_level l) {
    switch (l) {
        case rules::log_level::debug: return log::level::debug;
        case rules::log_level::info: return log::level::info;
        case rules::log_level::warn: return log::level::warn;
        case rules::log_level::error: return log::level::error;
    }
    return log::level::info;
}

void release_if_large(std::string& s) {
    if (s.empty() && s.capacity() > keep_capacity) std::string().swap(s);
}

// Deflate output for frames to compressing peers, reused by every leg on the thread.
thread_local std::string deflate_scratch;

}  // namespace

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

// ---- reading ----

void ws_pair::do_read(int s) {
    leg& l = at(s);
    if (l.read != leg_read::idle) return;
    l.read = leg_read::reading;
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
    // Read at once when the last read may have left bytes behind (they bring no new edge);
    // posted, so that one busy sender takes turns with the worker's other sockets.
    if (l.unread) {
        net::post(w_.ioc, [self = shared_from_this(), s] {
            self->guard([&] { self->on_readable(s, {}); });
        });
        return;
    }
    wait_readable(s);
}

// Waiting costs no system call (net/edge_wait.hpp): no read is tried that would only say
// EAGAIN, and the socket is not re-armed. At most one wait is pending per leg: an edge is
// taken by the first wait queued, and a second one behind it would wait for the next edge.
void ws_pair::wait_readable(int s) {
    leg& l = at(s);
    if (l.read_waiting) return;
    l.read_waiting = true;
    w_.readable.async_readable(l.stream.tcp().socket(), [self = shared_from_this(), s](beast::error_code ec) {
        self->guard([&] { self->on_edge(s, ec); });
    });
}

// The wait may have been started for the relay's reads or for the lingering close's; the
// read side's state says which one it serves now.
void ws_pair::on_edge(int s, beast::error_code ec) {
    leg& l = at(s);
    l.read_waiting = false;
    if (!ec) l.unread = true;  // this edge is taken: what it announced is ours to read
    if (l.read == leg_read::reading) return on_readable(s, ec);
    if (l.read == leg_read::draining) return on_fin_readable(s, ec);
}

void ws_pair::on_readable(int s, beast::error_code ec) {
    leg& l = at(s);
    if (l.read != leg_read::reading) return;  // the leg ended while the read was posted
    l.read = leg_read::idle;
    if (ec) return on_io_error(s, ec);
    auto& sock = l.stream.tcp().socket();
    auto& buf = w_.read_buffer;
    std::size_t n = sock.read_some(net::buffer(buf), ec);
    l.unread = !ec && n == buf.size();
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
    l.in.resize(old_size + n);
    if (l.read != leg_read::reading) return;  // the leg ended while the read was pending
    l.read = leg_read::idle;
    if (ec) return on_io_error(s, ec);
    process(s, l.in.data(), l.in.size(), true);
}

void ws_pair::process(int s, char* data, std::size_t size, bool in_leg_buffer) {
    leg& l = at(s);
    l.last_read = now_ms();
    l.ping_sent = false;
    std::size_t pos = 0;
    while (input_open(l.read)) {
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
                if (l.write != leg_write::close_sent) answer_close(s, e.code, {});
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
    if (!input_open(l.read)) {
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
        l.read = leg_read::paused;
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
    return (o.has_output() && may_write(o.write)) ||
           (may_write(l.write) && l.sent_back > sent_back_cap);
}

void ws_pair::resume(int s) {
    leg& l = at(s);
    if (l.read != leg_read::paused || must_pause(s)) return;
    l.read = leg_read::idle;
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
                w_.stats.count(metrics::proxy_stat::user_messages, registered ? 0 : 1);
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
    if (!may_write(l.write)) return;
    bool compressed = false;
    if (l.deflate && !payload.empty()) {
        l.deflate->deflate(payload, deflate_scratch);
        payload = deflate_scratch;
        compressed = true;
    }
    send_frame(to, text ? ws::opcode::text : ws::opcode::binary, payload, compressed);
}

void ws_pair::send_frame(int to, ws::opcode op, std::string_view payload, bool compressed) {
    if (!may_write(at(to).write)) return;
    write_frame(to, op, payload, compressed);
}

void ws_pair::write_frame(int to, ws::opcode op, std::string_view payload, bool compressed) {
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
    if (l.socket_closed()) return;
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
    if (l.socket_closed()) return;
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

nlohmann::json ws_pair::snapshot() const {
    return connection_snapshot(id_, remote_, opened_ms_, established_, engine_.state());
}

}  // namespace wsproxy
