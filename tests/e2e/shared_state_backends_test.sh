#!/usr/bin/env bash
# The multi-replica flow of issue 18 with everything doubled: two chat-backends sharing a
# real redis-server (--redis: answers broadcast across replicas) and two wsproxies in front
# of them, one each, sharing it too (--shared-state). A socket on A and its REST message on
# B (which B's backend answers): the answer reaches the socket through A's backend, and no
# backend logs "No clients registered". A message for a chat nobody joined is logged so by
# exactly one backend. A tab that joined on A reconnects on B: rejoined there, and an answer
# produced by A's backend reaches it through B's.
source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || fail "redis-server is not installed (scripts/setup installs it)"
rp=$(free_port)
redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do redis-cli -p "$rp" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
redis-cli -p "$rp" ping | grep -q PONG || fail "redis-server did not start on $rp"

declare -A BP PP AP
for pod in a b; do
  BP[$pod]=$(free_port); PP[$pod]=$(free_port); AP[$pod]=$(free_port)
  start "backend-$pod" "$BUILD/chat-backend" --listen "127.0.0.1:${BP[$pod]}" --no-auto-register \
    --redis "redis://127.0.0.1:$rp" --replica-id "backend-$pod"
  wait_http "http://127.0.0.1:${BP[$pod]}/healthz"
  start "proxy-$pod" "$BUILD/wsproxy" --listen "127.0.0.1:${PP[$pod]}" \
    --upstream "ws://127.0.0.1:${BP[$pod]}" --admin "127.0.0.1:${AP[$pod]}" --log-format json \
    --shared-state "redis://127.0.0.1:$rp" --pod-id "pod-$pod"
  wait_http "http://127.0.0.1:${AP[$pod]}/readyz"
done
for pod in a b; do
  wait_metric "${AP[$pod]}" wsproxy_shared_state_up 1
done
discarded() { grep -c 'No clients registered for specific chat' "$WORK/backend-$1.log" || true; }

r=$(shared_state_session answer "ws://127.0.0.1:${PP[a]}/ws/chat" "http://127.0.0.1:${PP[b]}" s1 chat-1)
grep -q '"answered": true' <<<"$r" || fail "socket on A, REST on B (answered by backend B): no answer ($r)"
expect_eq "$(discarded a)$(discarded b)" 00 "'No clients registered' lines while a replica had the socket"
pass "socket on A, REST on B: B's backend answers, A's backend delivers"

curl -sf -XPOST "http://127.0.0.1:${BP[b]}/api/v1/chats/nobody/messages" -d '{"content":"hi"}' >/dev/null \
  || fail "POST to backend B failed"
for _ in $(seq 200); do [ "$(discarded b)" = 1 ] && break; sleep 0.05; done
expect_eq "$(discarded a)$(discarded b)" 01 "'No clients registered' for a chat no replica has"
pass "no replica has the chat: one 'No clients registered', from the backend that got the message"

r=$(shared_state_session answer "ws://127.0.0.1:${PP[a]}/ws/chat" "http://127.0.0.1:${PP[a]}" s2 chat-2 --join)
grep -q '"answered": true' <<<"$r" || fail "a socket that joined itself got no answer ($r)"
r=$(shared_state_session rejoin "ws://127.0.0.1:${PP[b]}/ws/chat" "http://127.0.0.1:${BP[a]}" s2 chat-2 \
  --metrics "http://127.0.0.1:${AP[b]}")
grep -q '"answered": true' <<<"$r" || fail "reconnect on B, answer from backend A: not delivered ($r)"
expect_eq "$(discarded a)" 0 "backend A found the socket on backend B"
pass "a reconnect on the other pod rejoins, and the other backend's answer reaches it"
