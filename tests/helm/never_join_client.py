#!/usr/bin/python3
"""Browser-like chat clients that never send join_chat (the frontend bug of protocol.md section 6).

Each client connects to the proxy, waits for connection_ready, sends one send_message for a fresh
chat and waits for the answer (response_complete). Clients run in rounds of --parallel until
--duration seconds have passed; every wait is bounded. Prints one JSON summary line.

Uses Debian's python3-websockets (10.x).
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import time
import uuid

import websockets


async def one_client(url, ready_timeout, answer_timeout, stats):
    try:
        async with websockets.connect(url, open_timeout=5, close_timeout=1, max_size=2**22) as ws:
            stats["connected"] += 1
            deadline = time.monotonic() + ready_timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    stats["no_ready"] += 1
                    return
                frame = json.loads(await asyncio.wait_for(ws.recv(), left))
                if frame.get("type") == "connection_ready":
                    break
            stats["ready"] += 1
            chat_id = str(uuid.uuid4())
            await ws.send(json.dumps({"type": "send_message", "data": {"chat_id": chat_id, "content": "hi"}}))
            deadline = time.monotonic() + answer_timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    stats["unanswered"] += 1
                    return
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), left))
                except asyncio.TimeoutError:
                    stats["unanswered"] += 1
                    return
                if frame.get("type") == "response_complete":
                    stats["answered"] += 1
                    return
    except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException, ValueError) as e:
        stats["errors"] += 1
        stats["last_error"] = f"{type(e).__name__}: {e}"


async def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--duration", type=float, default=10.0, help="seconds to keep starting rounds")
    p.add_argument("--parallel", type=int, default=4, help="clients per round")
    p.add_argument("--ready-timeout", type=float, default=5.0)
    p.add_argument("--answer-timeout", type=float, default=2.0)
    p.add_argument("--pause", type=float, default=0.2, help="seconds between rounds")
    a = p.parse_args()
    stats = {"rounds": 0, "connected": 0, "ready": 0, "answered": 0, "unanswered": 0,
             "no_ready": 0, "errors": 0, "last_error": ""}
    end = time.monotonic() + a.duration

    def stop_now():
        # The test stops us once it has its verdict: report what was seen so far.
        print(json.dumps(stats), flush=True)
        os._exit(0)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop_now)
    while time.monotonic() < end:
        await asyncio.gather(*(one_client(a.url, a.ready_timeout, a.answer_timeout, stats)
                               for _ in range(a.parallel)))
        stats["rounds"] += 1
        await asyncio.sleep(a.pause)
    print(json.dumps(stats), flush=True)
    return 0 if stats["ready"] > 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
