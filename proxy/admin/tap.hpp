#pragma once
// The live tap: frame events travel from the worker threads to the /tap
// subscribers on the admin thread.
//
// A worker pays one relaxed load per frame (hub::watching()) while nobody
// watches. When someone does, hub::publish() copies what the events need into
// immutable frame_event values and posts them to the admin io_context; the
// payload itself is copied only with --tap-payloads. Everything else (filters,
// redaction, JSON, the bounded queue of each subscriber) runs on the admin
// thread. The hub is created by the server before the workers start and
// outlives them; subscribers live on the admin thread only.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// One frame as the tap shows it. Immutable once posted.
struct frame_event {
    std::int64_t time_ms{0};  // wall clock, milliseconds since the epoch
    std::uint64_t conn{0};
    rules::direction dir{rules::direction::client_to_server};
    std::string client_id;  // empty: not captured (yet)
    std::string type;       // empty: none (not JSON, no type field, binary)
    std::string chat_id;    // empty: none
    std::size_t size{0};
    bool injected{false};  // the proxy sent this frame (an inject action)
    bool hidden{false};    // the proxy did not pass the frame on
    bool replaced{false};  // the proxy passed on a changed frame instead
    bool invalid{false};   // text that is not JSON (or not a JSON object)
    bool binary{false};
    bool uninspected{false};                // too deep or too large to classify
    // Injected or hidden by the proxy: why (rules::reason_name) and what caused it (the frame
    // type, the REST request "METHOD /path", the earlier connection's id, the chat joined).
    std::string reason;
    std::string cause;
    std::optional<std::string> payload;    // raw text, only with --tap-payloads (redacted later)
    bool payload_truncated{false};          // payloads enabled, but the frame was too large
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
};

class hub {
public:
    hub(boost::asio::io_context& admin, metrics::registry& reg, hub_options opts);
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

    // Any thread: is anyone watching? One relaxed load.
    bool watching() const noexcept { return subscribers_.load(std::memory_order_relaxed) != 0; }

    // Worker thread, only when watching(): publishes the frame that `acts` answer (`from` is
    // its direction, nullopt for actions without a frame: open, timer, close) and every
    // injection among `acts`, in the order of the actions. `stats` is the worker's shard.
    void publish(std::uint64_t conn, const rules::engine& eng, const rules::actions& acts,
                 std::optional<rules::direction> from, std::string_view payload, bool text,
                 metrics::shard& stats);

    // Admin thread.
    void subscribe(const std::shared_ptr<subscriber>& s);
    void unsubscribe(const subscriber* s);
    const hub_options& options() const { return opts_; }
    // The first line each subscriber gets: what this tap shows.
    std::string hello() const;

private:
    void deliver(const std::vector<frame_event>& events);  // admin thread

    boost::asio::io_context& admin_;
    metrics::registry& registry_;
    const hub_options opts_;
    std::atomic<unsigned> subscribers_{0};
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<std::uint64_t> lost_{0};  // events dropped before reaching the admin thread
    std::vector<std::weak_ptr<subscriber>> subs_;  // admin thread only
};

}  // namespace wsproxy::tap
