#pragma once
// One proxied WebSocket connection: the browser leg, the backend leg and the
// rules engine between them. Owns itself (every pending operation holds a
// shared_ptr) and lives on one worker thread from upgrade to close.
#include <boost/beast/http.hpp>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <functional>
#include <vector>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "proxy/flex_stream.hpp"
#include "proxy/worker.hpp"
#include "rules/engine.hpp"

namespace wsproxy {

class ws_pair : public std::enable_shared_from_this<ws_pair> {
public:
    using request = boost::beast::http::request<boost::beast::http::string_body>;

    ws_pair(worker& w, flex_stream client, request req, std::string remote);
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
    void ensure_joined(const std::string& chat, std::function<void(bool)> done);
    // Called about once a second by the worker: a write stalled for longer than
    // --write-timeout means the peer stopped reading; it is closed as too slow.
    void check_write_stall(std::int64_t now);
    // The connection as /connections shows it.
    nlohmann::json snapshot() const;

    std::uint64_t id() const { return id_; }

private:
    enum side : int { client_side = 0, server_side = 1 };

    // One entry of a leg's write queue. A close frame's reason lives in the leg
    // (only one close is ever sent), which keeps this entry small.
    struct outgoing {
        std::string owned;     // the frame, unless borrowed
        bool borrowed{false};  // the frame is the other leg's read buffer
        bool text{true};
        bool is_close{false};

        static outgoing frame_from_other_leg(bool text) {
            outgoing o;
            o.borrowed = true;
            o.text = text;
            return o;
        }
        static outgoing frame(std::string payload) {
            outgoing o;
            o.owned = std::move(payload);
            return o;
        }
        static outgoing close() {
            outgoing o;
            o.is_close = true;
            return o;
        }
    };

    struct leg {
        explicit leg(flex_stream s) : ws(std::move(s)) {}
        boost::beast::websocket::stream<flex_stream> ws;
        boost::beast::flat_buffer in;  // the message being relayed from this leg
        // Frames waiting to be written to this leg, oldest first. Rarely more than two
        // (the relayed frame and an injection), so they live inline: no allocation per
        // leg, where a std::deque allocated 576 bytes up front.
        boost::container::small_vector<outgoing, 2> out;
        bool writing{false};
        bool read_done{false};   // this leg will deliver nothing more
        bool write_done{false};  // nothing more may be written to this leg
        unsigned borrowed{0};    // queued entries elsewhere that point into `in`
        std::int64_t write_started{0};  // now_ms() when the current write began
        bool slow{false};        // closed because it stopped reading
        bool close_sent{false};    // a close frame is written or on its way
        bool close_queued{false};  // a close frame is in `out`, with close_to_send
        boost::beast::websocket::close_reason close_to_send;
        boost::beast::error_code write_error;  // how a write failed, if the write saw it first
    };

    leg& at(int s) { return s == client_side ? client_ : *server_; }

    void on_upstream_transport(boost::beast::error_code ec, std::string_view stage,
                               std::optional<flex_stream> stream);
    void on_upstream_handshake(boost::beast::error_code ec);
    void reject_upgrade(boost::beast::http::status status, std::string body,
                        std::string content_type = "text/plain");
    void on_client_accept(boost::beast::error_code ec);

    void do_read(int s);
    void on_read(int s, boost::beast::error_code ec);
    void on_leg_ended(int s, boost::beast::error_code ec);
    void run_actions(int from);
    void enqueue(int to, outgoing msg, int borrowed_from);
    void enqueue_close(int to, boost::beast::websocket::close_reason reason);
    void do_write(int s);
    void on_write(int s, boost::beast::error_code ec);
    void release_borrow(int s);
    void drop_queue(int s);
    void arm_timer(rules::millis at);
    void close_slow(int s);
    void settle_waiters(const std::string& chat, bool joined);
    void finish();

    worker& w_;
    const std::uint64_t id_;
    const std::string remote_;
    request req_;
    const std::int64_t opened_ms_;
    leg client_;
    std::optional<leg> server_;
    boost::beast::websocket::response_type upstream_res_;
    rules::engine engine_;
    rules::actions actions_;
    boost::asio::steady_timer timer_;
    std::optional<boost::asio::steady_timer> hard_close_;
    rules::millis timer_at_{-1};
    std::string session_;  // the browser session (cookie), empty when none
    std::int64_t session_touched_{0};
    std::vector<std::pair<std::string, std::function<void(bool)>>> join_waiters_;
    bool established_{false};
    bool finished_{false};
    std::string closed_by_;  // "client", "server" or "proxy": who ended it first
    boost::beast::websocket::close_reason close_reason_;
};

}  // namespace wsproxy
