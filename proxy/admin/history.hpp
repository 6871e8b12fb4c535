#pragma once
// What happened before someone looked: the latest tap events (one ring for all, and one per
// connection, so that a quiet connection's timeline survives busy neighbours) and the
// connections closed lately. Lives on the admin thread, inside the tap hub, fed by
// hub::deliver(); everything is bounded by count (and the closed list also by age).
//
// The rings hold events by value, each a fixed-capacity circular buffer whose oldest slot is
// overwritten: once full, storing an event allocates and frees nothing (its short fields
// are inline, tap::event_text). Payloads are stored already redacted (as the tap shows them),
// so no message content waits in memory longer than a frame's relay.
// A connection's ring is dropped with its closed record (aged out, pushed out by newer
// ones, or at once when --closed-connections-max is 0).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "proxy/admin/tap.hpp"

namespace wsproxy::tap {

struct history_options {
    std::size_t ring{2000};        // events kept for everyone; 0: none
    std::size_t per_conn{100};     // events kept per connection; 0: none
    std::int64_t closed_ms{300'000};  // how long a closed connection stays listed
    std::size_t closed_max{1000};  // closed connections listed at most; 0: none
    std::vector<rules::json_path> redact;  // payloads are stored with these redacted
};

class history {
public:
    // Points into the rings: valid until the history next changes (add, closed, expire,
    // closed_list, closed_record). Callers render what they read at once.
    using event_ptr = const frame_event*;

    explicit history(history_options o);

    void add(frame_event&& e);
    void closed(closed_connection c);

    // The newest `n` events that `f` accepts, oldest first. A filter naming connections
    // reads their own rings (each as deep as per_conn), anything else the shared ring.
    std::vector<event_ptr> recent(const filter& f, std::size_t n) const;
    // Every event kept for one connection, oldest first.
    std::vector<event_ptr> timeline(std::uint64_t conn) const;

    // Closed connections within the time and count bounds at `now_ms` (wall clock), newest
    // first; those past them are forgotten first, with their timelines.
    nlohmann::json closed_list(std::int64_t now_ms);
    // One closed connection's record, nullptr when unknown or aged out.
    const nlohmann::json* closed_record(std::uint64_t id, std::int64_t now_ms);

    // Forgets the closed connections older than closed_ms at `now_ms`, with their timelines.
    void expire(std::int64_t now_ms);

    std::size_t size() const { return ring_.size(); }  // events in the shared ring
    std::size_t connections_kept() const { return conns_.size(); }
    const history_options& options() const { return opts_; }

private:
    struct entry {
        std::uint64_t seq{0};  // arrival order: breaks ties between equal times
        frame_event event;
    };
    // At most `capacity` entries, oldest first; a full ring's next entry reuses the oldest
    // one's slot. The storage grows with use (a quiet connection keeps a few slots) up to
    // `capacity`, never past it.
    class ring {
    public:
        explicit ring(std::size_t capacity) : capacity_(capacity) {}
        std::size_t size() const { return slots_.size(); }
        bool full() const { return slots_.size() == capacity_; }
        entry& operator[](std::size_t i) { return slots_[(head_ + i) % slots_.size()]; }
        const entry& operator[](std::size_t i) const { return slots_[(head_ + i) % slots_.size()]; }
        // The slot of a new newest entry, for the caller to overwrite: a fresh one, or the
        // oldest one when full (dropping it).
        entry& push();

    private:
        std::size_t capacity_;
        std::size_t head_{0};  // the oldest entry's slot, once full
        std::vector<entry> slots_;
    };
    void forget_oldest_closed();

    history_options opts_;
    std::uint64_t seq_{0};
    ring ring_;
    std::unordered_map<std::uint64_t, ring> conns_;
    std::deque<closed_connection> closed_;  // oldest first
};

}  // namespace wsproxy::tap
