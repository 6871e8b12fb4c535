#!/usr/bin/python3
"""Load for bench/shared_state: N browser sessions split over two proxies, each sending its
user message by REST to a proxy (the other pod's, or its own for the baseline).

  shared_state.py --proxies WS_A,WS_B --http HTTP_A,HTTP_B -c 8000 --mode cross|same [--json]

Each session opens one socket (cookie mip_session=<run>-<i>) on proxy i % 2, waits until every
socket has connection_ready, then POSTs one message for its own chat to proxy (i + 1) % 2
(cross) or i % 2 (same), at most --inflight at a time. Per message it measures the REST
request (held by the proxy until the join is acknowledged) and the time from the POST to
response_complete on the socket. Prints one JSON object.
"""
import argparse
import asyncio
import json
import os
import resource
import statistics
import time

import websockets


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


async def post(host, port, path, session):
    body = b'{"content":"bench"}'
    r, w = await asyncio.open_connection(host, port)
    w.write(("POST %s HTTP/1.1\r\nHost: %s:%d\r\nCookie: mip_session=%s\r\n"
             "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
             % (path, host, port, session, len(body))).encode() + body)
    await w.drain()
    status = (await r.readline()).split()[1]
    await r.read()
    w.close()
    return int(status)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--proxies", required=True)
    p.add_argument("--http", required=True)
    p.add_argument("-c", type=int, default=8000)
    p.add_argument("--mode", choices=["cross", "same"], default="cross")
    p.add_argument("--inflight", type=int, default=200)
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ws_urls = a.proxies.split(",")
    http = [(u.split("//")[1].split(":")[0], int(u.rsplit(":", 1)[1])) for u in a.http.split(",")]
    run = "%s-%d" % (a.mode, os.getpid())
    ready = [asyncio.Event() for _ in range(a.c)]
    done = [asyncio.get_running_loop().create_future() for _ in range(a.c)]
    start_all = asyncio.Event()

    async def socket(i):
        session = "%s-%d" % (run, i)
        chat = "bench-%s-%d" % (run, i)
        async with websockets.connect(ws_urls[i % 2] + "/ws/chat", max_queue=None,
                                      extra_headers={"Cookie": "mip_session=" + session},
                                      open_timeout=60, ping_interval=None) as ws:
            async for raw in ws:
                f = json.loads(raw)
                if f.get("type") == "connection_ready":
                    ready[i].set()
                elif f.get("type") == "response_complete" and f.get("chat_id") == chat:
                    if not done[i].done():
                        done[i].set_result(time.monotonic())
                    await start_all.wait()
                    return

    tasks = [asyncio.create_task(socket(i)) for i in range(a.c)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), a.timeout)
    sem = asyncio.Semaphore(a.inflight)
    holds, completes, statuses = [], [], {}

    async def message(i):
        target = (i + 1) % 2 if a.mode == "cross" else i % 2
        async with sem:
            t0 = time.monotonic()
            st = await post(*http[target], "/api/v1/chats/bench-%s-%d/messages" % (run, i),
                            "%s-%d" % (run, i))
            holds.append(time.monotonic() - t0)
            statuses[st] = statuses.get(st, 0) + 1
        try:
            t1 = await asyncio.wait_for(asyncio.shield(done[i]), a.timeout)
            completes.append(t1 - t0)
        except asyncio.TimeoutError:
            pass

    t_start = time.monotonic()
    await asyncio.gather(*(message(i) for i in range(a.c)))
    elapsed = time.monotonic() - t_start
    start_all.set()
    for t in tasks:
        t.cancel()
    ms = lambda x: None if x is None else round(x * 1000, 2)
    print(json.dumps({
        "mode": a.mode, "connections": a.c, "answered": len(completes), "statuses": statuses,
        "seconds": round(elapsed, 2),
        "rest_ms": {"p50": ms(pct(holds, 50)), "p99": ms(pct(holds, 99)),
                    "mean": ms(statistics.mean(holds)) if holds else None},
        "complete_ms": {"p50": ms(pct(completes, 50)), "p99": ms(pct(completes, 99))},
    }), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
