#pragma once
// Per-thread metric shards and the process-wide registry that sums them at scrape time.
//
// Hot path: every count is one relaxed fetch_add on a cell of the calling thread's own
// shard (no lock, no lookup, no string); each shard's cells sit on cache lines of their own.
// Scrape: the registry (a prometheus::Collectable) sums the cells of every shard and renders
// the catalog (catalog.hpp) through prometheus::TextSerializer. Every family and every label
// combination is exported from the start, at 0.
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/catalog.hpp"
#include "rules/stats.hpp"

namespace wsproxy::metrics {

// Not std::hardware_destructive_interference_size: its value may differ between compilers,
// and this is a layout the scraper shares with the workers.
inline constexpr std::size_t cache_line_bytes = 64;

class registry;

// The counters of one thread. registry::at(i) belongs to proxy worker i and is written only
// by that thread; registry::control() is shared by the control-plane threads (admin,
// acceptor, signals) for rare events. Any thread may read (the scraper does). Created by the
// registry, lives as long as it. Writes are atomic, so a second writer would lose nothing,
// it would only contend for the cache lines.
class alignas(cache_line_bytes) shard {
public:
    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;

    // A count action from the rules engine; `label` as documented in rules/stats.hpp.
    void count(rules::stat s, std::uint32_t label, std::uint64_t n = 1) noexcept {
        add(rules_slot_[static_cast<std::size_t>(s)], label, n);
    }
    // A body-level count; `label` is the index of the label value (catalog.hpp).
    void count(proxy_stat s, std::uint32_t label = 0, std::uint64_t n = 1) noexcept {
        add(proxy_slot_[static_cast<std::size_t>(s)], label, n);
    }
    // count(close_reason::drain), count(upstream_error::tls), count(direction::..., bytes)...
    template <typed_label E>
    void count(E label, std::uint64_t n = 1) noexcept {
        count(stat_of<E>::value, metrics::label(label), n);
    }

    // A WebSocket connection pair opened / closed on this thread (connections_active,
    // connections_total). The reason a pair closed is counted separately, with close_reason.
    void connection_opened() noexcept {
        bump(active_cell_, 1);
        bump(total_cell_, 1);
    }
    // Adds 2^64 - 1, i.e. subtracts 1: the scraper sums the shards modulo 2^64, so a pair
    // that another shard counted as opened may be closed here without going negative.
    void connection_closed() noexcept { bump(active_cell_, ~std::uint64_t{0}); }

    // Time spent inspecting one frame (wsproxy_frame_processing_seconds).
    void observe_frame_processing(std::uint64_t nanoseconds) noexcept {
        observe(histogram::frame_processing, nanoseconds);
    }
    // One sample of a histogram, in nanoseconds.
    void observe(histogram h, std::uint64_t nanoseconds) noexcept {
        const auto bounds = histogram_bounds_ns(histogram_family[static_cast<std::size_t>(h)]);
        const std::uint32_t first = histogram_cell_[static_cast<std::size_t>(h)];
        std::uint32_t bucket = 0;
        while (bucket < bounds.size() && nanoseconds > bounds[bucket]) ++bucket;
        bump(first + bucket, 1);
        bump(first + bounds.size() + 1, nanoseconds);
    }

private:
    friend class registry;
    static constexpr std::size_t cells_per_line = cache_line_bytes / sizeof(std::uint64_t);
    struct alignas(cache_line_bytes) line {
        std::atomic<std::uint64_t> cell[cells_per_line];
    };
    // The cells of one rules::stat or proxy_stat: [offset, offset + size).
    struct slot {
        std::uint32_t offset{0};
        std::uint32_t size{0};
    };

    explicit shard(std::size_t cells);

    void add(slot s, std::uint32_t label, std::uint64_t n) noexcept {
        // A label out of range is a bug in the caller; release builds drop the count
        // rather than write into a neighbouring family.
        assert(label < s.size);
        if (label < s.size) bump(s.offset + label, n);
    }
    void bump(std::size_t cell, std::uint64_t n) noexcept {
        lines_[cell / cells_per_line].cell[cell % cells_per_line].fetch_add(
            n, std::memory_order_relaxed);
    }
    std::uint64_t load(std::size_t cell) const noexcept {
        return lines_[cell / cells_per_line].cell[cell % cells_per_line].load(
            std::memory_order_relaxed);
    }

    slot rules_slot_[static_cast<std::size_t>(rules::stat::count_)]{};
    slot proxy_slot_[static_cast<std::size_t>(proxy_stat::count_)]{};
    std::uint32_t active_cell_{0};
    std::uint32_t total_cell_{0};
    // Per histogram: its buckets (+Inf last), then the sum in nanoseconds.
    std::uint32_t histogram_cell_[static_cast<std::size_t>(histogram::count_)]{};
    std::unique_ptr<line[]> lines_;    // written by the owner, read by the scraper
};

// Labels that select series in registry::value(): {{"direction", "client_to_server"}}.
using label_list = std::vector<std::pair<std::string, std::string>>;

// The process-wide metrics: created at start before the workers, lives until exit.
// at()/control() hand out shards; Collect(), render() and value() may run on any thread
// (the admin thread scrapes) concurrently with the writers.
class registry final : public prometheus::Collectable {
public:
    // `message_types`: the type label values of wsproxy_frames_total, in slot order
    // (rules::config::message_types); "other", "invalid" and "binary" are appended.
    // `shards`: one per proxy worker thread. `version`: the label of wsproxy_build_info.
    // Throws std::invalid_argument when a type is empty or appears twice.
    registry(std::vector<std::string> message_types, unsigned shards,
             std::string version = "unknown");
    ~registry() override;
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    unsigned shard_count() const noexcept;
    // The shard of worker `index`; throws std::out_of_range when index >= shard_count().
    shard& at(unsigned index);
    // The shard for threads that are not proxy workers (rare events only).
    shard& control() noexcept;

    // wsproxy_tap_subscribers, set by whoever owns the tap.
    void set_tap_subscribers(std::uint64_t n) noexcept;
    // wsproxy_tap_history_events and wsproxy_tap_history_capacity, set by the tap's owner.
    void set_tap_history(std::uint64_t held, std::uint64_t capacity) noexcept;
    // wsproxy_shared_state_up, set by the shared-state client's thread.
    void set_shared_state_up(bool up) noexcept;
    // wsproxy_rules_last_reload_success and wsproxy_rules_last_reload_timestamp_seconds:
    // the outcome of the latest load or reload of the rules, at `unix_seconds`.
    void rules_loaded(bool success, double unix_seconds);

    // The type label values of wsproxy_frames_total: message_types + other, invalid, binary.
    const std::vector<std::string>& frame_types() const noexcept;

    // Sums every shard into the families of the catalog, in catalog order.
    std::vector<prometheus::MetricFamily> Collect() const override;
    // Prometheus text exposition format 0.0.4 of Collect().
    std::string render() const;

    // One value read back, summed over the series whose labels match `labels`; labels left
    // out are summed over. Histograms answer to <name>_count, <name>_sum and <name>_bucket
    // (with an "le" label as rendered, e.g. "1e-06" or "+Inf"). Throws std::invalid_argument
    // for an unknown name, label name or label value.
    double value(std::string_view name, const label_list& labels = {}) const;

private:
    struct family_layout;

    std::vector<std::uint64_t> snapshot() const;

    std::vector<std::string> frame_types_;
    std::string version_;
    std::vector<family_layout> families_;  // indexed by family
    std::uint32_t cells_{0};
    std::vector<std::unique_ptr<shard>> shards_;  // workers, then the control shard
    std::atomic<std::uint64_t> tap_subscribers_{0};
    std::atomic<bool> shared_state_up_{false};
    std::atomic<std::uint64_t> tap_history_events_{0};
    std::atomic<std::uint64_t> tap_history_capacity_{0};
    // The last rules load: both values change together, so a scrape never pairs one
    // reload's outcome with another's time.
    mutable std::mutex rules_mutex_;
    bool rules_success_{false};
    double rules_time_{0};
};

}  // namespace wsproxy::metrics
