#!/usr/bin/env python3
"""Turns a bench/run result folder (results.jsonl, machine.json) into markdown tables.

    report.py OUT_DIR                    print the tables
    report.py --readme README.md OUT_DIR replace the text between the results markers
"""
import json
import statistics
import sys
from collections import defaultdict

START = "<!-- results:start -->"
END = "<!-- results:end -->"
ORDER = ["direct", "wsproxy-fix", "wsproxy-observe", "nginx", "haproxy", "mitmproxy"]
NAMES = {
    "direct": "none (direct)",
    "wsproxy-fix": "**wsproxy fix**",
    "wsproxy-observe": "wsproxy observe",
    "nginx": "nginx (1 worker)",
    "haproxy": "HAProxy (1 thread)",
    "mitmproxy": "mitmproxy (JSON addon)",
}


def fmt(v, digits=0):
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}".replace(",", " ")
    return f"{v:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}"


def load(out):
    rows = [json.loads(l) for l in open(f"{out}/results.jsonl") if l.strip()]
    try:
        machine = json.load(open(f"{out}/machine.json"))["machine"]
    except (OSError, ValueError, KeyError):
        machine = {}
    return rows, machine


def others(r):
    """How busy CPU 1 (the proxy's) was with anything but the proxy during the window."""
    busy = r.get("cpu_busy_percent")
    if not busy or len(busy) < 2:
        return "–"
    proxy = 100.0 * r.get("proxy_cpu_seconds", 0.0) / r["window_seconds"] if r["window_seconds"] else 0
    return fmt(max(0.0, busy[1] - proxy))


def median_run(runs):
    """The run with the median msgs/s (the lower median for an even count)."""
    runs = sorted(runs, key=lambda r: r["msgs_per_s"])
    return runs[(len(runs) - 1) // 2]


def tables(rows, machine):
    echo = defaultdict(list)
    idle = {}
    chat = []
    for r in rows:
        if r["mode"] == "echo":
            echo[(r["label"], r["connections"])].append(r)
        elif r["mode"] == "idle":
            idle[r["label"]] = r
        elif r["mode"] == "chat":
            chat.append(r)
    med = {k: median_run(v) for k, v in echo.items()}
    conns = sorted({c for (_, c) in med})
    labels = [l for l in ORDER if any(k[0] == l for k in med)] + sorted(
        {k[0] for k in med} - set(ORDER))

    out = []
    if machine:
        out.append(f"Machine: {machine.get('nproc', '?')} CPUs, {machine.get('cpu', '?')}, "
                   f"kernel {machine.get('kernel', '?')}, {machine.get('os', '?')}. "
                   f"Measured {machine.get('date', '?')} (load average at the end {machine.get('load', '?')}).  ")
        out.append(f"Versions: {machine.get('wsproxy', '?')}; {machine.get('nginx', '?')}; "
                   f"{machine.get('haproxy', '?')}; {machine.get('mitmproxy', '?')}; "
                   f"built with {machine.get('compiler', '?')}.  ")
        out.append(f"Settings: {machine.get('settings', '?')}. Proxy on CPU 1, generator and "
                   f"bench-echo on CPU 0. CPU µs per message = proxy utime+stime over the "
                   f"measured window / echoed messages (each message crosses the proxy twice).")
        out.append("")
    out.append("| proxy | conns | msgs/s | p50 | p90 | p99 | p99.9 | max (µs) | proxy CPU µs/msg "
               "| ×nginx msgs/s | ×nginx p99 | ×nginx CPU/msg | errors | generator CPU % "
               "| CPU 1 used by others % |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label in labels:
        for c in conns:
            r = med.get((label, c))
            if not r:
                continue
            n = med.get(("nginx", c))
            l = r["latency_us"]
            cpu = r.get("proxy_cpu_us_per_msg")
            ncpu = n.get("proxy_cpu_us_per_msg") if n else None
            errs = r["errors"] + r["connect_errors"]
            err_txt = str(errs) if r["connected"] == r["connections"] else \
                f"{errs} ({r['connected']}/{r['connections']} open)"
            out.append(
                f"| {NAMES.get(label, label)} | {c} | {fmt(r['msgs_per_s'])} | {fmt(l['p50'])} | "
                f"{fmt(l['p90'])} | {fmt(l['p99'])} | {fmt(l['p999'])} | {fmt(l['max'])} | "
                f"{fmt(cpu, 1)} | {ratio(r['msgs_per_s'], n['msgs_per_s']) if n else '–'} | "
                f"{ratio(l['p99'], n['latency_us']['p99']) if n else '–'} | {ratio(cpu, ncpu)} | "
                f"{err_txt} | {fmt(r['bench_cpu_percent'])} | {others(r)} |")
    out.append("")
    if idle:
        nginx_rss = idle.get("nginx", {}).get("rss_per_conn_bytes")
        out.append("| proxy | idle connections held | RSS before → after | RSS per idle connection "
                   "(both legs) | ×nginx |")
        out.append("|---|---:|---:|---:|---:|")
        for label in [l for l in ORDER if l in idle] + sorted(set(idle) - set(ORDER)):
            r = idle[label]
            per = r.get("rss_per_conn_bytes")
            before = r.get("proxy_rss_before_bytes")
            after = r.get("proxy_rss_after_bytes")
            mib = lambda b: "–" if b is None else f"{b / 1048576:.1f} MiB"
            out.append(f"| {NAMES.get(label, label)} | {r['connected']} of {r['connections']} | "
                       f"{mib(before)} → {mib(after)} | "
                       f"{fmt(per)} B ({fmt(per / 1024 if per else None, 2)} KiB) | "
                       f"{ratio(per, nginx_rss)} |")
        out.append("")
    if chat:
        out.append("| chat run | connections | ready | answered (all chunks + complete) | "
                   "first chunk p50 / p99 (ms) | complete p50 / p99 / max (ms) | "
                   "wrong-chat frames | errors | proxy CPU µs per answer |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in chat:
            f, t = r["ttfc_us"], r["ttc_us"]
            ms = lambda v: f"{v / 1000:.1f}"
            out.append(
                f"| {r['label']} | {r['connections']} | {r.get('ready', '–')} | "
                f"{r['conns_answered']} | "
                f"{ms(f['p50'])} / {ms(f['p99'])} | {ms(t['p50'])} / {ms(t['p99'])} / {ms(t['max'])} | "
                f"{r['wrong_chat_frames']} | {r['errors'] + r['connect_errors']} | "
                f"{fmt(r.get('proxy_cpu_us_per_answer'), 1)} |")
        out.append("")
    return "\n".join(out)


def main(argv):
    readme = None
    if len(argv) >= 3 and argv[1] == "--readme":
        readme = argv[2]
        argv = [argv[0]] + argv[3:]
    out = argv[1]
    rows, machine = load(out)
    text = tables(rows, machine)
    if readme is None:
        print(text)
        return 0
    doc = open(readme).read()
    if START not in doc or END not in doc:
        doc = doc.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    open(readme, "w").write(f"{head}{START}\n{text}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
