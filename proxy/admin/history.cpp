#include "proxy/admin/history.hpp"

#include <algorithm>
#include <iterator>

namespace wsproxy::tap {

history::history(history_options o) : opts_(std::move(o)) {}

void history::add(frame_event e) {
    if (opts_.ring == 0 && opts_.per_conn == 0) return;
    // Stored as the tap shows it: a JSON payload with its redacted paths replaced.
    if (e.payload) {
        auto shown = redacted_payload(*e.payload, opts_.redact);
        if (!shown.is_string())
            e.payload = shown.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    entry en{++seq_, std::make_shared<const frame_event>(std::move(e))};
    if (opts_.per_conn) {
        auto& q = conns_[en.event->conn];
        q.push_back(en);
        if (q.size() > opts_.per_conn) q.pop_front();
    }
    if (opts_.ring) {
        // Workers hand their batches over in any order: the ring keeps the order the events
        // happened in, so that what falls out is the oldest (a quiet worker's late batch must
        // not push out a busy worker's newer events). A connection lives on one worker, so
        // its own ring is in order as it arrives.
        auto at = ring_.end();
        while (at != ring_.begin() && std::prev(at)->event->time_ms > en.event->time_ms) --at;
        ring_.insert(at, std::move(en));
        if (ring_.size() > opts_.ring) ring_.pop_front();
    }
}

void history::closed(closed_connection c) {
    if (opts_.closed_max == 0) {
        conns_.erase(c.id);
        return;
    }
    closed_.push_back(std::move(c));
    if (closed_.size() > opts_.closed_max) forget_oldest_closed();
}

void history::forget_oldest_closed() {
    conns_.erase(closed_.front().id);
    closed_.pop_front();
}

void history::expire(std::int64_t now_ms) {
    while (!closed_.empty() && closed_.front().closed_ms + opts_.closed_ms < now_ms)
        forget_oldest_closed();
}

std::vector<history::event_ptr> history::recent(const filter& f, std::size_t n) const {
    std::vector<entry> picked;
    auto take = [&](const std::deque<entry>& q) {
        std::size_t found = 0;
        for (auto it = q.rbegin(); it != q.rend() && found < n; ++it)
            if (f.matches(*it->event)) {
                picked.push_back(*it);
                ++found;
            }
    };
    if (!f.conns.empty() && opts_.per_conn) {
        for (auto id : f.conns)
            if (auto it = conns_.find(id); it != conns_.end()) take(it->second);
    } else {
        take(ring_);
    }
    // Several connections' rings (on several workers): the newest n of their union, in the
    // order they happened; arrival order breaks ties within a millisecond.
    std::sort(picked.begin(), picked.end(), [](const entry& a, const entry& b) {
        if (a.event->time_ms != b.event->time_ms) return a.event->time_ms < b.event->time_ms;
        return a.seq < b.seq;
    });
    if (picked.size() > n) picked.erase(picked.begin(), picked.end() - static_cast<std::ptrdiff_t>(n));
    std::vector<event_ptr> out;
    out.reserve(picked.size());
    for (auto& e : picked) out.push_back(std::move(e.event));
    return out;
}

std::vector<history::event_ptr> history::timeline(std::uint64_t conn) const {
    std::vector<event_ptr> out;
    if (auto it = conns_.find(conn); it != conns_.end())
        for (const auto& e : it->second) out.push_back(e.event);
    return out;
}

nlohmann::json history::closed_list(std::int64_t now_ms) {
    expire(now_ms);
    nlohmann::json list = nlohmann::json::array();
    for (auto it = closed_.rbegin(); it != closed_.rend(); ++it) list.push_back(it->record);
    return list;
}

const nlohmann::json* history::closed_record(std::uint64_t id, std::int64_t now_ms) {
    expire(now_ms);
    for (const auto& c : closed_)
        if (c.id == id) return &c.record;
    return nullptr;
}

}  // namespace wsproxy::tap
