#include "metrics/registry.hpp"

#include <prometheus/text_serializer.h>

#include "metrics/process.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace wsproxy::metrics {

namespace {

// The buckets of a histogram family, the +Inf bucket included.
std::size_t bucket_cells(family f) {
    return histogram_bounds_ns(f).size() + 1;
}

double bound_seconds(family f, std::size_t bucket) {
    // Division, not multiplication by 1e-9: ns / 1e9 is the double nearest the decimal
    // bound, so it renders as "1e-07" and compares equal to a parsed "le".
    const auto bounds = histogram_bounds_ns(f);
    return bucket < bounds.size() ? static_cast<double>(bounds[bucket]) / 1e9
                                  : std::numeric_limits<double>::infinity();
}

prometheus::MetricType to_prometheus(metric_type t) {
    switch (t) {
        case metric_type::counter:
            return prometheus::MetricType::Counter;
        case metric_type::gauge:
            return prometheus::MetricType::Gauge;
        case metric_type::histogram:
            return prometheus::MetricType::Histogram;
    }
    return prometheus::MetricType::Untyped;
}

// Families whose value lives in the registry or is read at scrape, not in the shards.
bool registry_owned(family f) {
    switch (f) {
        case family::tap_subscribers:
        case family::shared_state_up:
        case family::tap_history_events:
        case family::tap_history_capacity:
        case family::build_info:
        case family::rules_last_reload_success:
        case family::rules_last_reload_timestamp:
        case family::process_cpu_seconds:
        case family::process_resident_memory:
        case family::process_open_fds:
        case family::process_max_fds:
        case family::process_start_time:
            return true;
        default:
            return false;
    }
}

}  // namespace

// Where one family's series live and what they are called, fixed at construction.
struct registry::family_layout {
    const family_info* info{nullptr};
    std::vector<std::string> label_names;
    std::vector<std::vector<std::string>> label_values;  // per dimension
    std::uint32_t series{1};
    std::uint32_t offset{0};  // first cell in every shard
    std::uint32_t cells{0};   // 0 for registry-owned families
    std::vector<std::vector<prometheus::ClientMetric::Label>> series_labels;  // per series
};

shard::shard(std::size_t cells)
    : lines_(new line[(cells + cells_per_line - 1) / cells_per_line]()) {}

registry::registry(std::vector<std::string> message_types, unsigned shards, std::string version)
    : frame_types_(std::move(message_types)), version_(std::move(version)) {
    for (auto extra : frame_type_extra) frame_types_.emplace_back(extra);
    for (std::size_t i = 0; i < frame_types_.size(); ++i) {
        if (frame_types_[i].empty())
            throw std::invalid_argument("metrics: an empty message type cannot be a label value");
        if (std::find(frame_types_.begin(), frame_types_.begin() + i, frame_types_[i]) !=
            frame_types_.begin() + i)
            throw std::invalid_argument("metrics: message type \"" + frame_types_[i] +
                                        "\" is listed twice (other, invalid and binary are "
                                        "reserved)");
    }

    families_.resize(family_count);
    for (std::size_t f = 0; f < family_count; ++f) {
        auto& fl = families_[f];
        fl.info = &catalog[f];
        for (const auto& dim : fl.info->labels) {
            fl.label_names.emplace_back(dim.name);
            auto& vals = fl.label_values.emplace_back();
            switch (dim.source) {
                case label_source::fixed:
                    vals.assign(dim.values.begin(), dim.values.end());
                    break;
                case label_source::message_types:
                    vals = frame_types_;
                    break;
                case label_source::version:
                    vals = {version_};
                    break;
            }
            fl.series *= static_cast<std::uint32_t>(vals.size());
        }
        fl.offset = cells_;
        if (cells_of(fl.info->id) != fl.info->id)  // a deprecated name: its successor's cells
            fl.offset = families_[static_cast<std::size_t>(cells_of(fl.info->id))].offset;
        else if (!registry_owned(fl.info->id))
            fl.cells = fl.info->type == metric_type::histogram ? bucket_cells(fl.info->id) + 1
                                                                : fl.series;
        cells_ += fl.cells;

        fl.series_labels.resize(fl.series);
        for (std::uint32_t s = 0; s < fl.series; ++s) {
            // Row-major: the last dimension varies fastest.
            std::uint32_t rest = s;
            auto& labels = fl.series_labels[s];
            labels.resize(fl.label_names.size());
            for (std::size_t d = fl.label_names.size(); d-- > 0;) {
                const auto n = static_cast<std::uint32_t>(fl.label_values[d].size());
                labels[d] = {fl.label_names[d], fl.label_values[d][rest % n]};
                rest /= n;
            }
        }
    }

    const auto slot_of = [this](family f) {
        const auto& fl = families_[static_cast<std::size_t>(f)];
        return shard::slot{fl.offset, fl.series};
    };
    for (unsigned i = 0; i <= shards; ++i) {  // the last one is the control shard
        auto s = std::unique_ptr<shard>(new shard(cells_));
        for (std::size_t k = 0; k < stat_family.size(); ++k)
            s->rules_slot_[k] = slot_of(stat_family[k]);
        for (std::size_t k = 0; k < proxy_stat_family.size(); ++k)
            s->proxy_slot_[k] = slot_of(proxy_stat_family[k]);
        s->active_cell_ = slot_of(family::connections_active).offset;
        s->total_cell_ = slot_of(family::connections_total).offset;
        for (std::size_t h = 0; h < histogram_family.size(); ++h)
            s->histogram_cell_[h] = slot_of(histogram_family[h]).offset;
        shards_.push_back(std::move(s));
    }
}

registry::~registry() = default;

unsigned registry::shard_count() const noexcept {
    return static_cast<unsigned>(shards_.size() - 1);
}

shard& registry::at(unsigned index) {
    if (index >= shard_count())
        throw std::out_of_range("metrics: no shard " + std::to_string(index));
    return *shards_[index];
}

shard& registry::control() noexcept {
    return *shards_.back();
}

void registry::set_tap_subscribers(std::uint64_t n) noexcept {
    tap_subscribers_.store(n, std::memory_order_relaxed);
}

void registry::set_tap_history(std::uint64_t held, std::uint64_t capacity) noexcept {
    tap_history_events_.store(held, std::memory_order_relaxed);
    tap_history_capacity_.store(capacity, std::memory_order_relaxed);
}

void registry::set_shared_state_up(bool up) noexcept {
    shared_state_up_.store(up, std::memory_order_relaxed);
}

void registry::rules_loaded(bool success, double unix_seconds) {
    std::lock_guard lock(rules_mutex_);
    rules_success_ = success;
    rules_time_ = unix_seconds;
}

const std::vector<std::string>& registry::frame_types() const noexcept {
    return frame_types_;
}

std::vector<std::uint64_t> registry::snapshot() const {
    std::vector<std::uint64_t> total(cells_, 0);
    for (const auto& s : shards_)
        for (std::uint32_t c = 0; c < cells_; ++c) total[c] += s->load(c);  // modulo 2^64
    return total;
}

std::vector<prometheus::MetricFamily> registry::Collect() const {
    const auto total = snapshot();
    const auto process = read_process_stats();
    bool rules_success = false;
    double rules_time = 0;
    {
        std::lock_guard lock(rules_mutex_);
        rules_success = rules_success_;
        rules_time = rules_time_;
    }
    std::vector<prometheus::MetricFamily> out;
    out.reserve(families_.size());
    for (const auto& fl : families_) {
        auto& mf = out.emplace_back();
        mf.name = fl.info->name;
        mf.help = fl.info->help;
        mf.type = to_prometheus(fl.info->type);
        mf.metric.resize(fl.series);
        for (std::uint32_t s = 0; s < fl.series; ++s) {
            auto& m = mf.metric[s];
            m.label = fl.series_labels[s];
            switch (fl.info->id) {
                case family::tap_subscribers:
                    m.gauge.value =
                        static_cast<double>(tap_subscribers_.load(std::memory_order_relaxed));
                    continue;
                case family::tap_history_events:
                    m.gauge.value =
                        static_cast<double>(tap_history_events_.load(std::memory_order_relaxed));
                    continue;
                case family::tap_history_capacity:
                    m.gauge.value =
                        static_cast<double>(tap_history_capacity_.load(std::memory_order_relaxed));
                    continue;
                case family::shared_state_up:
                    m.gauge.value = shared_state_up_.load(std::memory_order_relaxed) ? 1 : 0;
                    continue;
                case family::build_info:
                    m.gauge.value = 1;
                    continue;
                case family::rules_last_reload_success:
                    m.gauge.value = rules_success ? 1 : 0;
                    continue;
                case family::rules_last_reload_timestamp:
                    m.gauge.value = rules_time;
                    continue;
                case family::process_cpu_seconds:
                    m.counter.value = process.cpu_seconds;
                    continue;
                case family::process_resident_memory:
                    m.gauge.value = process.resident_bytes;
                    continue;
                case family::process_open_fds:
                    m.gauge.value = process.open_fds;
                    continue;
                case family::process_max_fds:
                    m.gauge.value = process.max_fds;
                    continue;
                case family::process_start_time:
                    m.gauge.value = process.start_time_seconds;
                    continue;
                case family::connections_active:
                    m.gauge.value =
                        static_cast<double>(static_cast<std::int64_t>(total[fl.offset]));
                    continue;
                default:
                    break;
            }
            switch (fl.info->type) {
                case metric_type::counter:
                    m.counter.value = static_cast<double>(total[fl.offset + s]);
                    break;
                case metric_type::gauge:
                    m.gauge.value = static_cast<double>(total[fl.offset + s]);
                    break;
                case metric_type::histogram: {
                    const std::size_t buckets = bucket_cells(fl.info->id);
                    std::uint64_t cumulative = 0;
                    m.histogram.bucket.resize(buckets);
                    for (std::size_t b = 0; b < buckets; ++b) {
                        cumulative += total[fl.offset + b];
                        m.histogram.bucket[b] = {cumulative, bound_seconds(fl.info->id, b)};
                    }
                    m.histogram.sample_count = cumulative;
                    m.histogram.sample_sum =
                        static_cast<double>(total[fl.offset + buckets]) / 1e9;
                    break;
                }
            }
        }
    }
    return out;
}

std::string registry::render() const {
    std::ostringstream out;
    prometheus::TextSerializer{}.Serialize(out, Collect());
    return out.str();
}

double registry::value(std::string_view name, const label_list& labels) const {
    // Histogram series names carry a suffix; find the family and which part is asked for.
    enum class part { value, count, sum, bucket } want = part::value;
    const family_layout* fl = nullptr;
    for (const auto& f : families_) {
        if (f.info->name == name) {
            fl = &f;
            break;
        }
        if (f.info->type != metric_type::histogram || !name.starts_with(f.info->name)) continue;
        const auto suffix = name.substr(f.info->name.size());
        if (suffix == "_count")
            want = part::count;
        else if (suffix == "_sum")
            want = part::sum;
        else if (suffix == "_bucket")
            want = part::bucket;
        else
            continue;
        fl = &f;
        break;
    }
    if (fl == nullptr || (fl->info->type == metric_type::histogram && want == part::value))
        throw std::invalid_argument("metrics: no series named " + std::string(name));

    // Histogram: the only label is le (on _bucket); no le means the +Inf bucket.
    if (fl->info->type == metric_type::histogram) {
        const std::size_t buckets = bucket_cells(fl->info->id);
        std::size_t bucket = buckets - 1;
        for (const auto& [k, v] : labels) {
            if (k != "le" || want != part::bucket)
                throw std::invalid_argument("metrics: " + std::string(name) + " has no label " + k);
            const double le = v == "+Inf" ? std::numeric_limits<double>::infinity()
                                          : std::strtod(v.c_str(), nullptr);
            bucket = buckets;
            for (std::size_t b = 0; b < buckets; ++b)
                if (bound_seconds(fl->info->id, b) == le) bucket = b;
            if (bucket == buckets)
                throw std::invalid_argument("metrics: " + std::string(name) + " has no le=" + v);
        }
        const auto families = Collect();
        const auto& h = families[static_cast<std::size_t>(fl->info->id)].metric.front().histogram;
        switch (want) {
            case part::count:
                return static_cast<double>(h.sample_count);
            case part::sum:
                return h.sample_sum;
            default:
                return static_cast<double>(h.bucket[bucket].cumulative_count);
        }
    }

    // Validate the selection, then sum every series it matches.
    for (const auto& [k, v] : labels) {
        const auto d = std::find(fl->label_names.begin(), fl->label_names.end(), k);
        if (d == fl->label_names.end())
            throw std::invalid_argument("metrics: " + std::string(name) + " has no label " + k);
        const auto& vals = fl->label_values[static_cast<std::size_t>(d - fl->label_names.begin())];
        if (std::find(vals.begin(), vals.end(), v) == vals.end())
            throw std::invalid_argument("metrics: " + std::string(name) + " has no " + k + "=" + v);
    }
    const auto family = Collect()[static_cast<std::size_t>(fl->info->id)];
    double sum = 0;
    for (const auto& m : family.metric) {
        const bool match = std::all_of(labels.begin(), labels.end(), [&](const auto& kv) {
            return std::find(m.label.begin(), m.label.end(),
                             prometheus::ClientMetric::Label{kv.first, kv.second}) != m.label.end();
        });
        if (match) sum += fl->info->type == metric_type::counter ? m.counter.value : m.gauge.value;
    }
    return sum;
}

}  // namespace wsproxy::metrics
