#include "proxy/admin/history.hpp"

#include <algorithm>
#include <iterator>

namespace wsproxy::tap {

history::history(history_options o) : opts_(std::move(o)), ring_(opts_.ring) {}

history::entry& history::ring::push() {
    if (slots_.size() < capacity_) {
        // Grown by doubling as events come, but never past the capacity.
        if (slots_.size() == slots_.capacity())
            slots_.reserve(std::min(capacity_, std::max<std::size_t>(8, slots_.size() * 2)));
        return slots_.emplace_back();
    }
    entry& oldest = slots_[head_];
    head_ = (head_ + 1) % capacity_;
    return oldest;
}

void history::add(frame_event&& e) {
    if (opts_.ring == 0 && opts_.per_conn == 0) return;
    // Stored as the tap shows it: a JSON payload with its redacted paths replaced.
    if (e.payload) {
        auto shown = redacted_payload(*e.payload, opts_.redact);
        if (!shown.is_string())
            e.payload = shown.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    const std::uint64_t seq = ++seq_;
    if (opts_.per_conn) {
        entry& slot = conns_.try_emplace(e.conn, opts_.per_conn).first->second.push();
        slot.seq = seq;
        slot.event = e;  // a copy into the slot's inline fields; the shared ring takes `e`
    }
    if (opts_.ring) {
        // Workers hand their batches over in any order: the ring keeps the order the events
        // happened in, so that what falls out is the oldest (a quiet worker's late batch must
        // not push out a busy worker's newer events). A connection lives on one worker, so
        // its own ring is in order as it arrives. An event older than everything in a full
        // ring would be the one to fall out: it is not stored.
        if (ring_.full() && ring_[0].event.time_ms > e.time_ms) return;
        entry& slot = ring_.push();
        slot.seq = seq;
        slot.event = std::move(e);
        // Moved back past the newer ones; after equal times (arrival order within a ms).
        for (std::size_t i = ring_.size() - 1;
             i > 0 && ring_[i - 1].event.time_ms > ring_[i].event.time_ms; --i)
            std::swap(ring_[i - 1], ring_[i]);
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
    std::vector<const entry*> picked;
    auto take = [&](const ring& q) {
        std::size_t found = 0;
        for (std::size_t i = q.size(); i-- > 0 && found < n;)
            if (f.matches(q[i].event)) {
                picked.push_back(&q[i]);
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
    std::sort(picked.begin(), picked.end(), [](const entry* a, const entry* b) {
        if (a->event.time_ms != b->event.time_ms) return a->event.time_ms < b->event.time_ms;
        return a->seq < b->seq;
    });
    if (picked.size() > n) picked.erase(picked.begin(), picked.end() - static_cast<std::ptrdiff_t>(n));
    std::vector<event_ptr> out;
    out.reserve(picked.size());
    for (const entry* e : picked) out.push_back(&e->event);
    return out;
}

std::vector<history::event_ptr> history::timeline(std::uint64_t conn) const {
    std::vector<event_ptr> out;
    if (auto it = conns_.find(conn); it != conns_.end()) {
        const ring& q = it->second;
        out.reserve(q.size());
        for (std::size_t i = 0; i < q.size(); ++i) out.push_back(&q[i].event);
    }
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
