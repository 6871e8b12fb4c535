#!/usr/bin/env bash
# The shipped binaries end to end, with Debian's python3-websockets as the
# browser: without the proxy answers are discarded; through wsproxy in fix
# mode they arrive and the backend logs no "No clients registered"; in observe
# mode the proxy changes nothing and its count matches the backend's log.
source "$(dirname "$0")/lib.sh"
clients=5
bp=$(free_port); fp=$(free_port); fa=$(free_port); op=$(free_port); oa=$(free_port)
start backend "$BUILD/chat-backend" --listen "127.0.0.1:$bp" --no-auto-register
wait_http "http://127.0.0.1:$bp/healthz"
discarded() { grep -c 'No clients registered for specific chat' "$WORK/backend.log" || true; }

$PY "$ROOT/scripts/broken_frontend.py" --url "ws://127.0.0.1:$bp/ws/chat" --clients $clients \
  --timeout 1.5 --expect unanswered || fail "direct clients should get no answer"
expect_eq "$(discarded)" $clients "backend discards without the proxy"
pass "without the proxy every answer is discarded"

start fix "$BUILD/wsproxy" --listen "127.0.0.1:$fp" --upstream "ws://127.0.0.1:$bp" \
  --admin "127.0.0.1:$fa" --mode fix --log-format json
wait_http "http://127.0.0.1:$fa/readyz"
$PY "$ROOT/scripts/broken_frontend.py" --url "ws://127.0.0.1:$fp/ws/chat" --clients $clients \
  --timeout 5 --expect answered || fail "clients through the fixing proxy should get answers"
expect_eq "$(discarded)" $clients "no new 'No clients registered' in fix mode"
expect_eq "$(metric $fa 'wsproxy_user_messages_total{registered="true"}')" $clients "registered user messages"
expect_eq "$(metric $fa 'wsproxy_user_messages_total{registered="false"}')" 0 "unregistered user messages"
expect_eq "$(metric $fa 'wsproxy_join_chat_total{source="injected"}')" $clients "injected joins"
expect_eq "$(metric $fa 'wsproxy_chat_joined_total{success="true"}')" $clients "acknowledged joins"
expect_eq "$(metric $fa 'wsproxy_isolation_violations_total')" 0 "isolation violations"
expect_eq "$(grep -c '"event":"join_injected"' "$WORK/fix.log")" $clients "join_injected log lines"
expect_eq "$(grep -c '"event":"client_id_captured"' "$WORK/fix.log")" $clients "client_id_captured log lines"
pass "fix mode: every answer delivered, metrics exact"

start observe "$BUILD/wsproxy" --listen "127.0.0.1:$op" --upstream "ws://127.0.0.1:$bp" \
  --admin "127.0.0.1:$oa" --mode observe --log-format json
wait_http "http://127.0.0.1:$oa/readyz"
before=$(discarded)
$PY "$ROOT/scripts/broken_frontend.py" --url "ws://127.0.0.1:$op/ws/chat" --clients $clients \
  --timeout 1.5 --expect unanswered || fail "observe mode must not change traffic"
new=$(( $(discarded) - before ))
expect_eq "$new" $clients "backend discards in observe mode"
expect_eq "$(metric $oa 'wsproxy_user_messages_total{registered="false"}')" "$new" "observe count matches the backend log"
# The deprecated name (kept for one release) shows the same series.
expect_eq "$(metric $oa 'wsproxy_broadcasts_total{registered="false"}')" "$new" "deprecated wsproxy_broadcasts_total"
expect_eq "$(metric $oa 'wsproxy_join_chat_total{source="injected"}')" 0 "no injection in observe mode"
expect_eq "$(metric $oa 'wsproxy_join_missing_total')" $clients "missing joins seen"
pass "observe mode: nothing changed, counts match the backend's log line for line"
