#pragma once
// A small log-bucketed latency histogram in the spirit of HdrHistogram: values (nanoseconds)
// below 2^sub_bits are exact, above that each power of two is split into 2^sub_bits linear
// sub-buckets, so every recorded value is known to within 1/64 (~1.6 %). Fixed size, no
// allocation after construction, recording is a couple of shifts and an increment.
// One per thread; merged once at the end. Not thread-safe.
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <vector>

namespace wsbench {

class histogram {
public:
    static constexpr int sub_bits = 6;
    static constexpr std::uint64_t sub_count = 1u << sub_bits;  // 64
    static constexpr int max_exp = 44;                           // ~4.9 hours in ns
    static constexpr std::size_t bucket_count = 2 * sub_count + (max_exp - sub_bits) * sub_count;

    histogram() : counts_(bucket_count, 0) {}

    void record(std::uint64_t v) {
        ++counts_[index_of(v)];
        ++total_;
        sum_ += v;
        max_ = std::max(max_, v);
        min_ = std::min(min_, v);
    }

    void merge(const histogram& o) {
        for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
        total_ += o.total_;
        sum_ += o.sum_;
        max_ = std::max(max_, o.max_);
        min_ = std::min(min_, o.min_);
    }

    std::uint64_t count() const { return total_; }
    std::uint64_t max() const { return total_ ? max_ : 0; }
    std::uint64_t min() const { return total_ ? min_ : 0; }
    double mean() const { return total_ ? double(sum_) / double(total_) : 0.0; }

    // The value at quantile q (0..1): the midpoint of the bucket holding rank ceil(q * n),
    // clamped to the exact max.
    std::uint64_t percentile(double q) const {
        if (total_ == 0) return 0;
        std::uint64_t rank = static_cast<std::uint64_t>(q * double(total_) + 0.999999);
        rank = std::clamp<std::uint64_t>(rank, 1, total_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::min(midpoint(i), max_);
        }
        return max_;
    }

    static std::size_t index_of(std::uint64_t v) {
        if (v < 2 * sub_count) return static_cast<std::size_t>(v);
        const int exp = std::bit_width(v) - 1;  // >= sub_bits + 1
        if (exp >= max_exp) return bucket_count - 1;
        const std::uint64_t sub = (v >> (exp - sub_bits)) & (sub_count - 1);
        return static_cast<std::size_t>(2 * sub_count + (exp - sub_bits - 1) * sub_count + sub);
    }
    static std::uint64_t lower_bound(std::size_t i) {
        if (i < 2 * sub_count) return i;
        const std::size_t k = i - 2 * sub_count;
        const int exp = static_cast<int>(k / sub_count) + sub_bits + 1;
        const std::uint64_t sub = k % sub_count;
        return (std::uint64_t{1} << exp) + (sub << (exp - sub_bits));
    }
    static std::uint64_t midpoint(std::size_t i) {
        if (i < 2 * sub_count) return i;
        const std::size_t k = i - 2 * sub_count;
        const int exp = static_cast<int>(k / sub_count) + sub_bits + 1;
        return lower_bound(i) + ((std::uint64_t{1} << (exp - sub_bits)) >> 1);
    }

private:
    std::vector<std::uint64_t> counts_;
    std::uint64_t total_{0};
    std::uint64_t sum_{0};
    std::uint64_t max_{0};
    std::uint64_t min_{~std::uint64_t{0}};
};

}  // namespace wsbench
