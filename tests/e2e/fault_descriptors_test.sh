#!/usr/bin/env bash
# Limits on descriptors. By default --max-connections follows the descriptor limit (two
# per proxied connection, 64 kept spare): beyond it upgrades get 503. When the limit is
# set higher than the descriptors allow, running out of them makes accept() fail for a
# while (logged, retried every 100 ms) but never stalls the accept loop: once clients go,
# new ones are served again.
source "$(dirname "$0")/lib.sh"
FC="$ROOT/tests/e2e/fault_clients.py"
bp=$(free_port); fp=$(free_port); fa=$(free_port); fp2=$(free_port); fa2=$(free_port)
start upstream $PY "$FC" upstream --port "$bp"
for _ in $(seq 100); do grep -q listening "$WORK/upstream.log" && break; sleep 0.05; done

# 1. The default: 256 descriptors -> (256 - 64) / 2 = 96 connections.
start proxy prlimit --nofile=256:256 "$BUILD/wsproxy" --listen "127.0.0.1:$fp" \
  --upstream "ws://127.0.0.1:$bp" --admin "127.0.0.1:$fa" --log-format json --threads 2
wait_http "http://127.0.0.1:$fa/readyz"
grep -q '"max_connections":96' "$WORK/proxy.log" || fail "max_connections should follow the descriptor limit: $(grep listening "$WORK/proxy.log")"
timeout 30 $PY "$FC" many --url "ws://127.0.0.1:$fp/ws/chat" --count 100 >"$WORK/many.out" \
  || fail "many: $(cat "$WORK/many.out")"
grep -q '"101": 96' "$WORK/many.out" && grep -q '"503": 4' "$WORK/many.out" \
  || fail "expected 96 upgrades and 4 refusals: $(cat "$WORK/many.out")"
expect_eq "$(metric $fa 'wsproxy_rejected_total{reason="max_connections"}')" 4 "rejected: max_connections"
pass "default limit from 256 descriptors: $(cat "$WORK/many.out")"

# 2. A limit above what the descriptors allow: 64 descriptors, 150 connections tried.
start proxy2 prlimit --nofile=64:64 "$BUILD/wsproxy" --listen "127.0.0.1:$fp2" \
  --upstream "ws://127.0.0.1:$bp" --admin "127.0.0.1:$fa2" --log-format json --threads 2 \
  --max-connections 1000
proxy2_pid=$!
wait_http "http://127.0.0.1:$fa2/readyz"
timeout 60 $PY "$FC" many --url "ws://127.0.0.1:$fp2/ws/chat" --count 150 --timeout 3 \
  >"$WORK/many2.out" || fail "many: $(cat "$WORK/many2.out")"
echo "64 descriptors, 150 clients: $(cat "$WORK/many2.out")"
grep -q '"event":"accept_failed"' "$WORK/proxy2.log" || grep -q '"stage":"connect"' "$WORK/proxy2.log" \
  || fail "expected descriptor exhaustion to show in the log"
# The clients are gone: the accept loop must serve again within a few seconds.
ok=0
for _ in $(seq 50); do
  if timeout 10 $PY "$FC" connect --url "ws://127.0.0.1:$fp2/ws/chat" --echo --timeout 3 \
      >"$WORK/after.out" 2>&1; then ok=1; break; fi
  sleep 0.1
done
[ $ok = 1 ] || fail "no client served after descriptors were freed: $(cat "$WORK/after.out")"
curl -sf "http://127.0.0.1:$fa2/healthz" >/dev/null || fail "healthz after descriptor exhaustion"
kill -0 "$proxy2_pid" || fail "the proxy died"
pass "descriptor exhaustion: accept retried, served again once clients left"
