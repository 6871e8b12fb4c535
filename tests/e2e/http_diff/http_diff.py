#!/usr/bin/env python3
"""Differential test of wsproxy's HTTP/1.x reverse proxying against nginx.

The same raw client bytes go through nginx (Debian's nginx-light, started here with
its own configuration on a loopback port) and through wsproxy, both in front of the
same recording upstream. For every case we record what reached the upstream (the
requests it could parse: method, target, version, framing, body, a few headers, and
anything that did not parse) and what the client got (the status codes in order,
1xx included, the bodies, whether the connection was closed), reduce both to what
matters (was the request forwarded or rejected and with which status class, did a
second request get through, did each request get exactly one final response, its
own, in order), and compare nginx with wsproxy.

A case fails when wsproxy differs from nginx and the difference is not listed in
expected_differences.txt, when a listed difference no longer occurs, or when wsproxy
does something unsafe whatever nginx does: a smuggled request reaches the upstream,
a response reaches a request that is not its own, a 1xx stands in for the final
response, or a non-idempotent request is sent upstream twice.

Standard library only. Every socket has a timeout; both proxies are stopped by PID
when the run ends, however it ends.

    http_diff.py --wsproxy build/wsproxy [--only ID,...] [--verbose]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
IO_TIMEOUT = 5.0        # any single socket operation
QUIET = 1.5             # a client stops waiting after this long without a byte
GRACE = 0.15            # after the awaited responses, how long to look for stray bytes
CLOSE_WAIT = 0.4        # after the last exchange, how long to wait for the proxy's FIN
EXPECT_WAIT = 1.5       # a client that sent Expect: 100-continue waits this long (curl: 1 s)
CASE_LIMIT = 15.0       # one case through one proxy, at most

# ---------------------------------------------------------------------------
# HTTP/1.x parsing shared by the upstream (requests) and the client (responses).
# Lenient on purpose: it has to describe whatever a proxy sends, not judge it.
# ---------------------------------------------------------------------------

LINE_SPLIT = re.compile(rb"\r?\n")


def find_head_end(buf, start=0):
    """Index just past the blank line ending a head (CRLFCRLF or a bare LF LF), or -1."""
    a = buf.find(b"\r\n\r\n", start)
    b = buf.find(b"\n\n", start)
    ends = [x + 4 for x in (a,) if x >= 0] + [x + 2 for x in (b,) if x >= 0]
    return min(ends) if ends else -1


def parse_fields(lines):
    """(headers, notes): headers as [(lower-case name, value)], obs-fold joined."""
    headers, notes = [], []
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            notes.append("obs-fold")
            if headers:
                name, value = headers[-1]
                headers[-1] = (name, value + b" " + line.strip())
            continue
        if b":" not in line:
            notes.append("field without colon: %r" % line[:40])
            continue
        name, value = line.split(b":", 1)
        if b"\r" in value:
            notes.append("bare CR in %s" % name.decode("latin-1"))
        headers.append((name.strip().lower().decode("latin-1"), value.strip(b" \t")))
    return headers, notes


def values(headers, name):
    return [v for n, v in headers if n == name]


def parse_chunked(buf, start):
    """Decode a chunked body at buf[start:].

    Returns ("ok", body, trailers, end), ("more",) when incomplete, or ("bad", why)."""
    pos, body = start, bytearray()
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            return ("more",) if len(buf) - pos < 1024 else ("bad", "chunk size line too long")
        line = bytes(buf[pos:nl]).rstrip(b"\r")
        size_text = line.split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_text):
            return ("bad", "bad chunk size %r" % size_text[:20])
        size = int(size_text, 16)
        pos = nl + 1
        if size == 0:
            trailers = []
            while True:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    return ("more",)
                line = bytes(buf[pos:nl]).rstrip(b"\r")
                pos = nl + 1
                if not line:
                    fields, _ = parse_fields(trailers)
                    return ("ok", bytes(body), fields, pos)
                trailers.append(line)
        if len(buf) < pos + size + 1:
            return ("more",)
        body += buf[pos:pos + size]
        pos += size
        if buf[pos:pos + 2] == b"\r\n":
            pos += 2
        elif buf[pos:pos + 1] == b"\n":
            pos += 1
        elif len(buf) < pos + 2:
            return ("more",)
        else:
            return ("bad", "chunk data not followed by CRLF")


class Request:
    """One request as the upstream received it."""

    def __init__(self):
        self.method = self.target = self.version = b""
        self.headers = []
        self.framing = "length"   # "length", "chunked", or "te:<value>" (not chunked-final)
        self.length = 0
        self.body = b""
        self.trailers = []
        self.notes = []           # anything a careful backend would have refused
        self.raw = b""
        self.complete = False

    def header(self, name):
        return values(self.headers, name)


def parse_request_head(head):
    req = Request()
    lines = LINE_SPLIT.split(bytes(head).rstrip(b"\r\n"))
    parts = lines[0].split(b" ")
    if len(parts) == 3:
        req.method, req.target, req.version = parts
    else:
        req.notes.append("bad request line %r" % lines[0][:60])
        req.method = parts[0] if parts else b""
    if b"\r\n" not in bytes(head) or re.search(rb"[^\r]\n", bytes(head)):
        req.notes.append("bare LF")
    req.headers, notes = parse_fields(lines[1:])
    req.notes += notes
    te = b", ".join(req.header("transfer-encoding"))
    cls = req.header("content-length")
    if te:
        codings = [c.strip().lower() for c in te.split(b",") if c.strip()]
        if codings and codings[-1] == b"chunked":
            req.framing = "chunked"
        else:
            req.framing = "te:" + te.decode("latin-1")
            req.notes.append("Transfer-Encoding %s" % te.decode("latin-1"))
        if cls:
            req.notes.append("Transfer-Encoding with Content-Length")
    elif cls:
        items = {x.strip() for v in cls for x in v.split(b",")}
        if len(cls) > 1 or len(items) > 1:
            req.notes.append("Content-Length %s" % b" | ".join(cls).decode("latin-1"))
        first = sorted(items)[0] if items else b""
        if first.isdigit():
            req.length = int(first)
        else:
            req.notes.append("bad Content-Length %r" % first)
    return req


def parse_response_stream(data, methods, eof):
    """Split what a client received into responses.

    methods: the request methods in the order sent (a HEAD response has no body).
    Returns (responses, leftover, pending): responses are dicts with status, interim,
    headers, body, req (index of the request it answers); leftover is the bytes that
    do not parse as a response; pending is True when a response is still incomplete."""
    out, pos, i = [], 0, 0
    while pos < len(data):
        end = find_head_end(data, pos)
        if end < 0:
            return out, bytes(data[pos:]), not eof and re.match(rb"HTTP/", bytes(data[pos:pos + 5])) is not None
        lines = LINE_SPLIT.split(bytes(data[pos:end]).rstrip(b"\r\n"))
        m = re.fullmatch(rb"HTTP/1\.[01] (\d{3})(?: .*)?", lines[0])
        if not m:
            return out, bytes(data[pos:]), False
        status = int(m.group(1))
        headers, _ = parse_fields(lines[1:])
        r = {"status": status, "headers": headers, "body": b"", "req": i,
             "interim": 100 <= status < 200, "truncated": False}
        if r["interim"]:
            out.append(r)
            pos = end
            continue
        method = methods[i] if i < len(methods) else b"GET"
        te = b", ".join(values(headers, "transfer-encoding")).lower()
        cl = values(headers, "content-length")
        if method == b"HEAD" or status in (204, 304):
            pos = end
        elif te.endswith(b"chunked"):
            c = parse_chunked(data, end)
            if c[0] == "more" and not eof:
                return out, bytes(data[pos:]), True
            if c[0] != "ok":   # cut off by the close, or broken: what arrived, marked
                r["body"], r["truncated"] = bytes(data[end:]), True
                out.append(r)
                return out, b"", False
            r["body"], pos = c[1], c[3]
        elif cl and cl[0].strip().isdigit():
            n = int(cl[0].strip())
            if len(data) < end + n:
                if not eof:
                    return out, bytes(data[pos:]), True
                r["body"], r["truncated"] = bytes(data[end:]), True
                out.append(r)
                return out, b"", False
            r["body"], pos = bytes(data[end:end + n]), end + n
        else:  # delimited by close
            if not eof:
                return out, bytes(data[pos:]), True
            r["body"], pos = bytes(data[end:]), len(data)
        out.append(r)
        i += 1
    return out, b"", False


# ---------------------------------------------------------------------------
# The recording upstream.
# ---------------------------------------------------------------------------

def target_path(target):
    """The path of an origin-form or absolute-form target."""
    t = target if isinstance(target, bytes) else target.encode()
    m = re.match(rb"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*(.*)", t)
    return (m.group(1) if m else t) or b"/"


def response(req, status=200, reason="OK", headers=(), body=None):
    """The upstream's usual answer: a Content-Length response naming its request.

    X-Resp-For carries the target the upstream received, so a client can tell
    whether the response it got belongs to the request it sent."""
    if body is None:
        body = b"ok:" + target_path(req.target).rsplit(b"/", 1)[-1]
    head = [b"HTTP/1.1 %d %s" % (status, reason.encode()), b"X-Resp-For: " + req.target,
            b"Content-Length: %d" % len(body)]
    head += [h.encode() if isinstance(h, str) else h for h in headers]
    raw = b"\r\n".join(head) + b"\r\n\r\n"
    return raw if req.method == b"HEAD" else raw + body


# A complete response hidden in the body of a response that must not have one: a
# proxy that does not know the body is not there takes it as the answer to the
# client's next request.
SMUGGLED_RESPONSE = (b"HTTP/1.1 200 OK\r\nX-Resp-For: /smuggled-response\r\n"
                     b"Content-Length: 9\r\n\r\nsmuggled!")


class Ctx:
    def __init__(self, conn, index, n):
        self.conn = conn      # index of the upstream connection in this run
        self.index = index    # index of the request on that connection
        self.n = n            # index of the request in this run


class UpConn:
    def __init__(self, index, sock):
        self.index = index
        self.sock = sock
        self.raw = bytearray()
        self.requests = []
        self.leftover = b""
        self.closed_by_proxy = False
        self.closed_by_us = False


class Upstream:
    """A raw TCP server that records every byte and answers from the current case."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.case = None
        self.conns = []
        self.threads = []
        self.count = 0
        self.strays = 0
        self.stopping = threading.Event()
        self.run_stop = threading.Event()
        self.accept_thread = threading.Thread(target=self._accept, daemon=True)
        self.accept_thread.start()

    def begin(self, case):
        with self.lock:
            self.case, self.conns, self.threads, self.count = case, [], [], 0
            self.run_stop = threading.Event()

    def end(self):
        """Close every connection of this run (so no pooled connection leaks into
        the next case) and return what was recorded."""
        with self.lock:
            conns, threads, stop = list(self.conns), list(self.threads), self.run_stop
            self.case = None
        stop.set()
        for c in conns:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(2.0)
        for c in conns:
            try:
                c.sock.close()
            except OSError:
                pass
        return conns

    def close(self):
        self.stopping.set()
        self.accept_thread.join(2.0)
        self.lsock.close()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                sock, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(0.05)
            with self.lock:
                if self.case is None:
                    # Between runs: a late connection must not be pooled into the next case.
                    self.strays += 1
                    sock.close()
                    continue
                conn = UpConn(len(self.conns), sock)
                self.conns.append(conn)
                t = threading.Thread(target=self._serve, args=(conn, self.case, self.run_stop),
                                     daemon=True)
                self.threads.append(t)
            t.start()

    def _next_n(self):
        with self.lock:
            self.count += 1
            return self.count - 1

    def _act(self, conn, actions):
        """Runs a script's actions; False when the connection is finished."""
        for a in actions:
            if isinstance(a, bytes):
                try:
                    conn.sock.settimeout(IO_TIMEOUT)
                    conn.sock.sendall(a)
                    conn.sock.settimeout(0.05)
                except OSError:
                    return False
            elif a == "close":
                conn.closed_by_us = True
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return False
            elif isinstance(a, tuple) and a[0] == "sleep":
                time.sleep(a[1])
        return True

    def _serve(self, conn, case, stop):
        buf = bytearray()
        cur, body_at, hooked = None, 0, False
        alive = True
        while alive and not stop.is_set():
            try:
                data = conn.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                conn.closed_by_proxy = True
                break
            conn.raw += data
            buf += data
            while alive:
                if cur is None:
                    end = find_head_end(buf)
                    if end < 0:
                        break
                    cur = parse_request_head(buf[:end])
                    body_at, hooked = end, False
                if not hooked:
                    hooked = True
                    if case is not None and case.on_head is not None:
                        alive = self._act(conn, case.on_head(cur))
                        if not alive:
                            break
                if cur.framing == "chunked":
                    c = parse_chunked(buf, body_at)
                    if c[0] == "more":
                        break
                    if c[0] == "bad":
                        cur.notes.append(c[1])
                        cur.body, end = bytes(buf[body_at:]), len(buf)
                    else:
                        cur.body, cur.trailers, end = c[1], c[2], c[3]
                else:
                    if len(buf) < body_at + cur.length:
                        break
                    end = body_at + cur.length
                    cur.body = bytes(buf[body_at:end])
                cur.raw, cur.complete = bytes(buf[:end]), True
                del buf[:end]
                req, cur = cur, None
                ctx = Ctx(conn.index, len(conn.requests), self._next_n())
                conn.requests.append(req)
                if req.notes and any(n.startswith(("bad request line", "bad chunk", "chunk data"))
                                     for n in req.notes):
                    # What a careful backend does with bytes it cannot frame.
                    self._act(conn, [b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                     b"Connection: close\r\n\r\n", "close"])
                    alive = False
                    break
                script = case.upstream if case is not None else None
                actions = script(ctx, req) if script else [response(req)]
                alive = self._act(conn, actions)
        if cur is not None:
            cur.notes.append("incomplete")
            cur.raw = bytes(buf)
            conn.requests.append(cur)
        elif buf:
            conn.leftover = bytes(buf)


# ---------------------------------------------------------------------------
# Cases.
# ---------------------------------------------------------------------------

class Case:
    """steps: bytes are sent; an int N waits until N final responses have arrived
    (or the connection closes, or nothing arrives for QUIET seconds); ("expect", B)
    waits up to EXPECT_WAIT for a status line and sends B unless a final response
    came. reqs: the (method, path) the client means to send, in order."""

    def __init__(self, cid, desc, steps, reqs, upstream=None, on_head=None, watch=(),
                 host="value", no_reuse=False):
        self.id, self.desc, self.steps, self.reqs = cid, desc, steps, reqs
        self.no_reuse = no_reuse   # the first upstream connection must not carry a later request
        self.upstream, self.on_head = upstream, on_head
        self.watch = ("host",) + tuple(watch)
        self.host = host   # "value": compare the Host sent upstream; "presence": only whether one was


def r11(method, path, headers="", body=b"", host="app.test"):
    head = "%s %s HTTP/1.1\r\n" % (method, path)
    if host is not None:
        head += "Host: %s\r\n" % host
    return (head + headers + "\r\n").encode("latin-1") + body


def get(path, headers=""):
    return r11("GET", path, headers)


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: app.test\r\n\r\n"


def then(*items):
    """Upstream script: answer every request with these actions."""
    def script(ctx, req):
        return [i(req) if callable(i) else i for i in items]
    return script


def first_only(*items):
    """Upstream script: the first request of the run gets these actions, later ones the
    usual answer."""
    def script(ctx, req):
        if ctx.n == 0:
            return [i(req) if callable(i) else i for i in items]
        return [response(req)]
    return script


def python_like_expect(req):
    """Python's http.server and Node answer Expect: 100-continue with 100 on their own."""
    if any(v.strip().lower() == b"100-continue" for v in req.header("expect")):
        return [b"HTTP/1.1 100 Continue\r\n\r\n"]
    return []


def drop_second_on_first_conn(ctx, req):
    """Answers the first request; closes the same kept-alive connection on reading the
    second one, without answering; answers on any other connection."""
    if ctx.conn == 0 and ctx.index == 1:
        return [("sleep", 0.05), "close"]
    return [response(req)]


def close_idle_after_first(ctx, req):
    """Answers the first request as keep-alive, then closes that connection while idle."""
    if ctx.conn == 0 and ctx.index == 0:
        return [response(req), ("sleep", 0.15), "close"]
    return [response(req)]


def p(cid, n):
    return "/c/%s/%d" % (cid, n)


def build_cases():
    C = []

    def add(cid, desc, steps, reqs, **kw):
        C.append(Case(cid, desc, steps, reqs, **kw))

    # --- request framing -------------------------------------------------------
    add("te-gzip", "Transfer-Encoding: gzip (final coding not chunked), a request in the body",
        [r11("POST", p("te-gzip", 1), "Transfer-Encoding: gzip\r\n") + SMUGGLED, 1],
        [("POST", p("te-gzip", 1))])
    add("te-chunked-identity-cl", "Transfer-Encoding: chunked, identity plus Content-Length",
        [r11("POST", p("te-chunked-identity-cl", 1),
             "Transfer-Encoding: chunked, identity\r\nContent-Length: 5\r\n") + b"hello" + SMUGGLED, 1],
        [("POST", p("te-chunked-identity-cl", 1))])
    add("te-cl", "Transfer-Encoding: chunked and Content-Length: 4 (CL.TE)",
        [r11("POST", p("te-cl", 1), "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n")
         + b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED, 1],
        [("POST", p("te-cl", 1))])
    add("te-http10", "HTTP/1.0 request with Transfer-Encoding: chunked",
        [b"POST " + p("te-http10", 1).encode() + b" HTTP/1.0\r\nHost: app.test\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 1],
        [("POST", p("te-http10", 1))])
    add("cl-differ", "two Content-Length headers, 5 and 6",
        [r11("POST", p("cl-differ", 1), "Content-Length: 5\r\nContent-Length: 6\r\n") + b"hello!", 1],
        [("POST", p("cl-differ", 1))])
    add("cl-same", "two identical Content-Length headers, 5 and 5",
        [r11("POST", p("cl-same", 1), "Content-Length: 5\r\nContent-Length: 5\r\n") + b"hello", 1],
        [("POST", p("cl-same", 1))])
    add("cl-list", "Content-Length: 5, 5 (a list in one field)",
        [r11("POST", p("cl-list", 1), "Content-Length: 5, 5\r\n") + b"hello", 1],
        [("POST", p("cl-list", 1))])
    add("cl-plus", "Content-Length: +5",
        [r11("POST", p("cl-plus", 1), "Content-Length: +5\r\n") + b"hello", 1],
        [("POST", p("cl-plus", 1))])

    # --- header syntax -----------------------------------------------------------
    add("obs-fold", "a header continued on the next line (obs-fold)",
        [r11("GET", p("obs-fold", 1), "X-Folded: first\r\n second\r\n"), 1],
        [("GET", p("obs-fold", 1))], watch=("x-folded",))
    add("bare-lf", "every line ends in a bare LF",
        [("GET %s HTTP/1.1\nHost: app.test\nX-Lf: yes\n\n" % p("bare-lf", 1)).encode(), 1],
        [("GET", p("bare-lf", 1))], watch=("x-lf",))
    add("bare-cr", "a bare CR inside a header value",
        [r11("GET", p("bare-cr", 1), "X-Cr: a\rb\r\n"), 1],
        [("GET", p("bare-cr", 1))], watch=("x-cr",))
    add("host-dup", "two Host headers",
        [r11("GET", p("host-dup", 1), "Host: evil.test\r\n"), 1],
        [("GET", p("host-dup", 1))])
    add("host-missing-11", "HTTP/1.1 request without Host",
        [r11("GET", p("host-missing-11", 1), host=None), 1],
        [("GET", p("host-missing-11", 1))])
    add("host-missing-10", "HTTP/1.0 request without Host",
        [("GET %s HTTP/1.0\r\n\r\n" % p("host-missing-10", 1)).encode(), 1],
        [("GET", p("host-missing-10", 1))], host="presence")
    add("xff-multi", "two X-Forwarded-For headers",
        [r11("GET", p("xff-multi", 1), "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n"), 1],
        [("GET", p("xff-multi", 1))], watch=("x-forwarded-for",))
    add("conn-custom", "Connection: X-Secret names a header that must not be forwarded",
        [r11("GET", p("conn-custom", 1), "Connection: X-Secret\r\nX-Secret: 1\r\n"), 1],
        [("GET", p("conn-custom", 1))], watch=("x-secret",))
    add("conn-second", "a second Connection header naming X-Other",
        [r11("GET", p("conn-second", 1), "Connection: keep-alive\r\nConnection: X-Other\r\nX-Other: 1\r\n"), 1],
        [("GET", p("conn-second", 1))], watch=("x-other",))

    # --- chunked request bodies ------------------------------------------------
    add("chunk-bad-size", "chunk size 'zz'",
        [r11("POST", p("chunk-bad-size", 1), "Transfer-Encoding: chunked\r\n")
         + b"zz\r\nhello\r\n0\r\n\r\n", 1],
        [("POST", p("chunk-bad-size", 1))])
    add("chunk-overflow", "a chunk size of 19 hex digits (overflows 64 bits)",
        [r11("POST", p("chunk-overflow", 1), "Transfer-Encoding: chunked\r\n")
         + b"1000000000000000005\r\nhello\r\n0\r\n\r\n", 1],
        [("POST", p("chunk-overflow", 1))])
    add("chunk-ext", "chunk extensions (;name=value, ;flag)",
        [r11("POST", p("chunk-ext", 1), "Transfer-Encoding: chunked\r\n")
         + b"5;name=value\r\nhello\r\n6;flag\r\n world\r\n0;last=1\r\n\r\n", 1],
        [("POST", p("chunk-ext", 1))])
    add("chunk-trailers", "chunked body with a trailer field",
        [r11("POST", p("chunk-trailers", 1), "Transfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n")
         + b"5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n", 1],
        [("POST", p("chunk-trailers", 1))], watch=("x-trailer",))

    # --- connection management -------------------------------------------------
    add("pipeline", "two GETs in one write",
        [get(p("pipeline", 1)) + get(p("pipeline", 2)), 2],
        [("GET", p("pipeline", 1)), ("GET", p("pipeline", 2))])
    add("pipeline-post", "a POST with a body and a GET in one write",
        [r11("POST", p("pipeline-post", 1), "Content-Length: 5\r\n") + b"hello" + get(p("pipeline-post", 2)), 2],
        [("POST", p("pipeline-post", 1)), ("GET", p("pipeline-post", 2))])
    add("http10-keepalive", "HTTP/1.0 with Connection: keep-alive, twice on one connection",
        [("GET %s HTTP/1.0\r\nHost: app.test\r\nConnection: keep-alive\r\n\r\n" % p("http10-keepalive", 1)).encode(), 1,
         ("GET %s HTTP/1.0\r\nHost: app.test\r\nConnection: keep-alive\r\n\r\n" % p("http10-keepalive", 2)).encode(), 2],
        [("GET", p("http10-keepalive", 1)), ("GET", p("http10-keepalive", 2))])
    add("http10-close", "HTTP/1.0 without keep-alive: answered, then closed",
        [("GET %s HTTP/1.0\r\nHost: app.test\r\n\r\n" % p("http10-close", 1)).encode(), 1],
        [("GET", p("http10-close", 1))])
    add("absolute-form", "absolute-form target whose host differs from Host",
        [("GET http://app.test%s HTTP/1.1\r\nHost: other.test\r\n\r\n" % p("absolute-form", 1)).encode(), 1],
        [("GET", p("absolute-form", 1))])

    # --- Expect: 100-continue (the upstream answers it like Python's http.server) --
    add("expect-wait", "Expect: 100-continue, the body sent after a 100 (or after 1.5 s); then a GET",
        [r11("POST", p("expect-wait", 1), "Content-Length: 5\r\nExpect: 100-continue\r\n"),
         ("expect", b"hello"), 1, get(p("expect-wait", 2)), 2],
        [("POST", p("expect-wait", 1)), ("GET", p("expect-wait", 2))],
        on_head=python_like_expect, watch=("expect",))
    add("expect-at-once", "Expect: 100-continue with the body in the same write; then a GET",
        [r11("POST", p("expect-at-once", 1), "Content-Length: 5\r\nExpect: 100-continue\r\n") + b"hello", 1,
         get(p("expect-at-once", 2)), 2],
        [("POST", p("expect-at-once", 1)), ("GET", p("expect-at-once", 2))],
        on_head=python_like_expect, watch=("expect",))

    # --- unusual or broken upstream responses --------------------------------------
    add("up-100", "upstream sends 100 Continue then 200 to a plain POST; then a GET",
        [r11("POST", p("up-100", 1), "Content-Length: 5\r\n") + b"hello", 1, get(p("up-100", 2)), 2],
        [("POST", p("up-100", 1)), ("GET", p("up-100", 2))],
        upstream=first_only(b"HTTP/1.1 100 Continue\r\n\r\n", ("sleep", 0.05), response))
    add("up-103", "upstream sends 103 Early Hints then 200; then a GET",
        [get(p("up-103", 1)), 1, get(p("up-103", 2)), 2],
        [("GET", p("up-103", 1)), ("GET", p("up-103", 2))],
        upstream=first_only(b"HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n",
                            ("sleep", 0.05), response))
    add("up-1xx-many", "upstream sends 100, 102 and 103 before the 200; then a GET",
        [get(p("up-1xx-many", 1)), 1, get(p("up-1xx-many", 2)), 2],
        [("GET", p("up-1xx-many", 1)), ("GET", p("up-1xx-many", 2))],
        upstream=first_only(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
                            b"HTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\n\r\n",
                            ("sleep", 0.05), response))
    add("head", "HEAD, answered with a Content-Length and no body; then a GET",
        [r11("HEAD", p("head", 1)), 1, get(p("head", 2)), 2],
        [("HEAD", p("head", 1)), ("GET", p("head", 2))])
    add("head-body", "HEAD answered with a body anyway (a whole response); then a GET",
        [r11("HEAD", p("head-body", 1)), 1, get(p("head-body", 2)), 2],
        [("HEAD", p("head-body", 1)), ("GET", p("head-body", 2))],
        upstream=first_only(lambda req: b"HTTP/1.1 200 OK\r\nX-Resp-For: " + req.target +
                            b"\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED_RESPONSE) + SMUGGLED_RESPONSE))
    add("up-204-body", "204 with Content-Length and a body (a whole response); then a GET",
        [get(p("up-204-body", 1)), 1, get(p("up-204-body", 2)), 2],
        [("GET", p("up-204-body", 1)), ("GET", p("up-204-body", 2))],
        upstream=first_only(lambda req: b"HTTP/1.1 204 No Content\r\nX-Resp-For: " + req.target +
                            b"\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED_RESPONSE) + SMUGGLED_RESPONSE))
    add("up-304-body", "304 with Content-Length and a body (a whole response); then a GET",
        [get(p("up-304-body", 1), "If-None-Match: \"v1\"\r\n"), 1, get(p("up-304-body", 2)), 2],
        [("GET", p("up-304-body", 1)), ("GET", p("up-304-body", 2))],
        upstream=first_only(lambda req: b"HTTP/1.1 304 Not Modified\r\nX-Resp-For: " + req.target +
                            b"\r\nETag: \"v1\"\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED_RESPONSE)
                            + SMUGGLED_RESPONSE))
    add("up-te-cl", "response with Transfer-Encoding: chunked and Content-Length; then a GET",
        [get(p("up-te-cl", 1)), 1, get(p("up-te-cl", 2)), 2],
        [("GET", p("up-te-cl", 1)), ("GET", p("up-te-cl", 2))],
        upstream=first_only(lambda req: b"HTTP/1.1 200 OK\r\nX-Resp-For: " + req.target +
                            b"\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"4\r\nok:1\r\n0\r\n\r\n"),
        no_reuse=True)
    add("up-bad-chunk", "response whose chunk size is 'zz'; then a GET",
        [get(p("up-bad-chunk", 1)), 1, get(p("up-bad-chunk", 2)), 2],
        [("GET", p("up-bad-chunk", 1)), ("GET", p("up-bad-chunk", 2))],
        upstream=first_only(lambda req: b"HTTP/1.1 200 OK\r\nX-Resp-For: " + req.target +
                            b"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok:1\r\n0\r\n\r\n"),
        no_reuse=True)
    add("up-te-gzip", "response with Transfer-Encoding: gzip (not chunked), body until close; then a GET",
        [get(p("up-te-gzip", 1)), 1, get(p("up-te-gzip", 2)), 2],
        [("GET", p("up-te-gzip", 1)), ("GET", p("up-te-gzip", 2))],
        upstream=first_only(lambda req: b"HTTP/1.1 200 OK\r\nX-Resp-For: " + req.target +
                            b"\r\nTransfer-Encoding: gzip\r\n\r\nnot-really-gzip", "close"))
    add("up-cl-differ", "response with two different Content-Length headers; then a GET",
        [get(p("up-cl-differ", 1)), 1, get(p("up-cl-differ", 2)), 2],
        [("GET", p("up-cl-differ", 1)), ("GET", p("up-cl-differ", 2))],
        upstream=first_only(lambda req: b"HTTP/1.1 200 OK\r\nX-Resp-For: " + req.target +
                            b"\r\nContent-Length: 4\r\nContent-Length: 13\r\n\r\nok:1" + SMUGGLED_RESPONSE[:9]),
        no_reuse=True)
    add("up-close-delimited", "response without length, ended by close; then a GET",
        [get(p("up-close-delimited", 1)), 1, get(p("up-close-delimited", 2)), 2],
        [("GET", p("up-close-delimited", 1)), ("GET", p("up-close-delimited", 2))],
        upstream=first_only(lambda req: b"HTTP/1.1 200 OK\r\nX-Resp-For: " + req.target +
                            b"\r\nConnection: close\r\n\r\nok:1 until close", "close"))
    add("up-drop-post", "the upstream closes a reused keep-alive connection on reading a POST",
        [get(p("up-drop-post", 1)), 1, r11("POST", p("up-drop-post", 2), "Content-Length: 5\r\n") + b"hello", 2],
        [("GET", p("up-drop-post", 1)), ("POST", p("up-drop-post", 2))],
        upstream=drop_second_on_first_conn)
    add("up-drop-get", "the upstream closes a reused keep-alive connection on reading a GET",
        [get(p("up-drop-get", 1)), 1, get(p("up-drop-get", 2)), 2],
        [("GET", p("up-drop-get", 1)), ("GET", p("up-drop-get", 2))],
        upstream=drop_second_on_first_conn)
    add("up-idle-close", "the upstream closes an idle kept-alive connection; then a POST",
        [get(p("up-idle-close", 1)), 1, ("sleep", 0.4),
         r11("POST", p("up-idle-close", 2), "Content-Length: 5\r\n") + b"hello", 2],
        [("GET", p("up-idle-close", 1)), ("POST", p("up-idle-close", 2))],
        upstream=close_idle_after_first)
    return C


# ---------------------------------------------------------------------------
# Running a case through one proxy.
# ---------------------------------------------------------------------------

class Observation:
    def __init__(self):
        self.client = b""
        self.responses = []
        self.leftover = b""
        self.closed = False
        self.notes = []
        self.upstream = []       # UpConn list
        self.crashed = None
        self.expect_result = None
        self.held = []           # requests whose response came only after the next request


class Client:
    def __init__(self, port, methods):
        self.sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.data = bytearray()
        self.eof = False
        self.notes = []
        self.methods = methods
        self.expect_result = None
        self.unanswered = []     # awaited response counts that did not arrive in time
        self.held = []           # ... and were followed by another request

    def send(self, b):
        self.held += self.unanswered
        self.unanswered = []
        if self.eof:
            self.notes.append("not sent: connection closed")
            return
        try:
            self.sock.settimeout(IO_TIMEOUT)
            self.sock.sendall(b)
        except OSError as e:
            self.notes.append("send failed: %s" % e.__class__.__name__)

    def _recv(self, timeout):
        """One read; False when nothing more will come (EOF, reset) or on timeout."""
        self.sock.settimeout(max(timeout, 0.01))
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError as e:
            self.eof = True
            self.notes.append("reset" if isinstance(e, ConnectionResetError) else str(e))
            return False
        if not d:
            self.eof = True
            return False
        self.data += d
        return True

    def finals(self):
        rs, _, _ = parse_response_stream(self.data, self.methods, self.eof)
        return sum(1 for r in rs if not r["interim"])

    def statuses(self):
        rs, _, _ = parse_response_stream(self.data, self.methods, self.eof)
        return rs

    def await_finals(self, n, deadline):
        quiet_until = time.monotonic() + QUIET
        while not self.eof and self.finals() < n:
            now = time.monotonic()
            if now >= min(quiet_until, deadline):
                self.notes.append("waited %.1f s for response %d" % (QUIET, n))
                self.unanswered.append(n)
                return
            if self._recv(min(quiet_until, deadline) - now):
                quiet_until = time.monotonic() + QUIET
        # Anything sent behind the awaited responses (a body that should not be there).
        end = time.monotonic() + GRACE
        while not self.eof and time.monotonic() < end:
            self._recv(end - time.monotonic())

    def expect(self, body, deadline):
        end = min(time.monotonic() + EXPECT_WAIT, deadline)
        while not self.eof and time.monotonic() < end:
            if any(True for _ in self.statuses()):
                break
            self._recv(end - time.monotonic())
        rs = self.statuses()
        if any(not r["interim"] for r in rs):
            self.expect_result = "final response before the body, body not sent"
            return
        self.expect_result = ("100 before the body" if rs else
                              "no 100 within %.1f s, body sent anyway" % EXPECT_WAIT)
        self.send(body)

    def wait_close(self):
        end = time.monotonic() + CLOSE_WAIT
        while not self.eof and time.monotonic() < end:
            self._recv(end - time.monotonic())

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run_case(case, port, upstream):
    obs = Observation()
    upstream.begin(case)
    deadline = time.monotonic() + CASE_LIMIT
    methods = [m.encode() for m, _ in case.reqs]
    try:
        c = Client(port, methods)
    except OSError as e:
        obs.notes.append("connect failed: %s" % e)
        obs.upstream = upstream.end()
        return obs
    try:
        for step in case.steps:
            if isinstance(step, bytes):
                c.send(step)
            elif isinstance(step, int):
                c.await_finals(step, deadline)
            elif step[0] == "expect":
                c.expect(step[1], deadline)
            elif step[0] == "sleep":
                time.sleep(step[1])
        c.wait_close()
    finally:
        c.close()
    obs.client = bytes(c.data)
    obs.responses, obs.leftover, pending = parse_response_stream(c.data, methods, c.eof)
    if pending:
        obs.notes.append("incomplete response")
    obs.closed = c.eof
    obs.notes += c.notes
    obs.expect_result = c.expect_result
    finals = sum(1 for r in obs.responses if not r["interim"])
    obs.held = [n for n in c.held if finals >= n]
    time.sleep(0.05)   # let a proxy finish anything it still sends upstream
    obs.upstream = upstream.end()
    return obs


# ---------------------------------------------------------------------------
# Reducing an observation to what is compared, and the safety checks.
# ---------------------------------------------------------------------------

def status_key(s):
    # Errors the proxy makes up compare by class (400 vs 501 for a bad framing is
    # the same decision); statuses relayed from the upstream compare exactly.
    return "%dxx" % (s // 100) if s >= 400 else str(s)


def short(b, n=40):
    s = b.decode("latin-1")
    s = s.encode("unicode_escape").decode("ascii")
    return s if len(s) <= n else s[:n] + "..."


def per_request(obs, case):
    """[(interim codes, final response or None)] for each request the client sent,
    plus the final responses beyond them."""
    slots = [([], None) for _ in case.reqs]
    extra = []
    for r in obs.responses:
        i = r["req"]
        if i >= len(slots):
            extra.append(r)
        elif r["interim"]:
            slots[i][0].append(r["status"])
        else:
            slots[i] = (slots[i][0], r)
    return slots, extra


def upstream_requests(obs):
    return [req for c in obs.upstream for req in c.requests]


def describe_upstream(obs, case, for_key):
    items = []
    for req in upstream_requests(obs):
        parts = [req.method.decode("latin-1"), req.target.decode("latin-1")]
        if req.version != b"HTTP/1.1":
            parts.append(req.version.decode("latin-1") or "?")
        if req.framing == "chunked":
            parts.append("chunked")
        if req.body:
            parts.append('body="%s"' % short(req.body, 20))
        for h in case.watch:
            v = req.header(h) + ([t[1] for t in req.trailers if t[0] == h] if h not in ("host",) else [])
            if h == "host" and case.host == "presence":
                parts.append("Host " + ("present" if v else "absent"))
            elif h == "host":
                if v != [b"app.test"]:
                    parts.append("Host=" + "|".join(x.decode("latin-1") for x in v) if v else "no Host")
            elif v:
                parts.append("%s=%s" % (h, "|".join(short(x, 30) for x in v)))
        for n in req.notes:
            parts.append("[%s]" % n)
        items.append(" ".join(parts))
    for c in obs.upstream:
        if c.leftover:
            items.append("[unframed bytes: %s]" % short(c.leftover, 30))
    return items


def describe_client(obs, case, for_key):
    slots, extra = per_request(obs, case)
    items = [obs.expect_result] if obs.expect_result else []
    for interim, final in slots:
        s = ",".join(str(x) for x in interim)
        if final is None:
            s += ("," if s else "") + "no final response"
        else:
            st = final["status"]
            s += ("," if s else "") + (status_key(st) if for_key else str(st))
            if st < 400:
                s += ' "%s"' % short(final["body"], 24)
            if final["truncated"]:
                s += " (cut off)"
        items.append(s)
    for r in extra:
        items.append("EXTRA %d %s" % (r["status"], short(r["body"], 20)))
    if obs.leftover:
        items.append("junk: %s" % short(obs.leftover, 24))
    items.append("closed" if obs.closed else "open")
    return items


def key(obs, case):
    return (tuple(describe_upstream(obs, case, True)), tuple(describe_client(obs, case, True)))


def unsafe(obs, case):
    bad = []
    reqs = upstream_requests(obs)
    for req in reqs:
        if b"smuggled" in req.target:
            bad.append("forwarded a smuggled request (%s %s)" % (req.method.decode(), req.target.decode()))
    slots, extra = per_request(obs, case)
    for i, (interim, final) in enumerate(slots):
        want = case.reqs[i][1].encode()
        if final is not None:
            owner = values(final["headers"], "x-resp-for")
            if owner and not target_path(owner[0]).endswith(want):
                bad.append("request %d (%s) got the response for %s" % (i + 1, want.decode(), owner[0].decode()))
        elif interim and (not obs.closed or any(f is not None for _, f in slots[i + 1:]) or extra):
            bad.append("request %d got %s and no final response (1xx taken as final)"
                       % (i + 1, ",".join(map(str, interim))))
    if extra:
        bad.append("%d final response(s) more than requests sent" % len(extra))
    for n in obs.held:
        bad.append("the response to request %d came only after request %d was sent "
                   "(the proxy was out of step)" % (n, n + 1))
    for method, path in case.reqs:
        if method in ("POST", "PATCH"):
            sent = sum(1 for m, q in case.reqs if (m, q) == (method, path))
            got = sum(1 for r in reqs if r.method == method.encode() and target_path(r.target) == path.encode())
            if got > sent:
                bad.append("%s %s reached the upstream %d times" % (method, path, got))
    if case.no_reuse and obs.upstream and len(obs.upstream[0].requests) > 1:
        bad.append("reused the upstream connection after its broken response")
    if obs.crashed:
        bad.append("wsproxy exited: %s" % obs.crashed)
    return sorted(set(bad))


# ---------------------------------------------------------------------------
# The two proxies.
# ---------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tail(path, n=20):
    try:
        with open(path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
    except OSError:
        return ""


NGINX_CONF = """\
# Generated by tests/e2e/http_diff/http_diff.py: a typical reverse proxy for this app.
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    # wsproxy's defaults: --max-header-bytes 16384, --max-body-bytes 8388608,
    # --handshake-timeout 10, --idle-timeout 60, --write-timeout 30.
    large_client_header_buffers 4 16k;
    client_max_body_size 8m;
    client_header_timeout 10s;
    client_body_timeout 10s;
    keepalive_timeout 60s;
    send_timeout 30s;
    upstream backend {{
        server 127.0.0.1:{upstream};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name app.test;
        # The harness's start-up probe: proves that this port is this nginx.
        location = /__http_diff_probe {{ return 200 "{token}"; }}
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_request_buffering on;
            proxy_buffering on;
            proxy_connect_timeout 10s;
            proxy_read_timeout 60s;
            proxy_send_timeout 30s;
        }}
    }}
}}
"""


def die_with_parent():
    """In the child: SIGTERM it when this script dies, even by SIGKILL (PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Proc:
    """A proxy under test, started so that we know for sure which port is its own (a
    port chosen by another test at the same moment must never receive our bytes)."""

    def __init__(self, name, tmp):
        self.name, self.tmp = name, tmp
        self.log = os.path.join(tmp, name + ".log")
        self.proc = None
        self.port = None

    def spawn(self, argv):
        with open(self.log, "ab") as log:
            offset = log.tell()
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        return offset

    def start(self):
        raise NotImplementedError

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class Wsproxy(Proc):
    """wsproxy listens on port 0 and logs the port it got (event "listening")."""

    def __init__(self, tmp, binary, upstream_port):
        super().__init__("wsproxy", tmp)
        self.argv = [binary, "--listen", "%s:0" % HOST, "--upstream", "ws://%s:%d" % (HOST, upstream_port),
                     "--admin", "%s:0" % HOST, "--log-format", "json", "--log-level", "debug"]

    def start(self):
        offset = self.spawn(self.argv)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            with open(self.log, "rb") as f:
                f.seek(offset)
                for line in f:
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if ev.get("event") == "listening" and self.alive():
                        self.port = int(str(ev["listen"]).rsplit(":", 1)[1])
                        return
            if not self.alive():
                raise RuntimeError("wsproxy exited with %s at start:\n%s" % (self.proc.returncode, tail(self.log)))
            time.sleep(0.05)
        raise RuntimeError("wsproxy logged no \"listening\" within 15 s:\n%s" % tail(self.log))


class Nginx(Proc):
    """nginx cannot listen on port 0, so: a free port, and a probe location answering a
    token of this run, tried again on another port if someone else holds the first."""

    def __init__(self, tmp, binary, upstream_port):
        super().__init__("nginx", tmp)
        self.binary, self.upstream_port = binary, upstream_port
        self.token = "http-diff-%d-%d" % (os.getpid(), time.monotonic_ns())
        self.conf = os.path.join(tmp, "nginx.conf")

    def probe(self):
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as s:
                s.settimeout(1)
                s.sendall(b"GET /__http_diff_probe HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
                got = b""
                while len(got) < 4096:
                    d = s.recv(4096)
                    if not d:
                        break
                    got += d
                return self.token.encode() in got
        except OSError:
            return False

    def start(self):
        for _ in range(5):
            self.port = free_port()
            with open(self.conf, "w") as f:
                f.write(NGINX_CONF.format(tmp=self.tmp, upstream=self.upstream_port, port=self.port,
                                          token=self.token))
            offset = self.spawn([self.binary, "-p", self.tmp + "/", "-c", self.conf,
                                 "-e", os.path.join(self.tmp, "nginx-error.log")])
            end = time.monotonic() + 15
            while time.monotonic() < end and self.alive():
                if self.probe():
                    return
                time.sleep(0.05)
            if self.alive():
                self.stop()
                raise RuntimeError("nginx did not answer its probe within 15 s:\n%s"
                                   % tail(os.path.join(self.tmp, "nginx-error.log")))
            with open(self.log, "rb") as f:
                f.seek(offset)
                why = f.read().decode("utf-8", "replace")
            why += tail(os.path.join(self.tmp, "nginx-error.log"), 5)
            if "Address already in use" not in why:
                raise RuntimeError("nginx exited with %s at start:\n%s" % (self.proc.returncode, why))
        raise RuntimeError("nginx: no free port in 5 tries")


def source_tree():
    """', source tree at <commit>' (with '+ local changes' when dirty), or ''."""
    try:
        head = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", HERE, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return ", source tree at %s%s" % (head, " + local changes" if dirty else "") if head else ""


def tool_version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, timeout=5, text=True)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"


# ---------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------

def read_expected(path):
    expected = {}
    if not os.path.exists(path):
        return expected
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            cid, _, reason = line.partition(" ")
            expected[cid] = reason.strip()
    return expected


def md(s):
    return s.replace("|", "\\|").replace("\n", " ")


def write_results(path, rows, nginx_version, wsproxy_version):
    lines = [
        "# HTTP differential test: nginx vs wsproxy",
        "",
        "Generated by `tests/e2e/http_diff/http_diff.py` (see README.md here). Each row is one",
        "case: the same raw bytes sent by a client to nginx and to wsproxy, both in front of the",
        "same recording upstream. *Upstream* lists the requests the upstream received (`Host` is",
        "shown when it is not `app.test`); *client* lists, per request sent, the status codes it",
        "got (1xx first) and the body of a non-error final response, then whether the proxy",
        "closed the connection.",
        "",
        "- nginx: %s" % nginx_version,
        "- wsproxy: %s" % wsproxy_version,
        "",
        "| case | what was sent | nginx | wsproxy | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append("| `%s` | %s | %s | %s | %s |" % (
            r["id"], md(r["desc"]), md(r["nginx"]), md(r["wsproxy"]), md(r["verdict"])))
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def summary(obs, case):
    up = describe_upstream(obs, case, False)
    cl = describe_client(obs, case, False)
    s = "upstream: " + ("; ".join(up) if up else "nothing") + " — client: " + "; ".join(cl)
    if obs.notes:
        s += " (" + "; ".join(obs.notes) + ")"
    return s


def dump(obs):
    for c in obs.upstream:
        print("      upstream conn %d%s%s: %r" % (c.index, " closed-by-proxy" if c.closed_by_proxy else "",
                                                  " closed-by-us" if c.closed_by_us else "", bytes(c.raw)[:600]))
    print("      client got%s: %r" % (" +EOF" if obs.closed else "", obs.client[:800]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wsproxy", help="the wsproxy binary (copied before use; required unless --list)")
    ap.add_argument("--nginx", default="/usr/sbin/nginx")
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"),
                    help="where to write the Markdown table (default: next to this script)")
    ap.add_argument("--expected", default=os.path.join(HERE, "expected_differences.txt"))
    ap.add_argument("--only", default="", help="comma-separated case ids")
    ap.add_argument("--verbose", action="store_true", help="print the raw bytes of every run")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--time-limit", type=float, default=240,
                    help="seconds; cases not started by then count as failed (default 240)")
    args = ap.parse_args()
    # SIGTERM (ctest, timeout) unwinds through the finally below, which stops both proxies.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()

    cases = build_cases()
    if args.list:
        for c in cases:
            print("%-24s %s" % (c.id, c.desc))
        return 0
    if not args.wsproxy:
        ap.error("--wsproxy is required")
    if args.only:
        want = set(args.only.split(","))
        unknown = want - {c.id for c in cases}
        if unknown:
            print("unknown case(s): %s" % ", ".join(sorted(unknown)), file=sys.stderr)
            return 2
        cases = [c for c in cases if c.id in want]
    ids = [c.id for c in build_cases()]
    if len(set(ids)) != len(ids):
        print("duplicate case ids", file=sys.stderr)
        return 2
    expected = read_expected(args.expected)
    stale = set(expected) - set(ids)
    if not os.access(args.nginx, os.X_OK):
        print("FAIL: %s not found (Debian package nginx-light; scripts/setup installs it)" % args.nginx)
        print("0 passed, 1 failed")
        return 1

    tmp = tempfile.mkdtemp(prefix="http_diff.")
    procs, upstream = [], None
    passed = failed = 0
    try:
        upstream = Upstream()
        wsproxy_bin = os.path.join(tmp, "wsproxy")
        shutil.copy2(args.wsproxy, wsproxy_bin)   # a rebuild meanwhile cannot touch this run
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.mkdir(os.path.join(tmp, d))
        nginx = Nginx(tmp, args.nginx, upstream.port)
        wsproxy = Wsproxy(tmp, wsproxy_bin, upstream.port)
        procs = [nginx, wsproxy]
        for pr in procs:
            pr.start()
        nginx_version = tool_version([args.nginx, "-v"]).replace("nginx version: ", "")
        wsproxy_version = tool_version([wsproxy_bin, "--version"]) + source_tree()

        rows = []
        for case in cases:
            if time.monotonic() - started > args.time_limit:
                print("FAIL %s: not run, --time-limit %.0f s reached" % (case.id, args.time_limit))
                failed += 1
                continue
            obs = {}
            for pr in procs:
                obs[pr.name] = run_case(case, pr.port, upstream)
                if not pr.alive():
                    obs[pr.name].crashed = "exit code %s" % pr.proc.returncode
                    print("  %s died during %s; restarting it:\n%s" % (pr.name, case.id, tail(pr.log)))
                    pr.start()
                time.sleep(0.1)   # the proxies see the upstream's closes before the next run
            n, w = obs["nginx"], obs["wsproxy"]
            same = key(n, case) == key(w, case)
            bad = unsafe(w, case)
            nginx_bad = unsafe(n, case)
            listed = case.id in expected
            if bad:
                ok, verdict = False, "UNSAFE: " + "; ".join(bad)
            elif same and listed:
                ok, verdict = False, "same, but listed as an expected difference"
            elif same:
                ok, verdict = True, "same"
            elif listed:
                ok, verdict = True, "different (expected: %s)" % expected[case.id]
            else:
                ok, verdict = False, "DIFFERENT"
            if nginx_bad:
                verdict += " [nginx itself: %s]" % "; ".join(nginx_bad)
            passed += ok
            failed += not ok
            rows.append({"id": case.id, "desc": case.desc, "nginx": summary(n, case),
                         "wsproxy": summary(w, case), "verdict": verdict})
            print("%s %s: %s" % ("ok  " if ok else "FAIL", case.id,
                                 "different, as listed" if ok and listed else verdict))
            if not ok or args.verbose:
                print("      nginx:   %s" % summary(n, case))
                print("      wsproxy: %s" % summary(w, case))
            if args.verbose:
                print("    nginx raw:")
                dump(n)
                print("    wsproxy raw:")
                dump(w)
        if upstream.strays:
            print("note: %d upstream connection(s) opened between cases were refused" % upstream.strays)
        if not args.only:
            for cid in sorted(stale):
                print("FAIL %s: listed in %s but there is no such case" % (cid, os.path.basename(args.expected)))
                failed += 1
        if args.results:
            os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
            write_results(args.results, rows, nginx_version, wsproxy_version)
            print("results: %s" % args.results)
    except Exception as e:  # a harness failure is a failure, reported as one
        print("FAIL: harness: %s: %s" % (e.__class__.__name__, e))
        failed += 1
    finally:
        for pr in procs:
            pr.stop()
        if upstream is not None:
            upstream.close()
        if args.verbose:
            for log in ("nginx-error.log", "wsproxy.log"):
                print("--- %s (last lines)\n%s" % (log, tail(os.path.join(tmp, log), 40)))
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
