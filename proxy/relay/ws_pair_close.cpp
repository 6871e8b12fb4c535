// One WebSocket pair's ending: the closing handshake of each leg, the deadlines tick()
// enforces (idle, keep-alive, slow peers, unanswered closes), lingering until the peer's
// FIN, and the teardown that releases the pair's registrations.
//
// Each leg's read and write states and their transitions are tabled in
// relay/leg_state.hpp.

#include <algorithm>
#include <array>

#include "proxy/admin/connections.hpp"
#include "proxy/admin/tap.hpp"
#include "proxy/base/log.hpp"
#include "proxy/net/tcp_progress.hpp"
#include "proxy/relay/ws_pair.hpp"
#include "proxy/relay/ws_pair_internals.hpp"

namespace wsproxy {
namespace net = boost::asio;
namespace beast = boost::beast;
using metrics::close_reason;
using tcp = net::ip::tcp;
using namespace ws_pair_internals;

namespace {

// I/O errors that mean the peer went away without a closing handshake.
bool peer_vanished(const beast::error_code& ec) {
    return ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe || ec == net::error::connection_aborted ||
           ec == net::ssl::error::stream_truncated || ec == net::error::not_connected;
}

}  // namespace

void ws_pair::send_close(int to, std::uint16_t code, std::string_view reason) {
    leg& l = at(to);
    if (!may_write(l.write)) return;  // the first close is the one sent
    l.write = leg_write::close_sent;
    l.close_sent_code = code;
    // 1005 means the peer sent no code: the answer carries none either.
    std::string payload = code == ws::close_code::no_status ? std::string()
                                                            : ws::close_payload(code, reason);
    write_frame(to, ws::opcode::close, payload, false);
    l.close_deadline = now_ms() + millis(w_.shared.opts.handshake_timeout);
    maybe_close_socket(to);
}

void ws_pair::answer_close(int to, std::uint16_t code, std::string_view reason) {
    leg& l = at(to);
    if (l.write != leg_write::open) return;
    if (!established_ || !server_ || !input_open(at(other(to)).read))
        return send_close(to, code, reason);
    l.write = leg_write::answer_due;
    l.answer_code = code;
    l.answer_reason = reason;
}

void ws_pair::send_answer(int to) {
    leg& l = at(to);
    if (l.write != leg_write::answer_due) return;
    send_close(to, l.answer_code, l.answer_reason);
}

// ---- ending ----

void ws_pair::on_io_error(int s, beast::error_code ec) {
    leg& l = at(s);
    if (l.socket_closed()) return;
    if (input_open(l.read))
        leg_ended(s, peer_vanished(ec) ? ended::vanished : ended::error, ws::close_code::abnormal,
                  ec.message());
    close_socket(s);
}

void ws_pair::leg_ended(int s, ended why_ended, std::uint16_t code, std::string_view detail) {
    leg& l = at(s);
    l.read = leg_read::done;
    l.input_end = why_ended;
    // After its close or its own error the peer still gets what the other side sends until
    // the answer (answer_close); after a failure of its connection nothing more is sent.
    if (l.write == leg_write::open && why_ended != ended::closed) l.write = leg_write::done;
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
    // Both directions finished: the peer's close came (or it failed), and ours is out.
    if (l.read != leg_read::done || l.has_output() || may_write(l.write)) return;
    // After a clean closing handshake the backend, as the server, closes TCP first
    // (RFC 6455 7.1.1), so that TIME_WAIT is its own: ours would hold one of our
    // ephemeral ports towards it for a minute per connection.
    if (s == server_side && l.input_end == ended::closed) return await_fin(s, fin_wait_ms, 1 << 20);
    // A peer we closed for its own error may still be sending (the rest of a message over
    // the limit): closing over its unread bytes would send a reset, which can destroy our
    // close frame before it reads it. Say we are done, then drop its input until it closes.
    if (l.input_end == ended::protocol || l.input_end == ended::too_big) {
        beast::error_code ignored;
        l.stream.tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
        return await_fin(s, linger_ms, 2 * w_.shared.opts.max_message_bytes + (1 << 20));
    }
    close_socket(s);
}

void ws_pair::await_fin(int s, std::int64_t wait_ms, std::size_t budget) {
    leg& l = at(s);
    if (l.read != leg_read::draining) {
        l.read = leg_read::draining;
        l.close_deadline = now_ms() + wait_ms;  // tick() closes it then
        l.linger_left = budget;
        // A TLS leg's socket was left blocking for the SSL stream: the read below must
        // not wait on a wake-up that brought nothing.
        beast::error_code ignored;
        l.stream.tcp().socket().non_blocking(true, ignored);
    }
    // Below TLS, on the socket itself: nothing more of the stream is wanted. As in do_read,
    // a read that filled the buffer goes on without waiting.
    if (l.unread) {
        net::post(w_.ioc, [self = shared_from_this(), s] {
            self->guard([&] { self->on_fin_readable(s, {}); });
        });
        return;
    }
    wait_readable(s);
}

void ws_pair::on_fin_readable(int s, beast::error_code ec) {
    leg& l = at(s);
    if (l.socket_closed()) return;
    if (!ec) {
        std::size_t n = l.stream.tcp().socket().read_some(net::buffer(w_.read_buffer), ec);
        l.unread = !ec && n == w_.read_buffer.size();
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
    if (l.socket_closed()) return;
    l.read = leg_read::closed;
    if (l.write != leg_write::close_sent) l.write = leg_write::done;
    l.out.clear();
    l.more.clear();
    l.stream.close();  // pending operations end with operation_aborted
    send_answer(other(s));
    // Nothing the other leg relays can be written any more; it reads to see the close answer.
    resume(other(s));
    if (client_.socket_closed() && (!server_ || server_->socket_closed()))
        finish();
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
        if (l.socket_closed()) continue;
        // A leg still in its handshake has the handshake's deadline; one closing after a
        // failed handshake (on_client_accept) has its close deadline below.
        if (!established_ && l.write != leg_write::close_sent) continue;
        if (l.slow) {
            if (now >= l.cut_at) {
                // It never read its way to our close: cut it.
                if (input_open(l.read)) leg_ended(s, ended::slow, 0, "too slow");
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
        if (l.read == leg_read::draining) {
            if (now >= l.close_deadline) close_socket(s);  // it never closed: we do
            continue;
        }
        if (!input_open(l.read)) continue;
        if (l.write == leg_write::close_sent) {
            if (now >= l.close_deadline) {
                // Our close was never answered.
                leg_ended(s, ended::timeout, 0, "close handshake timed out");
                close_socket(s);
            }
            continue;
        }
        if (l.read == leg_read::paused || l.writing) {
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
            if (!l || l->socket_closed()) continue;
            l->read = leg_read::closed;
            if (l->write != leg_write::close_sent) l->write = leg_write::done;
            l->stream.close();
        }
        finish();
    } catch (...) {
        // finish() released the registrations before anything that can throw; what is left
        // (the rules' on_close, the tap) is lost for this one connection.
    }
}

}  // namespace wsproxy
