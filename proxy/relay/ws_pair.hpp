#pragma once
// One proxied WebSocket connection: the browser leg, the backend leg and the
// rules engine between them. Owns itself (every pending operation holds a
// shared_ptr) and lives on one worker thread from upgrade to close.
//
// The legs speak WebSocket through ws::reader and ws::write_header over the
// bare socket: a plain leg waits for readability as nginx does (registered once,
// edge-triggered: net/edge_wait.hpp), reads what is there into the worker's
// shared buffer, and writes each frame with one sendmsg, falling back to waiting
// for writability only when the peer's window is full. (Beast's
// websocket::stream per leg cost two read buffers per connection, an extra
// recvmsg per message and a timer re-armed on every read; bench/README.md.)
#include <boost/beast/http.hpp>
#include <cstdint>
#include <exception>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "proxy/net/flex_stream.hpp"
#include "proxy/relay/leg_state.hpp"
#include "proxy/relay/worker.hpp"
#include "proxy/ws/frame.hpp"
#include "rules/engine.hpp"

namespace wsproxy {

class ws_pair : public std::enable_shared_from_this<ws_pair> {
public:
    using request = boost::beast::http::request<boost::beast::http::string_body>;

    // `early` holds bytes the browser sent after its upgrade request (already read).
    ws_pair(worker& w, flex_stream client, request req, std::string remote, std::string early);
    ~ws_pair();

    // Connects upstream, completes both handshakes, then relays until either side closes.
    void start();
    // Graceful drain: both legs get close 1001 after the frames already queued.
    void drain();
    // A REST message of this socket's session is about to go upstream for `chat`:
    // make sure this socket is registered for it. `done(true)` once the backend
    // acknowledged the join (at once if it already had), `done(false)` when no
    // join is coming (observe mode, a failed join, the socket closing). Runs on
    // this pair's thread; `done` is called there too.
    // `cause`: the REST request ("METHOD /path"), shown as the reason's cause (tap, log).
    void ensure_joined(const std::string& chat, std::function<void(bool)> done,
                       const std::string& cause = {});
    // Called by the worker every sweep_interval(): idle timeout and keep-alive pings,
    // writes stalled past --write-timeout (the peer stopped reading), close
    // handshakes the peer never answers.
    void tick(std::int64_t now);
    // How often tick() must run for these options' timeouts to hold (≤ 1 s).
    static std::chrono::milliseconds sweep_interval(const proxy_options& opts);
    // The connection as /connections shows it.
    nlohmann::json snapshot() const;

    std::uint64_t id() const { return id_; }

    // Tests only: called with each message's payload before the rules see it; a hook that
    // throws stands for a handler that fails (a bug, std::bad_alloc). Null in production.
    static inline void (*fault_for_tests)(std::string_view payload) = nullptr;

private:
    enum side : int { client_side = 0, server_side = 1 };
    // Why a leg delivers nothing more.
    enum class ended { closed, protocol, too_big, timeout, vanished, error, slow };
    // How long the backend gets to close TCP after the closing handshake.
    static constexpr std::int64_t fin_wait_ms = 1000;
    // After we closed a peer for its own error (1002, 1007, 1009) it may still be sending:
    // its input is read and dropped, this long at most, so that our close frame is not
    // destroyed by the reset that closing over unread bytes sends (nginx's lingering_close).
    static constexpr std::int64_t linger_ms = 5000;

    struct leg {
        leg(flex_stream s, bool masked_input, std::size_t max_message)
            : stream(std::move(s)), reader(masked_input, max_message) {}
        flex_stream stream;
        ws::reader reader;
        std::optional<ws::deflater> deflate;  // set when permessage-deflate was agreed
        std::string in;    // bytes of an incomplete frame, kept between reads
        std::string out;   // bytes waiting to be written, from out_sent on
        std::size_t out_sent{0};
        std::string more;  // bytes queued while a TLS write owns `out`
        std::string pong;  // the latest ping's payload, answered once the output drains
        std::size_t sent_back{0};  // injected in answer to this leg's frames, still waiting
        // The leg's two state machines (relay/leg_state.hpp has their transitions).
        leg_read read{leg_read::idle};
        leg_write write{leg_write::open};
        ended input_end{ended::error};  // why the read side ended; read once it is done
        bool pong_due{false};
        bool writing{false};     // an output operation is in flight
        bool ping_sent{false};   // a keep-alive ping is unanswered
        bool slow{false};        // closed because it stopped reading: cut at cut_at
        // The last read filled the worker's buffer: bytes may be left that bring no new edge
        // (net/edge_wait.hpp), so the next read goes ahead without waiting.
        bool unread{false};
        bool read_waiting{false};  // a readability wait is pending (wait_readable)
        std::size_t linger_left{0};  // bytes the draining read side still drops
        // The close that answers the peer's close (or its error) while write is answer_due.
        std::uint16_t answer_code{0};
        std::string answer_reason;
        std::uint16_t close_received{0};   // the code of the peer's close frame (1005: none in it)
        std::uint16_t close_sent_code{0};  // the code of the close frame we sent it
        std::int64_t last_read{0};       // ms of the last bytes read
        std::int64_t write_started{0};   // ms when the pending write began waiting
        std::int64_t acked{-1};          // our bytes the peer's TCP acknowledged, at the last tick
        std::int64_t close_deadline{0};  // ms by which the peer must answer our close
        std::int64_t cut_at{0};          // ms at which a slow leg's socket is cut
        std::int64_t rate_since{-1};     // ms the --min-rate window began (-1: nothing waits)
        std::int64_t rate_acked{0};      // our bytes the peer had acknowledged then

        bool has_output() const { return writing || out_sent < out.size() || !more.empty(); }
        // The read side's last state: the socket is closed, nothing more in or out.
        bool socket_closed() const { return read == leg_read::closed; }
    };

    leg& at(int s) { return s == client_side ? client_ : *server_; }

    // The bodies of start(), drain() and tick(), which run them guarded.
    void begin();
    void close_both();
    void check_deadlines(std::int64_t now);

    // Handshakes.
    void on_upstream_transport(boost::beast::error_code ec, std::string_view stage,
                               std::optional<flex_stream> stream);
    void on_upstream_request_written(boost::beast::error_code ec);
    void on_upstream_response(boost::beast::error_code ec);
    // `upstream_headers`: the backend's own refusal, whose end-to-end headers
    // (WWW-Authenticate, Set-Cookie, Location, ...) the browser gets as they came.
    void reject_upgrade(boost::beast::http::status status, std::string body,
                        std::string content_type = "text/plain",
                        const boost::beast::http::fields* upstream_headers = nullptr);
    void on_client_accept(boost::beast::error_code ec);

    // Reading.
    void do_read(int s);
    void wait_readable(int s);
    void on_edge(int s, boost::beast::error_code ec);
    void on_readable(int s, boost::beast::error_code ec);
    void on_tls_read(int s, boost::beast::error_code ec, std::size_t old_size, std::size_t n);
    void process(int s, char* data, std::size_t size, bool in_leg_buffer);
    void on_message(int s, const ws::event& e);
    void run_actions(int from);
    bool must_pause(int s);
    void resume(int s);

    // Writing.
    void send_data(int to, std::string_view payload, bool text);
    // Writes one frame to leg `to`. The payload is only read: frames to the backend are
    // masked as they are copied into the leg's output (write_masked), never in place.
    void send_frame(int to, ws::opcode op, std::string_view payload, bool compressed);
    // send_frame without its may_write check, for the close frame, which send_close writes
    // after the write side has moved to close_sent.
    void write_frame(int to, ws::opcode op, std::string_view payload, bool compressed);
    void send_close(int to, std::uint16_t code, std::string_view reason);
    // The close that answers leg `to`'s close or error: sent now when the other leg has
    // ended, else when it does (relay first, then close; RFC 6455 7.1.6 in Autobahn 7.1.6).
    void answer_close(int to, std::uint16_t code, std::string_view reason);
    void send_answer(int to);
    void write_bytes(int to, const unsigned char* head, std::size_t head_size, const char* data,
                     std::size_t size);
    void write_masked(int to, const unsigned char* head, std::size_t head_size,
                      std::string_view payload, std::uint32_t key);
    void start_write(int to);
    void on_writable(int to, boost::beast::error_code ec);
    void on_tls_written(int to, boost::beast::error_code ec);
    void on_drained(int to);

    // Ending.
    void on_io_error(int s, boost::beast::error_code ec);
    void leg_ended(int s, ended why, std::uint16_t code, std::string_view detail);
    void maybe_close_socket(int s);
    // Reads and drops the leg's input until its FIN, for at most `wait_ms` and `budget`
    // bytes, then closes the socket (tick() enforces the time).
    void await_fin(int s, std::int64_t wait_ms, std::size_t budget);
    void on_fin_readable(int s, boost::beast::error_code ec);
    void close_socket(int s);
    bool peer_took_bytes(leg& l);
    void close_slow(int s, std::int64_t now, metrics::slow_cause cause);
    // --min-rate: whether the peer took too little of what waits for it in the last window.
    bool below_min_rate(leg& l, std::int64_t now);
    void arm_timer(rules::millis at);
    void settle_waiters(const std::string& chat, bool joined);
    void finish();
    // Runs one handler's work. An exception (std::bad_alloc, a bug) ends this pair with its
    // whole teardown (registrations, the session entry, the gauges), logged once with the
    // connection id, instead of unwinding into the worker's loop and leaving them behind.
    template <class F>
    void guard(F&& work) noexcept {
        try {
            work();
        } catch (const std::exception& e) {
            fail_hard(e.what());
        } catch (...) {
            fail_hard("unknown exception");
        }
    }
    void fail_hard(const char* what) noexcept;

    struct upstream_handshake;  // the upgrade request and response, freed once done

    worker& w_;
    const std::uint64_t id_;
    const std::string remote_;
    request req_;
    const std::int64_t opened_ms_;
    leg client_;
    std::optional<leg> server_;
    std::unique_ptr<upstream_handshake> handshake_;
    rules::engine engine_;
    rules::actions actions_;
    boost::asio::steady_timer timer_;
    rules::millis timer_at_{-1};
    // The message being processed: the tap shows it and a forward sends it.
    const char* frame_data_{nullptr};
    std::size_t frame_size_{0};
    bool frame_text_{true};
    std::string session_;  // the browser session (cookie), empty when none
    std::int64_t session_touched_{0};
    static constexpr std::size_t max_join_waiters = 64;
    std::vector<std::pair<std::string, std::function<void(bool)>>> join_waiters_;
    bool established_{false};
    bool finished_{false};
    bool failed_hard_{false};  // a handler threw: logged once, torn down
    std::string closed_by_;  // "client", "server" or "proxy": who ended it first
    std::uint16_t close_code_{ws::close_code::abnormal};  // as the engine's on_close sees it
    std::string close_text_;
    metrics::close_reason close_why_{metrics::close_reason::error};  // for /connections' closed
};

}  // namespace wsproxy
