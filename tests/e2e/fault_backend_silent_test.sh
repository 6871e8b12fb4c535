#!/usr/bin/env bash
# Fault: a backend that accepts TCP but never answers the WebSocket handshake. The
# client's upgrade gets 504 after --handshake-timeout, nothing piles up in the proxy,
# and it stays healthy.
source "$(dirname "$0")/lib.sh"
FC="$ROOT/tests/e2e/fault_clients.py"
bp=$(free_port); fp=$(free_port); fa=$(free_port)
start silent $PY "$FC" upstream --port "$bp" --silent
for _ in $(seq 100); do grep -q listening "$WORK/silent.log" && break; sleep 0.05; done
start proxy "$BUILD/wsproxy" --listen "127.0.0.1:$fp" --upstream "ws://127.0.0.1:$bp" \
  --admin "127.0.0.1:$fa" --handshake-timeout 1 --idle-timeout 2 --log-format json
proxy_pid=$!
wait_http "http://127.0.0.1:$fa/readyz"

# Ten at once: each is answered 504 after about a second, not after ten.
cpids=()
for i in $(seq 10); do
  timeout 10 $PY "$FC" connect --url "ws://127.0.0.1:$fp/ws/chat" --expect-status 504 \
    --timeout 3 >"$WORK/c$i.out" &
  cpids+=($!)
done
for p in "${cpids[@]}"; do wait "$p" || true; done
wait_jobs_ok=1
for i in $(seq 10); do
  grep -q '"status": 504' "$WORK/c$i.out" || { wait_jobs_ok=0; echo "client $i: $(cat "$WORK/c$i.out")"; }
done
[ $wait_jobs_ok = 1 ] || fail "not every upgrade got 504 within 3 s"
pass "silent backend: 10 upgrades answered 504 ($(cat "$WORK/c1.out"))"
expect_eq "$(metric $fa 'wsproxy_upstream_errors_total{reason="timeout"}')" 10 "upstream timeouts"
expect_eq "$(metric $fa 'wsproxy_connections_active')" 0 "active connections"
grep -q '"event":"upstream_failed"' "$WORK/proxy.log" || fail "no upstream_failed log line"
# A plain HTTP request waits at most --idle-timeout for the response, then 504.
code=$(curl -s -o /dev/null -m 6 -w '%{http_code}' "http://127.0.0.1:$fp/api/v1/chats")
expect_eq "$code" 504 "reverse-proxied request to the silent backend"
curl -sf "http://127.0.0.1:$fa/healthz" >/dev/null || fail "healthz"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$fa/readyz")" 200 "readyz"
kill -0 "$proxy_pid" || fail "the proxy died"
pass "proxy healthy after the silent backend"
