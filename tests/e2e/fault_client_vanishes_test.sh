#!/usr/bin/env bash
# Fault: a client that vanishes without a close. Killed (-9: the kernel sends FIN), its
# upstream gets 1001 at once. Frozen (SIGSTOP: the socket stays open, nothing answers
# pings), its upstream is closed within the idle bound (--idle-timeout).
source "$(dirname "$0")/lib.sh"
FC="$ROOT/tests/e2e/fault_clients.py"
bp=$(free_port); fp=$(free_port); fa=$(free_port)
idle=2
start upstream $PY "$FC" upstream --port "$bp"
for _ in $(seq 100); do grep -q listening "$WORK/upstream.log" && break; sleep 0.05; done
start proxy "$BUILD/wsproxy" --listen "127.0.0.1:$fp" --upstream "ws://127.0.0.1:$bp" \
  --admin "127.0.0.1:$fa" --idle-timeout $idle --log-format json
proxy_pid=$!
wait_http "http://127.0.0.1:$fa/readyz"

closes() { grep -c '"event": "closed"' "$WORK/upstream.log" || true; }
# wait_closes N SECONDS: until the upstream has seen N closes; prints the seconds it took.
wait_closes() {
  local start_ns now_ns
  start_ns=$(date +%s%N)
  while [ "$(closes)" -lt "$1" ]; do
    now_ns=$(date +%s%N)
    [ $(( (now_ns - start_ns) / 1000000 )) -lt $(( $2 * 1000 )) ] || return 1
    sleep 0.02
  done
  now_ns=$(date +%s%N)
  echo "$(( (now_ns - start_ns) / 1000000 ))"
}

start client1 $PY "$FC" hold --url "ws://127.0.0.1:$fp/ws/chat"
c1=$!
for _ in $(seq 100); do grep -q open "$WORK/client1.log" && break; sleep 0.05; done
kill -9 $c1
ms=$(wait_closes 1 1) || fail "upstream not closed within 1 s of the client's kill -9"
grep '"event": "closed"' "$WORK/upstream.log" | tail -1 | grep -q '"code": 1001' \
  || fail "upstream should get 1001: $(tail -1 "$WORK/upstream.log")"
pass "client killed: upstream got 1001 after ${ms} ms"

start client2 $PY "$FC" hold --url "ws://127.0.0.1:$fp/ws/chat"
c2=$!
for _ in $(seq 100); do [ "$(grep -c open "$WORK/client2.log")" -ge 1 ] && break; sleep 0.05; done
kill -STOP $c2
# The proxy pings at half the idle timeout and gives up when nothing came for a whole one.
ms=$(wait_closes 2 $((idle * 2 + 1))) || { kill -9 $c2; fail "upstream not closed within $((idle * 2 + 1)) s of the client freezing"; }
kill -9 $c2
pass "client frozen: upstream closed after ${ms} ms (idle timeout ${idle} s)"
expect_eq "$(metric $fa 'wsproxy_connections_closed_total{reason="client_gone"}')" 1 "closed: client_gone"
expect_eq "$(metric $fa 'wsproxy_connections_closed_total{reason="idle_timeout"}')" 1 "closed: idle_timeout"
expect_eq "$(metric $fa 'wsproxy_connections_active')" 0 "active connections"
kill -0 "$proxy_pid" || fail "the proxy died"
