#!/usr/bin/env python3
"""Groups `perf report --sort dso,sym --stdio` self-time lines into what the CPU was for.

Reads the report on stdin; prints a markdown table, biggest group first. The first rule
that matches a line's "dso symbol" text wins, so the specific ones come first.
"""
import re
import sys

GROUPS = [
    # Symbols that *are* our functions; Beast's ops name ws_pair's handlers in their
    # template arguments, so these patterns are anchored at the symbol's start.
    ("rules engine (classify + rule chain)", r"\[\.\] wsproxy::rules::"),
    ("metrics shards", r"\[\.\] wsproxy::metrics::"),
    ("ws_pair (on_readable, process, on_message, run_actions, write_bytes)",
     r"\[\.\] wsproxy::ws_pair::"),
    ("WebSocket framing (ws::reader, masking, UTF-8 check)", r"\[\.\] wsproxy::ws::"),
    ("kernel (TCP loopback, epoll, syscalls)", r"\[kernel\.kallsyms\]|\[k\] "),
    ("malloc / free", r"malloc|_int_free|\bfree\b|cfree|operator new|operator delete|tcache"),
    ("shared_ptr reference counts", r"sp_counted|shared_count|_Sp_counted|shared_ptr"),
    ("any_io_executor (type-erased executor)", r"any_io_executor|any_executor"),
    ("Asio scheduler, reactor, handler completion",
     r"boost::asio::detail::(scheduler|epoll_reactor|reactive_socket|reactor_op|executor_op|"
     r"thread_info|handler_work|conditionally_enabled|posix_mutex|work_dispatcher)"),
    ("Beast basic_stream (tcp_stream) ops and timers",
     r"\[\.\] boost::beast::(basic_stream|detail::stream_base)"),
    ("Beast websocket ops (read/write, masking, UTF-8)", r"\[\.\] boost::beast::websocket"),
    ("other Beast/Asio", r"boost::"),
    ("mutex", r"pthread_mutex|__lll_lock|futex"),
    ("clock_gettime", r"clock_gettime|vdso"),
    ("libc syscall wrappers", r"libc\.so|libc-"),
]


def main() -> None:
    conns = sys.argv[1] if len(sys.argv) > 1 else "?"
    mode = sys.argv[2] if len(sys.argv) > 2 else "?"
    totals = {name: 0.0 for name, _ in GROUPS}
    totals["other"] = 0.0
    line_re = re.compile(r"^\s*([0-9.]+)%\s+(.*)$")
    for line in sys.stdin:
        m = line_re.match(line)
        if not m:
            continue
        share, what = float(m.group(1)), m.group(2)
        for name, pattern in GROUPS:
            if re.search(pattern, what):
                totals[name] += share
                break
        else:
            totals["other"] += share
    print(f"| share of proxy CPU ({mode} mode, {conns} conns) | % |")
    print("|---|---:|")
    for name, share in sorted(totals.items(), key=lambda kv: -kv[1]):
        if share >= 0.05:
            print(f"| {name} | {share:.1f} |")


if __name__ == "__main__":
    main()
