#!/usr/bin/python3
"""A browser session for the shared-state test (tests/e2e/shared_state_test.sh).

Uses Debian's python3-websockets (10.x, legacy asyncio API). Every mode is bounded in time
and prints one JSON line; the shell test decides. Modes:

  answer  opens a socket (session cookie --session) at --ws, waits for connection_ready,
          optionally joins --join itself, then POSTs a message for --chat to --post (a
          proxy, or the backend itself) with the same cookie, and reports whether the
          answer (response_complete for the chat) reached the socket.
  rejoin  opens a socket at --ws that joins nothing, waits until --metrics (the proxy's
          admin) counts an injected join, then POSTs to --post (the backend, so that no
          proxy joins anything for it) and reports whether the answer arrived.
"""
import argparse
import asyncio
import json
import re
import time
import urllib.request

import websockets


def out(obj):
    print(json.dumps(obj), flush=True)


def post(url, chat, session):
    req = urllib.request.Request(
        "%s/api/v1/chats/%s/messages" % (url, chat), data=b'{"content":"hello"}', method="POST",
        headers={"Content-Type": "application/json", "Cookie": "mip_session=" + session})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def metric(admin, name):
    with urllib.request.urlopen(admin + "/metrics", timeout=5) as r:
        text = r.read().decode()
    m = re.search("^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


async def ready(ws):
    while True:
        f = json.loads(await ws.recv())
        if f.get("type") == "connection_ready":
            return


async def answered(ws, chat, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            raw = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
        except asyncio.TimeoutError:
            return False
        f = json.loads(raw)
        if f.get("type") == "response_complete" and f.get("chat_id") == chat:
            return True
    return False


async def answer(a):
    async with websockets.connect(a.ws, extra_headers={"Cookie": "mip_session=" + a.session}) as ws:
        await asyncio.wait_for(ready(ws), 10)
        if a.join:
            await ws.send(json.dumps({"type": "join_chat", "data": {"chat_id": a.chat}}))
            while json.loads(await asyncio.wait_for(ws.recv(), 10)).get("type") != "chat_joined":
                pass
        status = await asyncio.get_running_loop().run_in_executor(None, post, a.post, a.chat,
                                                                  a.session)
        out({"mode": "answer", "status": status, "answered": await answered(ws, a.chat, a.seconds)})


async def rejoin(a):
    async with websockets.connect(a.ws, extra_headers={"Cookie": "mip_session=" + a.session}) as ws:
        await asyncio.wait_for(ready(ws), 10)
        # The proxy's injected join, then the backend's acknowledgement of it: only then is
        # the socket registered for the message posted next.
        acked = 'wsproxy_chat_joined_total{success="true"}'
        deadline = time.monotonic() + a.seconds
        while metric(a.metrics, acked) < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        injected = metric(a.metrics, 'wsproxy_join_chat_total{source="injected"}')
        status = await asyncio.get_running_loop().run_in_executor(None, post, a.post, a.chat,
                                                                  a.session)
        out({"mode": "rejoin", "injected": injected, "status": status,
             "answered": await answered(ws, a.chat, a.seconds)})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["answer", "rejoin"])
    p.add_argument("--ws", required=True)
    p.add_argument("--post", required=True)
    p.add_argument("--session", required=True)
    p.add_argument("--chat", required=True)
    p.add_argument("--join", action="store_true")
    p.add_argument("--metrics", default="")
    p.add_argument("--seconds", type=float, default=5)
    a = p.parse_args()
    asyncio.run(answer(a) if a.mode == "answer" else rejoin(a))


if __name__ == "__main__":
    main()
