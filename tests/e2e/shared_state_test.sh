#!/usr/bin/env bash
# Two replicas sharing state through a real redis-server (issue 18): two wsproxies in front
# of one chat-backend, so that only the proxies' shared state decides whether an answer
# arrives. A socket on A and its REST message on B: B asks A through Redis, A joins, the
# answer arrives. A tab that joined a chat on A and reconnects to B is joined again by B.
# Redis killed: both pods say so (wsproxy_shared_state_up 0, degraded counted) and go on
# local-only; Redis back on the same port: both reconnect and cross-pod joins work again.
source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || fail "redis-server is not installed (scripts/setup installs it)"
rp=$(free_port); bp=$(free_port)
pa=$(free_port); aa=$(free_port); pb=$(free_port); ab=$(free_port)

start_redis() {
  redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    >>"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  PIDS+=($REDIS_PID)
  for _ in $(seq 200); do redis-cli -p "$rp" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done
  fail "redis-server did not start on $rp"
}
answered() { grep -q '"answered": true' <<<"$1"; }

start_redis
start backend "$BUILD/chat-backend" --listen "127.0.0.1:$bp" --no-auto-register
wait_http "http://127.0.0.1:$bp/healthz"
for pod in a b; do
  if [ $pod = a ]; then p=$pa; a=$aa; else p=$pb; a=$ab; fi
  start "proxy-$pod" "$BUILD/wsproxy" --listen "127.0.0.1:$p" --upstream "ws://127.0.0.1:$bp" \
    --admin "127.0.0.1:$a" --log-format json --shared-state "redis://127.0.0.1:$rp" \
    --pod-id "pod-$pod" --shared-state-ttl 3 --shared-state-timeout 0.5
  wait_http "http://127.0.0.1:$a/readyz"
  wait_metric "$a" wsproxy_shared_state_up 1
done
A="ws://127.0.0.1:$pa/ws/chat"; B="ws://127.0.0.1:$pb/ws/chat"
PA="http://127.0.0.1:$pa"; PB="http://127.0.0.1:$pb"; BACKEND="http://127.0.0.1:$bp"

# Without a join on A's side the backend discards the answer: B must reach A.
r=$(shared_state_session answer "$A" "$PB" s1 chat-1)
answered "$r" || fail "socket on A, REST on B: no answer ($r)"
expect_eq "$(metric $ab 'wsproxy_rest_join_wait_total{result="acknowledged"}')" 1 "B's REST message held until A acknowledged"
expect_eq "$(metric $aa 'wsproxy_shared_state_operations_total{op="join_answer",result="ok"}')" 1 "A answered B's join request"
expect_eq "$(metric $ab 'wsproxy_shared_state_join_seconds_count')" 1 "B timed the cross-pod join"
grep -q '"event":"join_injected".*"reason":"rest_session"' "$WORK/proxy-a.log" || fail "A logged no rest_session join"
pass "socket on A, REST on B: A joins through Redis and the answer arrives"

# The session joined chat-2 on A; its next socket lands on B, which rejoins it.
r=$(shared_state_session answer "$A" "$PA" s2 chat-2 --join)
answered "$r" || fail "a socket that joined itself got no answer ($r)"
r=$(shared_state_session rejoin "$B" "$BACKEND" s2 chat-2 --metrics "http://127.0.0.1:$ab")
answered "$r" || fail "reconnect on B: not rejoined to chat-2 ($r)"
grep -q '"event":"join_injected".*"reason":"rejoin"' "$WORK/proxy-b.log" || fail "B logged no rejoin"
pass "a reconnect landing on the other pod is joined again to the session's chat"

kill -9 "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
for a in $aa $ab; do
  wait_metric "$a" wsproxy_shared_state_up 0
  expect_eq "$(metric $a wsproxy_shared_state_degraded_total)" 1 "degraded counted once on :$a"
done
grep -q '"event":"shared_state_down"' "$WORK/proxy-a.log" || fail "A logged no shared_state_down"
# Local behaviour goes on: socket and REST on the same pod.
r=$(shared_state_session answer "$A" "$PA" s3 chat-3)
answered "$r" || fail "Redis down, socket and REST on A: no answer ($r)"
pass "Redis killed: both pods report it and go on local-only"

start_redis
for a in $aa $ab; do wait_metric "$a" wsproxy_shared_state_up 1; done
expect_eq "$(grep -c '"event":"shared_state_up"' "$WORK/proxy-a.log")" 2 "A logged up at start and on recovery"
r=$(shared_state_session answer "$A" "$PB" s5 chat-5)
answered "$r" || fail "Redis back: socket on A, REST on B: no answer ($r)"
pass "Redis back: both pods reconnect and cross-pod joins work again"
