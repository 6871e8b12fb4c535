#!/usr/bin/env bash
# Fault: SIGTERM during traffic. The drain happens as documented: /readyz answers 503 at
# once, the listener closes, the sessions keep streaming until --drain-timeout and are
# then closed with 1001, and the process exits 0.
source "$(dirname "$0")/lib.sh"
FC="$ROOT/tests/e2e/fault_clients.py"
bp=$(free_port); fp=$(free_port); fa=$(free_port)
drain=2
start backend "$BUILD/chat-backend" --listen "127.0.0.1:$bp" --chunks 1000 --chunk-delay-ms 100
wait_http "http://127.0.0.1:$bp/healthz"
"$BUILD/wsproxy" --listen "127.0.0.1:$fp" --upstream "ws://127.0.0.1:$bp" --admin "127.0.0.1:$fa" \
  --drain-timeout $drain --log-format json >"$WORK/proxy.log" 2>&1 &
proxy_pid=$!
PIDS+=($proxy_pid)
wait_http "http://127.0.0.1:$fa/readyz"

timeout 30 $PY "$FC" stream --url "ws://127.0.0.1:$fp/ws/chat" --clients 5 --pid "$proxy_pid" \
  --signal TERM --expect-code 1001 --min-s $((drain - 1)) --max-s $((drain + 2)) \
  --readyz "http://127.0.0.1:$fa/readyz" >"$WORK/stream.out" \
  || fail "drain not as documented: $(cat "$WORK/stream.out")"
pass "SIGTERM: $(cat "$WORK/stream.out")"
# Sessions kept streaming during the drain.
$PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; sys.exit(0 if all(x["chunks_after_signal"] > 0 for x in r) else 1)' \
  "$WORK/stream.out" || fail "sessions did not keep streaming during the drain"

rc=0
timeout 10 tail --pid="$proxy_pid" -f /dev/null || fail "the proxy did not exit after the drain"
wait "$proxy_pid" || rc=$?
expect_eq "$rc" 0 "exit code after SIGTERM"
pass "the proxy exited 0 after the drain"
