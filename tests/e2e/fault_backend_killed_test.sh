#!/usr/bin/env bash
# Fault: the backend is SIGKILLed while it streams answers. Every client is closed with
# 1011 within a second, new upgrades get 502 while it is down, and once it is back on the
# same port new clients are served again (the proxy needs no restart).
source "$(dirname "$0")/lib.sh"
FC="$ROOT/tests/e2e/fault_clients.py"
bp=$(free_port); fp=$(free_port); fa=$(free_port)
# 1000 chunks 200 ms apart: the answers are still streaming when the backend dies.
start backend "$BUILD/chat-backend" --listen "127.0.0.1:$bp" --chunks 1000 --chunk-delay-ms 200
backend_pid=$!
wait_http "http://127.0.0.1:$bp/healthz"
start proxy "$BUILD/wsproxy" --listen "127.0.0.1:$fp" --upstream "ws://127.0.0.1:$bp" \
  --admin "127.0.0.1:$fa" --log-format json
proxy_pid=$!
wait_http "http://127.0.0.1:$fa/readyz"

timeout 30 $PY "$FC" stream --url "ws://127.0.0.1:$fp/ws/chat" --clients 5 --pid "$backend_pid" \
  --signal KILL --expect-code 1011 --max-s 1.0 >"$WORK/stream.out" \
  || fail "clients not closed with 1011 within 1 s: $(cat "$WORK/stream.out")"
pass "backend killed mid-stream: $(cat "$WORK/stream.out")"
expect_eq "$(metric $fa 'wsproxy_upstream_errors_total{reason="closed"}')" 5 "upstream errors (closed)"
expect_eq "$(metric $fa 'wsproxy_connections_closed_total{reason="server_gone"}')" 5 "closed: server_gone"

timeout 10 $PY "$FC" connect --url "ws://127.0.0.1:$fp/ws/chat" --expect-status 502 >"$WORK/down.out" \
  || fail "an upgrade while the backend is down should get 502: $(cat "$WORK/down.out")"
pass "backend down: upgrade answered 502"
curl -sf "http://127.0.0.1:$fa/healthz" >/dev/null || fail "proxy unhealthy while the backend is down"

start backend2 "$BUILD/chat-backend" --listen "127.0.0.1:$bp" --no-auto-register
wait_http "http://127.0.0.1:$bp/healthz"
timeout 30 $PY "$ROOT/scripts/broken_frontend.py" --url "ws://127.0.0.1:$fp/ws/chat" --clients 5 \
  --timeout 5 --expect answered || fail "clients not served after the backend came back"
pass "backend back on the same port: new clients served through the same proxy"
kill -0 "$proxy_pid" || fail "the proxy died"
