#pragma once
// The live tap and its history: frame events travel from the worker threads to the /tap
// subscribers and the history (proxy/admin/history.hpp) on the admin thread.
//
// A worker pays one relaxed load per frame (hub::watching()) while events are not wanted
// (nobody watches and --tap-history and --tap-history-per-conn are 0). When they are,
// hub::publish() copies what the events need into frame_event values; the payload itself
// is copied only with --tap-payloads. While someone watches they are posted to the admin
// io_context at once. While only the history wants them they gather in the worker's own
// batch (no cross-thread traffic per frame) and go over in one post per `batch` events, or
// when the admin thread collects (hub::collect(): it posts to each worker, which sends what
// it holds). Everything else (filters, redaction, JSON, the history, the bounded queue of
// each subscriber) runs on the admin thread. The hub is created by the server before the
// workers start and outlives them; subscribers and the history live on the admin thread.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/small_string.hpp"
#include "rules/actions.hpp"
#include "rules/config.hpp"

namespace wsproxy::rules {
class engine;
}
namespace wsproxy::metrics {
class registry;
class shard;
}  // namespace wsproxy::metrics

namespace wsproxy::tap {

// A short field of an event: UUIDs (36 characters) and the usual types, reasons and causes
// are kept inline, so that building, handing over and storing an event allocates nothing
// per frame (bench/README.md, "Tap history"); longer values (up to 256 bytes) use the heap.
using event_text = small_string<48>;
using event_word = small_string<24>;  // type, reason, answer result: mostly a few letters

// One frame as the tap shows it. Immutable once posted.
struct frame_event {
    std::int64_t time_ms{0};  // wall clock, milliseconds since the epoch
    std::uint64_t conn{0};
    rules::direction dir{rules::direction::client_to_server};
    event_text client_id;  // empty: not captured (yet)
    event_word type;       // empty: none (not JSON, no type field, binary)
    event_text chat_id;    // empty: none
    std::size_t size{0};
    bool injected{false};  // the proxy sent this frame (an inject action)
    bool hidden{false};    // the proxy did not pass the frame on
    bool replaced{false};  // the proxy passed on a changed frame instead
    bool invalid{false};   // text that is not JSON (or not a JSON object)
    bool binary{false};
    bool uninspected{false};                // too deep or too large to classify
    // Injected or hidden by the proxy: why (rules::reason_name) and what caused it (the frame
    // type, the REST request "METHOD /path", the earlier connection's id, the chat joined).
    event_word reason;
    event_text cause;
    std::optional<std::string> payload;    // raw text, only with --tap-payloads (redacted later)
    bool payload_truncated{false};          // payloads enabled, but the frame was too large
    // An answer frame that the engine paired with a user message (rules/rule_answers.cpp):
    // milliseconds since that message (-1: not this kind of answer frame), and how the
    // answer ended with this frame ("answered", "error"; empty: not ended by it).
    std::int64_t answer_first_ms{-1};
    std::int64_t answer_complete_ms{-1};
    event_word answer_result;
};

// A connection that ended, as /connections lists it under "closed": built on the worker
// from its last snapshot, kept by the history on the admin thread.
struct closed_connection {
    std::uint64_t id{0};
    std::int64_t closed_ms{0};  // wall clock, milliseconds since the epoch
    nlohmann::json record;      // connection_snapshot() plus closed, duration_ms, close codes
};

// Which events a subscriber wants; an empty list accepts everything.
struct filter {
    std::vector<std::string> chat_ids;
    std::vector<std::string> client_ids;
    std::vector<std::string> types;
    std::vector<std::uint64_t> conns;
    std::vector<rules::direction> directions;

    bool matches(const frame_event& e) const;
};

// "client_to_server" (also c2s, up, out) or "server_to_client" (s2c, down, in).
std::optional<rules::direction> parse_direction(std::string_view text);
const char* direction_name(rules::direction d);

// Decodes a query string (without the '?') into name/value pairs (%XX and '+').
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

// The filter of a /tap query: chat_id, client_id, conn, type, direction, each repeatable.
// Returns nullopt and sets `error` for a bad conn or direction; unknown names are ignored.
std::optional<filter> parse_filter(std::string_view query, std::string& error);

// Replaces the value at each path (if present) by "[redacted]". Returns the JSON value to
// show: the redacted object, or the text itself as a JSON string when it is not JSON.
nlohmann::json redacted_payload(const std::string& text, const std::vector<rules::json_path>& paths);

// One event as the JSON object a /tap line carries.
nlohmann::json to_json(const frame_event& e, const std::vector<rules::json_path>& redact);

// Every message type name `cfg` knows (the message names, user message, broadcast and answer
// types, the labelled types), each once, in the order the config lists them.
std::vector<std::string> known_types(const rules::config& cfg);

class history;

// One /tap client, on the admin thread. The session derives from it, is handed
// lines through its bounded queue, and sends them at its own pace.
class subscriber {
public:
    subscriber(filter f, std::size_t queue_limit);
    virtual ~subscriber() = default;
    subscriber(const subscriber&) = delete;
    subscriber& operator=(const subscriber&) = delete;

    const filter& wants() const { return filter_; }
    std::uint64_t dropped_total() const { return dropped_total_; }

protected:
    // The queue went from empty to non-empty: start sending if idle.
    virtual void on_ready() = 0;
    bool has_next() const { return dropped_unreported_ != 0 || !queue_.empty(); }
    // The next line to send: a {"dropped": n} notice first when events were dropped
    // since the last one; nullptr when there is nothing to send.
    std::shared_ptr<const std::string> next();

private:
    friend class hub;
    // Queues one line; on overflow drops the oldest. Returns how many were dropped (0 or 1).
    std::size_t offer(std::shared_ptr<const std::string> line);
    void lost(std::uint64_t n);

    filter filter_;
    std::size_t limit_;
    std::deque<std::shared_ptr<const std::string>> queue_;
    std::uint64_t dropped_unreported_{0};
    std::uint64_t dropped_total_{0};
};

struct hub_options {
    bool payloads{false};                   // --tap-payloads
    std::vector<rules::json_path> redact;   // replaced by "[redacted]" in payloads
    std::size_t queue_limit{4096};          // lines queued per subscriber
    std::size_t max_in_flight{65536};       // events posted and not yet handled by the admin thread
    std::size_t max_payload_bytes{64u << 10};  // larger payloads are left out
    std::size_t history{2000};           // --tap-history: events kept for /tap?history=N; 0: off
    std::size_t history_per_conn{100};   // --tap-history-per-conn: events kept per connection
    double closed_seconds{300};          // --closed-connections-seconds
    std::size_t closed_max{1000};        // --closed-connections-max; 0: closed ones not kept
    std::size_t batch{256};              // events a worker holds before posting them unasked
    // The rules in force, for the hello line's "types"; unset: no types listed.
    std::function<std::shared_ptr<const rules::config>()> rules;
};

class hub {
public:
    hub(boost::asio::io_context& admin, metrics::registry& reg, hub_options opts);

    ~hub();
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

    // Any thread: are events wanted (someone watches, or the history keeps them)? One
    // relaxed load.
    bool watching() const noexcept {
        return history_on_ || subscribers_.load(std::memory_order_relaxed) != 0;
    }

    // Before the workers start: worker i's io_context, whose thread counts into
    // registry.at(i). Events published with another shard are posted at once.
    void attach_workers(std::vector<boost::asio::io_context*> workers);

    // Worker thread, only when watching(): publishes the frame that `acts` answer (`from` is
    // its direction, nullopt for actions without a frame: open, timer, close) and every
    // injection among `acts`, in the order of the actions. `stats` is the worker's shard.
    void publish(std::uint64_t conn, const rules::engine& eng, const rules::actions& acts,
                 std::optional<rules::direction> from, std::string_view payload, bool text,
                 metrics::shard& stats);
    // Worker thread: a connection ended; /connections lists it under "closed" for a while.
    void closed(closed_connection c, metrics::shard& stats);

    // Admin thread.
    void subscribe(const std::shared_ptr<subscriber>& s);
    void unsubscribe(const subscriber* s);
    const hub_options& options() const { return opts_; }
    // The first line each subscriber gets: what this tap shows.
    std::string hello() const;
    // Calls `done` on the admin thread once every worker has handed over the events and
    // closed connections it held: the history is then complete up to now.
    void collect(std::function<void()> done);
    history& past() { return *history_; }

private:
    struct batch;
    struct worker_batch;
    void deliver(batch& b);  // admin thread
    std::size_t slot(const metrics::shard& stats);
    void flush(std::size_t slot, metrics::shard& stats);  // worker thread
    void post(batch b, metrics::shard& stats);            // any thread

    boost::asio::io_context& admin_;
    metrics::registry& registry_;
    const hub_options opts_;
    const bool history_on_;
    std::atomic<unsigned> subscribers_{0};
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<std::uint64_t> lost_{0};  // events dropped before reaching the admin thread
    std::vector<std::weak_ptr<subscriber>> subs_;  // admin thread only
    std::vector<boost::asio::io_context*> workers_;
    std::vector<std::unique_ptr<worker_batch>> batches_;  // one per worker, its thread only
    std::unique_ptr<history> history_;                    // admin thread only
};

}  // namespace wsproxy::tap
