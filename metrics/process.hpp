#pragma once
// The standard process metrics (process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds), read from /proc/self at
// scrape time, as every Prometheus client library exports them. Linux only; a value that
// cannot be read is left at 0. Any thread.
#include <optional>
#include <string_view>

namespace wsproxy::metrics {

struct process_stats {
    double cpu_seconds{0};        // user + system
    double resident_bytes{0};
    double open_fds{0};
    double max_fds{0};            // the soft RLIMIT_NOFILE
    double start_time_seconds{0}; // Unix time
};

// Reads the calling process's stats now.
process_stats read_process_stats();

// The parts of /proc/self/stat (`stat`) and /proc/stat (`boot_time_seconds`, its btime)
// that the metrics need, for a clock of `ticks_per_second` and pages of `page_size` bytes.
// nullopt when `stat` is not in the format proc(5) describes.
struct stat_fields {
    double cpu_seconds{0};
    double resident_bytes{0};
    double start_time_seconds{0};
};
std::optional<stat_fields> parse_proc_stat(std::string_view stat, double boot_time_seconds,
                                           long ticks_per_second, long page_size);
// The btime line of /proc/stat, or nullopt.
std::optional<double> parse_boot_time(std::string_view proc_stat);

}  // namespace wsproxy::metrics
