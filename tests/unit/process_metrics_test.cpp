// metrics/process: the standard process_* metrics, parsed from /proc and exported at scrape.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "metrics/process.hpp"
#include "metrics/registry.hpp"

using namespace wsproxy;

namespace {

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

TEST_CASE("/proc/self/stat is read from the last parenthesis, whatever the command name holds",
          "[metrics][process]") {
    // Fields as proc(5) numbers them: 14 utime, 15 stime, 22 starttime, 24 rss.
    std::string stat = "4242 (a (b) c) d) S";
    for (int field = 4; field <= 52; ++field) {
        std::string v = std::to_string(field);
        if (field == 14) v = "250";      // ticks
        if (field == 15) v = "50";       // ticks
        if (field == 22) v = "360000";   // ticks after boot
        if (field == 24) v = "1000";     // pages
        stat += " " + v;
    }
    stat += "\n";
    auto s = metrics::parse_proc_stat(stat, 1'700'000'000, 100, 4096);
    REQUIRE(s);
    CHECK(s->cpu_seconds == Approx(3.0));
    CHECK(s->resident_bytes == 4'096'000);
    CHECK(s->start_time_seconds == Approx(1'700'003'600));

    CHECK_FALSE(metrics::parse_proc_stat("4242 (x) S 1 2 3", 0, 100, 4096));
    CHECK_FALSE(metrics::parse_proc_stat("no parenthesis at all", 0, 100, 4096));
    CHECK_FALSE(metrics::parse_proc_stat(stat, 0, 0, 4096));
}

TEST_CASE("the boot time is the btime line of /proc/stat", "[metrics][process]") {
    CHECK(metrics::parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1699990000\nprocesses 9\n") ==
          1699990000.0);
    CHECK_FALSE(metrics::parse_boot_time("cpu 1 2 3\n"));
    CHECK_FALSE(metrics::parse_boot_time("btime soon\n"));
}

TEST_CASE("this process's stats are read from /proc at the moment asked", "[metrics][process]") {
    auto before = metrics::read_process_stats();
    CHECK(before.cpu_seconds >= 0);
    CHECK(before.resident_bytes > 1024 * 1024);
    CHECK(before.open_fds >= 3);  // stdin, stdout, stderr at least
    rlimit lim{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &lim) == 0);
    CHECK(before.max_fds == static_cast<double>(lim.rlim_cur));
    CHECK(before.start_time_seconds <= now_seconds() + 1);
    CHECK(before.start_time_seconds > now_seconds() - 24 * 3600);

    // Two more descriptors are seen by the next read, and gone after close.
    int a = ::open("/dev/null", O_RDONLY);
    int b = ::open("/dev/null", O_RDONLY);
    REQUIRE(a >= 0);
    REQUIRE(b >= 0);
    CHECK(metrics::read_process_stats().open_fds == before.open_fds + 2);
    ::close(a);
    ::close(b);
    CHECK(metrics::read_process_stats().open_fds == before.open_fds);

    // CPU time only grows.
    volatile std::uint64_t sink = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
    while (std::chrono::steady_clock::now() < until) sink = sink + 1;
    CHECK(metrics::read_process_stats().cpu_seconds >= before.cpu_seconds);
    CHECK(metrics::read_process_stats().start_time_seconds == before.start_time_seconds);
}

TEST_CASE("a scrape exports the process metrics with their standard names and types",
          "[metrics][process]") {
    metrics::registry reg({"send_message"}, 1);
    const auto text = reg.render();
    for (const char* line :
         {"# TYPE process_cpu_seconds_total counter", "# TYPE process_resident_memory_bytes gauge",
          "# TYPE process_open_fds gauge", "# TYPE process_max_fds gauge",
          "# TYPE process_start_time_seconds gauge"}) {
        INFO(line);
        CHECK(text.find(std::string(line) + "\n") != std::string::npos);
    }
    CHECK(reg.value("process_resident_memory_bytes") > 1024 * 1024);
    CHECK(reg.value("process_open_fds") >= 3);
    CHECK(reg.value("process_max_fds") >= reg.value("process_open_fds"));
    CHECK(reg.value("process_start_time_seconds") > now_seconds() - 24 * 3600);
    CHECK(reg.value("process_cpu_seconds_total") >= 0);
}
