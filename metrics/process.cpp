#include "metrics/process.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace wsproxy::metrics {
namespace {

std::string read_file(const char* path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool to_number(std::string_view text, double& out) {
    unsigned long long v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size()) return false;
    out = static_cast<double>(v);
    return true;
}

double count_open_fds() {
    DIR* d = ::opendir("/proc/self/fd");
    if (d == nullptr) return 0;
    // The directory being listed holds a descriptor of its own: it is not counted.
    const std::string own = std::to_string(::dirfd(d));
    double n = 0;
    while (const dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        if (name == "." || name == ".." || name == own) continue;
        ++n;
    }
    ::closedir(d);
    return n;
}

}  // namespace

std::optional<stat_fields> parse_proc_stat(std::string_view stat, double boot_time_seconds,
                                           long ticks_per_second, long page_size) {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the fields
    // are counted from the last ')'. Field 3 (state) is the first one after it.
    const auto close = stat.rfind(')');
    if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
    std::vector<std::string_view> fields;
    std::size_t i = close + 1;
    while (i < stat.size()) {
        while (i < stat.size() && (stat[i] == ' ' || stat[i] == '\n')) ++i;
        const std::size_t start = i;
        while (i < stat.size() && stat[i] != ' ' && stat[i] != '\n') ++i;
        if (i > start) fields.push_back(stat.substr(start, i - start));
    }
    // proc(5) numbers fields from 1: utime 14, stime 15, starttime 22, rss 24.
    const auto field = [&](std::size_t n, double& out) {
        return n - 3 < fields.size() && to_number(fields[n - 3], out);
    };
    double utime = 0, stime = 0, start = 0, rss = 0;
    if (!field(14, utime) || !field(15, stime) || !field(22, start) || !field(24, rss))
        return std::nullopt;
    const auto ticks = static_cast<double>(ticks_per_second);
    stat_fields out;
    out.cpu_seconds = (utime + stime) / ticks;
    out.resident_bytes = rss * static_cast<double>(page_size);
    out.start_time_seconds = boot_time_seconds + start / ticks;
    return out;
}

std::optional<double> parse_boot_time(std::string_view proc_stat) {
    std::size_t pos = 0;
    while (pos < proc_stat.size()) {
        auto end = proc_stat.find('\n', pos);
        if (end == std::string_view::npos) end = proc_stat.size();
        const auto line = proc_stat.substr(pos, end - pos);
        double v = 0;
        if (line.starts_with("btime ") && to_number(line.substr(6), v)) return v;
        pos = end + 1;
    }
    return std::nullopt;
}

process_stats read_process_stats() {
    process_stats out;
    static const double boot = parse_boot_time(read_file("/proc/stat")).value_or(0);
    if (auto s = parse_proc_stat(read_file("/proc/self/stat"), boot, ::sysconf(_SC_CLK_TCK),
                                 ::sysconf(_SC_PAGESIZE))) {
        out.cpu_seconds = s->cpu_seconds;
        out.resident_bytes = s->resident_bytes;
        out.start_time_seconds = s->start_time_seconds;
    }
    out.open_fds = count_open_fds();
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0)
        out.max_fds = lim.rlim_cur == RLIM_INFINITY ? 1.8446744073709552e19
                                                    : static_cast<double>(lim.rlim_cur);
    return out;
}

}  // namespace wsproxy::metrics
