#include "proxy/admin/tap.hpp"

#include "common/text.hpp"
#include "proxy/admin/history.hpp"
#include "proxy/base/log.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "metrics/registry.hpp"
#include "rules/classify.hpp"
#include "rules/engine.hpp"

namespace wsproxy::tap {
namespace net = boost::asio;

namespace {

// Untrusted strings copied into an event are bounded: a tap line stays small.
constexpr std::size_t max_field_bytes = 256;

std::string_view bounded(std::string_view s) { return s.substr(0, max_field_bytes); }

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

const nlohmann::json* find_path(const nlohmann::json& j, const rules::json_path& path) {
    const nlohmann::json* node = &j;
    for (const auto& part : path) {
        if (!node->is_object()) return nullptr;
        auto it = node->find(part);
        if (it == node->end()) return nullptr;
        node = &*it;
    }
    return node;
}

// Type and chat of a frame the proxy built itself (an injection): rare, so a full parse is fine.
void describe_own_frame(const rules::config& cfg, const std::string& payload, frame_event& e) {
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        e.invalid = true;
        return;
    }
    if (auto* t = find_path(j, cfg.type_path); t && t->is_string())
        e.type = bounded(t->get_ref<const std::string&>());
    std::vector<rules::json_path> chat_paths = cfg.chat_id_paths;
    chat_paths.push_back(cfg.join_chat_id_path);
    for (const auto& p : chat_paths) {
        if (auto* c = find_path(j, p); c && c->is_string()) {
            e.chat_id = bounded(c->get_ref<const std::string&>());
            break;
        }
    }
}

}  // namespace

bool filter::matches(const frame_event& e) const {
    auto in = [](const auto& list, const auto& v) {
        return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
    };
    return in(chat_ids, e.chat_id.view()) && in(client_ids, e.client_id.view()) &&
           in(types, e.type.view()) && in(conns, e.conn) && in(directions, e.dir);
}

std::optional<rules::direction> parse_direction(std::string_view t) {
    if (t == "client_to_server" || t == "c2s" || t == "up" || t == "out")
        return rules::direction::client_to_server;
    if (t == "server_to_client" || t == "s2c" || t == "down" || t == "in")
        return rules::direction::server_to_client;
    return std::nullopt;
}

const char* direction_name(rules::direction d) {
    return d == rules::direction::client_to_server ? "client_to_server" : "server_to_client";
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty()) continue;
        auto eq = part.find('=');
        if (eq == std::string_view::npos)
            out.emplace_back(text::percent_decode(part, true), std::string());
        else
            out.emplace_back(text::percent_decode(part.substr(0, eq), true),
                             text::percent_decode(part.substr(eq + 1), true));
    }
    return out;
}

std::optional<filter> parse_filter(std::string_view query, std::string& error) {
    filter f;
    for (auto& [name, value] : parse_query(query)) {
        if (name == "chat_id" || name == "chat") {
            f.chat_ids.push_back(value);
        } else if (name == "client_id" || name == "client") {
            f.client_ids.push_back(value);
        } else if (name == "type") {
            f.types.push_back(value);
        } else if (name == "conn") {
            std::uint64_t n = 0;
            auto* end = value.data() + value.size();
            auto [p, ec] = std::from_chars(value.data(), end, n);
            if (value.empty() || ec != std::errc{} || p != end) {
                error = "conn: expected a connection id (a number), got \"" + value + "\"";
                return std::nullopt;
            }
            f.conns.push_back(n);
        } else if (name == "direction") {
            auto d = parse_direction(value);
            if (!d) {
                error = "direction: expected client_to_server or server_to_client, got \"" +
                        value + "\"";
                return std::nullopt;
            }
            f.directions.push_back(*d);
        }
    }
    return f;
}

nlohmann::json redacted_payload(const std::string& text, const std::vector<rules::json_path>& paths) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return text;
    for (const auto& path : paths) {
        if (path.empty()) continue;
        nlohmann::json* node = &j;
        for (std::size_t i = 0; node && i + 1 < path.size(); ++i) {
            if (!node->is_object()) {
                node = nullptr;
                break;
            }
            auto it = node->find(path[i]);
            node = it == node->end() ? nullptr : &*it;
        }
        if (node && node->is_object() && node->contains(path.back()))
            (*node)[path.back()] = "[redacted]";
    }
    return j;
}


nlohmann::json to_json(const frame_event& e, const std::vector<rules::json_path>& redact) {
    auto or_null = [](std::string_view s) -> nlohmann::json {
        return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(s));
    };
    nlohmann::json j = {
        {"time", log::iso_time(e.time_ms)},
        {"ts", e.time_ms},
        {"conn", e.conn},
        {"client_id", or_null(e.client_id)},
        {"direction", direction_name(e.dir)},
        {"type", or_null(e.type)},
        {"chat_id", or_null(e.chat_id)},
        {"size", e.size},
        {"flags",
         {{"injected", e.injected},
          {"hidden", e.hidden},
          {"replaced", e.replaced},
          {"invalid", e.invalid},
          {"binary", e.binary},
          {"uninspected", e.uninspected}}},
    };
    if (e.injected || e.hidden) {
        j["reason"] = or_null(e.reason);
        j["cause"] = or_null(e.cause);
    }
    if (e.answer_first_ms >= 0 || e.answer_complete_ms >= 0 || !e.answer_result.empty()) {
        auto ms = [](std::int64_t v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); };
        j["answer"] = {{"first_frame_ms", ms(e.answer_first_ms)},
                       {"complete_ms", ms(e.answer_complete_ms)},
                       {"result", or_null(e.answer_result)}};
    }
    if (e.payload) j["payload"] = redacted_payload(*e.payload, redact);
    if (e.payload_truncated) j["payload_omitted"] = "larger than the tap's payload limit";
    return j;
}

std::vector<std::string> known_types(const rules::config& cfg) {
    std::vector<std::string> out;
    auto add = [&](const std::string& t) {
        if (!t.empty() && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    };
    for (const auto* t : {&cfg.connection_established, &cfg.connection_ready, &cfg.join_chat,
                          &cfg.chat_joined, &cfg.leave_chat, &cfg.chat_left,
                          &cfg.answers.complete_type})
        add(*t);
    for (const auto* list : {&cfg.user_message_types, &cfg.broadcast_types,
                             &cfg.answers.first_frame_types, &cfg.answers.error_types,
                             &cfg.message_types})
        for (const auto& t : *list) add(t);
    return out;
}

subscriber::subscriber(filter f, std::size_t queue_limit)
    : filter_(std::move(f)), limit_(std::max<std::size_t>(queue_limit, 1)) {}

std::size_t subscriber::offer(std::shared_ptr<const std::string> line) {
    std::size_t dropped = 0;
    if (queue_.size() >= limit_) {
        queue_.pop_front();
        ++dropped_unreported_;
        ++dropped_total_;
        dropped = 1;
    }
    bool was_idle = !has_next();
    queue_.push_back(std::move(line));
    if (was_idle) on_ready();
    return dropped;
}

void subscriber::lost(std::uint64_t n) {
    bool was_idle = !has_next();
    dropped_unreported_ += n;
    dropped_total_ += n;
    if (was_idle) on_ready();
}

std::shared_ptr<const std::string> subscriber::next() {
    if (dropped_unreported_) {
        auto notice = std::make_shared<const std::string>(
            nlohmann::json{{"dropped", dropped_unreported_}, {"dropped_total", dropped_total_}}
                .dump());
        dropped_unreported_ = 0;
        return notice;
    }
    if (queue_.empty()) return nullptr;
    auto line = std::move(queue_.front());
    queue_.pop_front();
    return line;
}

// The events a worker hands over in one post, and the connections that ended meanwhile
// (after their events: a record never precedes its connection's last events).
struct hub::batch {
    std::vector<frame_event> events;
    std::vector<closed_connection> closes;
    bool empty() const { return events.empty() && closes.empty(); }
};

// One worker's batch, touched only by its thread; a cache line of its own.
struct alignas(64) hub::worker_batch {
    batch pending;
};

hub::hub(net::io_context& admin, metrics::registry& reg, hub_options opts)
    : admin_(admin),
      registry_(reg),
      opts_(std::move(opts)),
      history_on_(opts_.history != 0 || opts_.history_per_conn != 0),
      history_(std::make_unique<history>(history_options{
          opts_.history, opts_.history_per_conn,
          static_cast<std::int64_t>(opts_.closed_seconds * 1000), opts_.closed_max,
          opts_.redact})) {
    registry_.set_tap_history(0, opts_.history);
}

hub::~hub() = default;

void hub::attach_workers(std::vector<net::io_context*> workers) {
    workers_ = std::move(workers);
    batches_.clear();
    for (std::size_t i = 0; i < workers_.size(); ++i)
        batches_.push_back(std::make_unique<worker_batch>());
}

std::size_t hub::slot(const metrics::shard& stats) {
    // Found once per thread: each worker thread counts into its own shard.
    thread_local const hub* owner = nullptr;
    thread_local const metrics::shard* shard = nullptr;
    thread_local std::size_t index = 0;
    if (owner != this || shard != &stats) {
        owner = this;
        shard = &stats;
        index = batches_.size();
        for (std::size_t i = 0; i < batches_.size() && i < registry_.shard_count(); ++i)
            if (&registry_.at(static_cast<unsigned>(i)) == &stats) index = i;
    }
    return index;
}

void hub::publish(std::uint64_t conn, const rules::engine& eng, const rules::actions& acts,
                  std::optional<rules::direction> from, std::string_view payload, bool text,
                  metrics::shard& stats) {
    const std::size_t at = slot(stats);
    batch direct;  // no batch of its own: posted at once
    std::vector<frame_event>& events =
        at < batches_.size() ? batches_[at]->pending.events : direct.events;
    const std::size_t first = events.size();
    const auto& st = eng.state();
    const auto now = wall_ms();
    auto base = [&] {
        frame_event e;
        e.time_ms = now;
        e.conn = conn;
        e.client_id = bounded(st.client_id);
        return e;
    };
    auto with_payload = [&](frame_event& e, std::string_view p) {
        if (!opts_.payloads || e.binary || e.uninspected) return;
        if (p.size() > opts_.max_payload_bytes)
            e.payload_truncated = true;
        else
            e.payload.emplace(p);
    };
    std::size_t frame_at = static_cast<std::size_t>(-1);  // the frame's own event
    for (const auto& a : acts) {
        using kind = rules::action::kind;
        if (a.what == kind::inject) {
            frame_event e = base();
            e.dir = a.to;
            e.injected = true;
            e.reason = rules::reason_name(a.why);
            e.cause = bounded(a.cause);
            e.size = a.payload.size();
            describe_own_frame(eng.cfg(), a.payload, e);
            with_payload(e, a.payload);
            events.push_back(std::move(e));
        } else if (from && (a.what == kind::forward || a.what == kind::replace ||
                            a.what == kind::hide)) {
            const auto& fi = eng.last_frame();
            frame_event e = base();
            e.dir = *from;
            e.size = payload.size();
            e.hidden = a.what == kind::hide;
            if (e.hidden) {
                e.reason = rules::reason_name(a.why);
                e.cause = bounded(a.cause);
            }
            e.replaced = a.what == kind::replace;
            e.binary = !text || fi.kind == rules::frame_kind::binary;
            e.invalid = fi.kind == rules::frame_kind::invalid ||
                        fi.kind == rules::frame_kind::not_object;
            e.uninspected = fi.kind == rules::frame_kind::too_deep ||
                            fi.kind == rules::frame_kind::too_large;
            if (fi.kind == rules::frame_kind::object) {
                e.type = bounded(fi.type);
                e.chat_id = bounded(fi.chat_id);
            }
            with_payload(e, payload);
            frame_at = events.size();
            events.push_back(std::move(e));
            from.reset();  // one event per frame
        }
    }
    // The answer SLIs' pairing (rules/rule_answers.cpp), on the answer frame it ended at.
    if (frame_at != static_cast<std::size_t>(-1)) {
        auto& e = events[frame_at];
        for (const auto& a : acts) {
            using kind = rules::action::kind;
            if (a.what == kind::observe) {
                (a.histogram == rules::latency::answer_first_frame ? e.answer_first_ms
                                                                   : e.answer_complete_ms) =
                    a.elapsed;
            } else if (a.what == kind::count && a.counter == rules::stat::answers) {
                auto r = static_cast<rules::answer_result>(a.label);
                if (r == rules::answer_result::answered) e.answer_result = "answered";
                if (r == rules::answer_result::error) e.answer_result = "error";
            }
        }
    }
    if (events.size() == first) return;
    if (at >= batches_.size()) return post(std::move(direct), stats);
    // Someone watches: now. Otherwise only the history wants them: in batches.
    if (subscribers_.load(std::memory_order_relaxed) != 0 || events.size() >= opts_.batch)
        flush(at, stats);
}

void hub::closed(closed_connection c, metrics::shard& stats) {
    const std::size_t at = slot(stats);
    if (at >= batches_.size()) {
        batch b;
        b.closes.push_back(std::move(c));
        return post(std::move(b), stats);
    }
    auto& p = batches_[at]->pending;
    p.closes.push_back(std::move(c));
    if (p.events.size() + p.closes.size() >= opts_.batch) flush(at, stats);
}

void hub::flush(std::size_t at, metrics::shard& stats) {
    auto& p = batches_[at]->pending;
    if (p.empty()) return;
    batch b = std::move(p);
    p = batch{};
    // Room for as many as this batch held: while only the history wants events, one
    // allocation per hand-over of `batch` events instead of one per doubling; while someone
    // watches (a post per frame), a small one.
    p.events.reserve(std::clamp<std::size_t>(b.events.size(), 4, std::max<std::size_t>(opts_.batch, 4)));
    post(std::move(b), stats);
}

void hub::post(batch b, metrics::shard& stats) {
    // The admin thread may fall behind; bound what waits in its queue, and say so in the stream.
    if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= opts_.max_in_flight) {
        in_flight_.fetch_sub(1, std::memory_order_relaxed);
        lost_.fetch_add(b.events.size(), std::memory_order_relaxed);
        stats.count(metrics::proxy_stat::tap_dropped, 0, b.events.size());
        return;
    }
    net::post(admin_, [this, b = std::move(b)]() mutable {
        in_flight_.fetch_sub(1, std::memory_order_relaxed);
        deliver(b);
    });
}

void hub::collect(std::function<void()> done) {
    if (workers_.empty()) return done();
    auto left = std::make_shared<std::size_t>(workers_.size());
    auto finish = std::make_shared<std::function<void()>>(std::move(done));
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        // The worker's batch is posted before its answer, so it is delivered first.
        net::post(*workers_[i], [this, i, left, finish] {
            flush(i, registry_.at(static_cast<unsigned>(i)));
            net::post(admin_, [left, finish] {
                if (--*left == 0) (*finish)();
            });
        });
    }
}

void hub::deliver(batch& b) {
    // Subscribers that left are pruned here (and in unsubscribe).
    std::vector<std::shared_ptr<subscriber>> live;
    live.reserve(subs_.size());
    for (auto& w : subs_)
        if (auto s = w.lock()) live.push_back(std::move(s));
    if (auto lost = lost_.exchange(0, std::memory_order_relaxed))
        for (auto& s : live) s->lost(lost);
    std::uint64_t dropped = 0;
    for (auto& e : b.events) {
        std::shared_ptr<const std::string> line;  // rendered once, shared by every subscriber
        for (auto& s : live) {
            if (!s->wants().matches(e)) continue;
            if (!line) line = std::make_shared<const std::string>(to_json(e, opts_.redact).dump(
                    -1, ' ', false, nlohmann::json::error_handler_t::replace));
            dropped += s->offer(line);
        }
        if (history_on_) history_->add(std::move(e));
    }
    for (auto& c : b.closes) history_->closed(std::move(c));
    history_->expire(wall_ms());
    if (dropped) registry_.control().count(metrics::proxy_stat::tap_dropped, 0, dropped);
    registry_.set_tap_history(history_->size(), opts_.history);
}

void hub::subscribe(const std::shared_ptr<subscriber>& s) {
    subs_.push_back(s);
    subscribers_.store(static_cast<unsigned>(subs_.size()), std::memory_order_relaxed);
    registry_.set_tap_subscribers(subs_.size());
}

void hub::unsubscribe(const subscriber* s) {
    std::erase_if(subs_, [s](const std::weak_ptr<subscriber>& w) {
        auto p = w.lock();
        return !p || p.get() == s;
    });
    subscribers_.store(static_cast<unsigned>(subs_.size()), std::memory_order_relaxed);
    registry_.set_tap_subscribers(subs_.size());
}

std::string hub::hello() const {
    nlohmann::json redact = nlohmann::json::array();
    for (const auto& p : opts_.redact) redact.push_back(rules::join_path(p));
    nlohmann::json types = nlohmann::json::array();
    if (opts_.rules)
        if (auto cfg = opts_.rules())
            for (auto& t : known_types(*cfg)) types.push_back(std::move(t));
    return nlohmann::json{{"tap",
                           {{"payloads", opts_.payloads},
                            {"redacted_paths", redact},
                            {"queue_limit", opts_.queue_limit},
                            {"history", opts_.history},
                            {"history_per_conn", opts_.history_per_conn}}},
                          {"types", types}}
        .dump();
}

}  // namespace wsproxy::tap
