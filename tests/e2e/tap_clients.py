#!/usr/bin/python3
"""Demo clients for the tap tests: browser tabs with the frontend bug, kept open.

Each client opens the tenant WebSocket (through the proxy), waits for
connection_ready, never sends join_chat, and sends send_message for its chat
(--chat, or chat-<prefix>-<n>) every --every seconds until --hold seconds have
passed, reading everything the server sends. Prints one JSON line per client
when it got its first answer ({"client": n, "chat_id", "answered": true}), so a
test can wait for it. Uses Debian's python3-websockets.
"""
import argparse
import asyncio
import json
import sys
import time

import websockets


async def one_client(args, index):
    chat_id = args.chat or "chat-%s-%d" % (args.prefix, index)
    url = args.url + ("&" if "?" in args.url else "?") + "tenant_id=miptech-company"
    headers = {"Cookie": "mip_session=tap-demo-%d" % index}
    end = time.monotonic() + args.hold
    answered = False
    async with websockets.connect(url, extra_headers=headers, open_timeout=10) as ws:
        next_send = None
        n = 0
        while time.monotonic() < end:
            timeout = end - time.monotonic()
            if next_send is not None:
                timeout = min(timeout, max(0.0, next_send - time.monotonic()))
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout)
                frame = json.loads(raw)
                kind = frame.get("type")
                data = frame.get("data") or {}
                if kind == "connection_ready" and next_send is None:
                    next_send = time.monotonic()
                if kind == "response_complete" and data.get("chat_id") == chat_id and not answered:
                    answered = True
                    print(json.dumps({"client": index, "chat_id": chat_id, "answered": True}),
                          flush=True)
            except asyncio.TimeoutError:
                pass
            if next_send is not None and time.monotonic() >= next_send:
                n += 1
                await ws.send(json.dumps({"type": "send_message",
                                          "data": {"chat_id": chat_id,
                                                   "content": "secret question %d from %d" % (n, index)}}))
                next_send = time.monotonic() + args.every if args.every > 0 else float("inf")
    return answered


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="WebSocket URL, e.g. ws://127.0.0.1:8080/ws/chat")
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--chat", default="", help="one chat_id for every client (default: one each)")
    p.add_argument("--prefix", default="demo", help="chat ids are chat-PREFIX-N")
    p.add_argument("--hold", type=float, default=10.0, help="seconds to keep each socket open")
    p.add_argument("--every", type=float, default=0.0,
                   help="seconds between messages (0: send only one)")
    args = p.parse_args()
    results = await asyncio.gather(*(one_client(args, i) for i in range(args.clients)),
                                   return_exceptions=True)
    failed = [r for r in results if r is not True]
    if failed:
        print("tap_clients: %d of %d clients got no answer: %r" % (len(failed), len(results), failed),
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
