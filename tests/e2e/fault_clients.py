#!/usr/bin/python3
"""Clients and misbehaving backends for the fault tests (tests/e2e/fault_*.sh).

Uses Debian's python3-websockets (10.x, the legacy asyncio API). Every mode is
bounded in time and prints one JSON line with what it saw; the shell test
decides. Modes:

  stream    N clients through the proxy to chat-backend, each streaming a long
            answer; once all have a chunk, send a signal to a pid (the backend or
            the proxy) and time how each client is closed.
  upstream  a WebSocket echo backend that logs every close it receives
            ({"event":"closed","code":...} lines), optionally with TLS, or one
            that never reads (--no-read), or a TCP listener that never answers
            the handshake (--silent).
  push      pushes up to --bytes through the proxy as fast as it is let.
  hold      one client that connects, prints {"event":"open"} and reads until closed.
  connect   one upgrade; --expect-status N: it must be refused with that status.
  many      opens N connections at once, holds them, prints how each upgrade ended.
"""
import argparse
import asyncio
import json
import os
import signal
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request

import websockets


def out(obj):
    print(json.dumps(obj), flush=True)


def status_of(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return 0


async def stream_client(args, index, streaming, results):
    chat_id = "fault-%d-%d" % (os.getpid(), index)
    url = args.url + ("&" if "?" in args.url else "?") + "tenant_id=miptech-company"
    r = {"client": index, "chunks": 0, "chunks_after_signal": 0, "code": None}
    try:
        async with websockets.connect(url, open_timeout=5, close_timeout=2,
                                      ping_interval=None) as ws:
            while True:
                raw = await ws.recv()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "connection_ready":
                    await ws.send(json.dumps({"type": "send_message",
                                              "data": {"chat_id": chat_id, "content": "go"}}))
                if kind == "response_chunk":
                    r["chunks"] += 1
                    if args.signalled_at:
                        r["chunks_after_signal"] += 1
                    if r["chunks"] == 1:
                        streaming.release()
    except websockets.ConnectionClosed as e:
        r["code"] = e.code
        r["reason"] = e.reason
    except Exception as e:
        r["error"] = "%s: %s" % (type(e).__name__, e)
        streaming.release()
    r["closed_after_s"] = round(time.monotonic() - args.signalled_at, 3) if args.signalled_at else None
    results.append(r)


async def mode_stream(args):
    args.signalled_at = None
    streaming = asyncio.Semaphore(0)
    results = []
    tasks = [asyncio.create_task(stream_client(args, i, streaming, results))
             for i in range(args.clients)]
    try:
        for _ in range(args.clients):
            await asyncio.wait_for(streaming.acquire(), 10)
    except asyncio.TimeoutError:
        out({"error": "not every client got a chunk within 10 s", "results": results})
        return 1
    args.signalled_at = time.monotonic()
    os.kill(args.pid, getattr(signal, "SIG" + args.signal))
    extra = {}
    if args.readyz:
        # Readiness must fail at once (well before the drain timeout ends).
        await asyncio.sleep(0.3)
        extra["readyz_after_signal"] = await asyncio.get_running_loop().run_in_executor(
            None, status_of, args.readyz)
    done, pending = await asyncio.wait(tasks, timeout=args.max_s + 5)
    for t in pending:
        t.cancel()
    ok = len(results) == args.clients
    for r in results:
        if r["code"] != args.expect_code or r["closed_after_s"] is None:
            ok = False
        elif not args.min_s <= r["closed_after_s"] <= args.max_s:
            ok = False
    if args.readyz and extra["readyz_after_signal"] != 503:
        ok = False
    out(dict(extra, ok=ok, results=sorted(results, key=lambda r: r["client"])))
    return 0 if ok else 1


async def mode_upstream(args):
    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    if args.silent:
        # Accepts TCP and reads the request, but never answers it.
        held = []

        async def hold(reader, writer):
            held.append(writer)
            out({"event": "accepted"})
            while await reader.read(65536):
                pass

        server = await asyncio.start_server(hold, "127.0.0.1", args.port)
        out({"event": "listening", "port": args.port})
        async with server:
            await server.serve_forever()
        return 0

    async def handler(ws, path):
        out({"event": "open", "path": path})
        if args.no_read:
            # Never read again: websockets stops reading once its queue holds one
            # message, so TCP back-pressure reaches the proxy.
            try:
                await ws.wait_closed()
            finally:
                out({"event": "closed", "code": ws.close_code})
            return
        try:
            async for msg in ws:
                await ws.send(msg)
        except websockets.ConnectionClosed:
            pass
        out({"event": "closed", "code": ws.close_code})

    kwargs = {"max_size": None, "ping_interval": None}
    if args.no_read:
        kwargs.update(max_queue=1, read_limit=2 ** 16, write_limit=2 ** 16)
    async with websockets.serve(handler, "127.0.0.1", args.port, ssl=ctx, **kwargs):
        out({"event": "listening", "port": args.port})
        await asyncio.Future()


async def mode_push(args):
    sent = 0
    blocked = False
    code = None
    chunk = b"p" * args.message_bytes
    started = time.monotonic()
    try:
        async with websockets.connect(args.url, open_timeout=5, close_timeout=2, max_size=None,
                                      ping_interval=None, write_limit=2 ** 16) as ws:
            while sent < args.bytes:
                try:
                    await asyncio.wait_for(ws.send(chunk), args.stall_s)
                except asyncio.TimeoutError:
                    blocked = True
                    break
                sent += len(chunk)
            if args.report:
                # The pusher is stuck: let the caller measure the proxy now.
                out({"event": "stalled" if blocked else "pushed", "sent": sent})
            try:
                await asyncio.wait_for(ws.wait_closed(), args.wait_close_s)
            except asyncio.TimeoutError:
                pass
            code = ws.close_code
    except websockets.ConnectionClosed as e:
        code = e.code
    except Exception as e:
        out({"error": "%s: %s" % (type(e).__name__, e), "sent": sent})
        return 1
    out({"sent": sent, "blocked": blocked, "code": code,
         "seconds": round(time.monotonic() - started, 3)})
    return 0


async def mode_hold(args):
    try:
        async with websockets.connect(args.url, open_timeout=5, ping_interval=None) as ws:
            out({"event": "open"})
            async for _ in ws:
                pass
    except websockets.ConnectionClosed as e:
        out({"event": "closed", "code": e.code})
        return 0
    out({"event": "closed"})
    return 0


async def mode_connect(args):
    ctx = None
    if args.url.startswith("wss:"):
        ctx = ssl.create_default_context(cafile=args.ca)
    started = time.monotonic()
    try:
        async with websockets.connect(args.url, open_timeout=args.timeout, ssl=ctx,
                                      ping_interval=None) as ws:
            if args.echo:
                await ws.send("hello")
                reply = await asyncio.wait_for(ws.recv(), 5)
                if reply != "hello":
                    out({"error": "echo mismatch", "got": reply})
                    return 1
            status = 101
    except websockets.InvalidStatusCode as e:
        status = e.status_code
    except Exception as e:
        out({"error": "%s: %s" % (type(e).__name__, e)})
        return 1
    elapsed = round(time.monotonic() - started, 3)
    out({"status": status, "seconds": elapsed})
    want = args.expect_status or 101
    return 0 if status == want and elapsed <= args.timeout else 1


async def mode_many(args):
    outcomes = {}
    sockets = []

    async def one():
        try:
            ws = await websockets.connect(args.url, open_timeout=args.timeout, ping_interval=None)
            sockets.append(ws)
            key = "101"
        except websockets.InvalidStatusCode as e:
            key = str(e.status_code)
        except (asyncio.TimeoutError, OSError, websockets.InvalidHandshake) as e:
            key = type(e).__name__
        outcomes[key] = outcomes.get(key, 0) + 1

    await asyncio.gather(*(one() for _ in range(args.count)))
    out({"outcomes": outcomes})
    await asyncio.sleep(args.hold)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("stream")
    s.add_argument("--url", required=True)
    s.add_argument("--clients", type=int, default=5)
    s.add_argument("--pid", type=int, required=True, help="process to signal")
    s.add_argument("--signal", default="KILL", choices=["KILL", "TERM"])
    s.add_argument("--expect-code", type=int, required=True)
    s.add_argument("--min-s", type=float, default=0.0)
    s.add_argument("--max-s", type=float, default=1.0)
    s.add_argument("--readyz", help="admin /readyz URL that must answer 503 after the signal")
    u = sub.add_parser("upstream")
    u.add_argument("--port", type=int, required=True)
    u.add_argument("--tls-cert")
    u.add_argument("--tls-key")
    u.add_argument("--no-read", action="store_true")
    u.add_argument("--silent", action="store_true")
    pu = sub.add_parser("push")
    pu.add_argument("--url", required=True)
    pu.add_argument("--bytes", type=int, default=200 << 20)
    pu.add_argument("--message-bytes", type=int, default=1 << 20)
    pu.add_argument("--stall-s", type=float, default=2.0)
    pu.add_argument("--wait-close-s", type=float, default=10.0)
    pu.add_argument("--report", action="store_true")
    h = sub.add_parser("hold")
    h.add_argument("--url", required=True)
    c = sub.add_parser("connect")
    c.add_argument("--url", required=True)
    c.add_argument("--ca")
    c.add_argument("--echo", action="store_true")
    c.add_argument("--expect-status", type=int)
    c.add_argument("--timeout", type=float, default=5.0)
    m = sub.add_parser("many")
    m.add_argument("--url", required=True)
    m.add_argument("--count", type=int, default=100)
    m.add_argument("--hold", type=float, default=0.5)
    m.add_argument("--timeout", type=float, default=3.0)
    args = p.parse_args()
    modes = {"stream": mode_stream, "upstream": mode_upstream, "push": mode_push,
             "hold": mode_hold, "connect": mode_connect, "many": mode_many}
    sys.exit(asyncio.run(modes[args.mode](args)))


if __name__ == "__main__":
    main()
