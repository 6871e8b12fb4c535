#!/usr/bin/python3
"""A browser frontend with the bug from the integration guide, for demos and tests.

Each client opens the tenant WebSocket, waits for connection_ready, never sends
join_chat, sends one user message for its own chat and waits for the streamed
answer. Uses Debian's python3-websockets: a client we did not write.

Exit status: 0 when the outcome matches --expect (all answered, or none), 1 otherwise.
"""
import argparse
import asyncio
import json
import sys
import time
import urllib.request
import uuid

import websockets


async def one_client(args, index, results):
    chat_id = str(uuid.uuid4())
    url = args.url + ("&" if "?" in args.url else "?") + "tenant_id=" + args.tenant
    if args.chat_in_url:
        url += "&chat_id=" + chat_id
    headers = {"Cookie": "mip_session=demo-%d" % index}
    outcome = {"chat_id": chat_id, "answered": False, "foreign": 0, "chunks": 0,
               "client_id": None, "answer": ""}
    try:
        async with websockets.connect(url, extra_headers=headers, open_timeout=args.timeout) as ws:
            deadline = time.monotonic() + args.timeout
            sent = False
            while time.monotonic() < deadline:
                try:
                    raw = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
                except asyncio.TimeoutError:
                    break
                frame = json.loads(raw)
                kind = frame.get("type")
                data = frame.get("data") or {}
                if kind == "connection_established":
                    # The seed's bug: the frontend reads client_id from the top level.
                    outcome["client_id"] = frame.get("client_id")
                if kind == "connection_ready" and not sent:
                    sent = True
                    if args.via == "ws":
                        await ws.send(json.dumps({"type": "send_message",
                                                  "data": {"chat_id": chat_id,
                                                           "content": "hello from %d" % index}}))
                    else:
                        await asyncio.get_running_loop().run_in_executor(
                            None, rest_message, args, chat_id, index, headers)
                frame_chat = data.get("chat_id", frame.get("chat_id"))
                if kind in ("response_start", "response_chunk", "response_complete",
                            "typing_start", "typing_stop") and frame_chat != chat_id:
                    outcome["foreign"] += 1
                if kind == "response_chunk" and frame_chat == chat_id:
                    outcome["chunks"] += 1
                if kind == "response_complete" and frame_chat == chat_id:
                    outcome["answered"] = True
                    outcome["answer"] = data.get("content", "")
                    break
    except Exception as e:  # a failed client is a result, not a crash
        outcome["error"] = "%s: %s" % (type(e).__name__, e)
    results.append(outcome)


def rest_message(args, chat_id, index, headers):
    body = json.dumps({"content": "hello from %d" % index}).encode()
    req = urllib.request.Request(args.rest + "/api/v1/chats/%s/messages" % chat_id, data=body,
                                 method="POST", headers=dict(headers, **{"Content-Type": "application/json"}))
    with urllib.request.urlopen(req, timeout=args.timeout) as r:
        r.read()


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="ws://127.0.0.1:8080/ws/chat", help="WebSocket URL")
    p.add_argument("--rest", default="http://127.0.0.1:8080", help="REST base URL (for --via rest)")
    p.add_argument("--tenant", default="miptech-company")
    p.add_argument("--clients", type=int, default=2, help="concurrent clients, each on its own chat")
    p.add_argument("--via", choices=["ws", "rest"], default="ws",
                   help="send the user message as send_message on the socket, or by REST")
    p.add_argument("--chat-in-url", action="store_true", help="put ?chat_id= on the upgrade URL")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each answer")
    p.add_argument("--expect", choices=["answered", "unanswered", "any"], default="any")
    p.add_argument("--json", action="store_true", help="print one JSON summary line")
    args = p.parse_args()

    results = []
    await asyncio.gather(*(one_client(args, i, results) for i in range(args.clients)))
    answered = sum(r["answered"] for r in results)
    foreign = sum(r["foreign"] for r in results)
    errors = [r["error"] for r in results if "error" in r]
    summary = {"clients": len(results), "answered": answered, "foreign_frames": foreign,
               "errors": errors}
    if args.json:
        print(json.dumps(summary))
    else:
        for r in results:
            state = "answered: %r" % r["answer"] if r["answered"] else "NO ANSWER (discarded by the backend)"
            print("  chat %s  client_id seen by the frontend: %s  %s" %
                  (r["chat_id"][:8], r["client_id"], r.get("error", state)))
        print("  %d of %d clients got their answer; %d frames of other chats leaked" %
              (answered, len(results), foreign))
    ok = not errors and foreign == 0 and (
        args.expect == "any" or
        (args.expect == "answered" and answered == len(results)) or
        (args.expect == "unanswered" and answered == 0))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
