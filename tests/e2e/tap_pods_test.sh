#!/usr/bin/env bash
# scripts/tap-pods without a cluster: a fake kubectl (fake_kubectl.py) lists two "pods" and
# port-forwards to two real proxies; the script must forward to each, name each pod in the
# source column, pass the verb's flags through, and stop its forwards when the verb ends.
source "$(dirname "$0")/lib.sh"

backend=$(free_port); proxy_a=$(free_port); proxy_b=$(free_port)
admin_a=$(free_port); admin_b=$(free_port)
export KUBECTL="$ROOT/tests/e2e/fake_kubectl.py" WSPROXY="$BUILD/wsproxy"
export FAKE_KUBECTL_LOG="$WORK/kubectl.log"
export FAKE_PODS="wsproxy-5f7c-a=$admin_a,wsproxy-5f7c-b=$admin_b"
tap_pods="$ROOT/scripts/tap-pods"

# Misuse: exit 2 and what to do.
set +e
out=$("$tap_pods" -- 2>&1); rc=$?
set -e
expect_eq "$rc" 2 "tap-pods without a verb"
echo "$out" | grep -q "give tap or connections after --" || fail "tap-pods without a verb said: $out"
set +e
out=$(FAKE_PODS="" "$tap_pods" -l app=nothing -- connections 2>&1); rc=$?
set -e
expect_eq "$rc" 2 "tap-pods with no pod"
echo "$out" | grep -q "no running pod matches -l app=nothing" || fail "tap-pods with no pod said: $out"
pass "tap-pods misuse: one line and exit 2"

start_backend_and_two_proxies "$backend" "$proxy_a" "$admin_a" "$proxy_b" "$admin_b"
start client "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_a/ws/chat" \
  --clients 1 --chat chat-pods --hold 30
wait_for "$WORK/client.log" answered || fail "the client through proxy a got no answer"
grep -q answered "$WORK/client.log" || fail "the client got no answer"

"$tap_pods" -n chat -- connections --json >"$WORK/conns.json" 2>"$WORK/conns.err" ||
  fail "tap-pods -- connections --json: $(cat "$WORK/conns.err")"
"$PY" - "$WORK/conns.json" <<'PY' || fail "tap-pods connections: $(cat "$WORK/conns.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["sources"] == [{"source": "wsproxy-5f7c-a"}, {"source": "wsproxy-5f7c-b"}], doc["sources"]
assert [c["source"] for c in doc["connections"]] == ["wsproxy-5f7c-a"], doc["connections"]
PY
grep -q -- "--namespace chat get pods -l app.kubernetes.io/name=wsproxy" "$WORK/kubectl.log" ||
  fail "kubectl get pods called as: $(cat "$WORK/kubectl.log")"
expect_eq "$(grep -c -- "--namespace chat port-forward pod/wsproxy-5f7c-[ab] :9090" "$WORK/kubectl.log")" 2 \
  "port-forwards started"
for pid in $(awk '/port-forward/ { print $1 }' "$WORK/kubectl.log"); do
  kill -0 "$pid" 2>/dev/null && fail "port-forward $pid still runs after tap-pods ended"
done
pass "tap-pods -- connections: one forward per pod, rows named by pod, forwards stopped after"

# The verb's flags pass through; tap's source column names the pod.
"$tap_pods" -- tap --type send_message --max-frames 1 >"$WORK/tap.txt" 2>"$WORK/tap.err" &
tap_pid=$!; PIDS+=($tap_pid)
for _ in $(seq 200); do [ "$(grep -c watching "$WORK/tap.err" 2>/dev/null)" = 2 ] && break; sleep 0.05; done
expect_eq "$(grep -c watching "$WORK/tap.err")" 2 "taps started through tap-pods"
start client_b "$PY" "$ROOT/tests/e2e/tap_clients.py" --url "ws://127.0.0.1:$proxy_b/ws/chat" \
  --clients 1 --chat chat-pods --hold 5
wait "$tap_pid" || fail "tap-pods -- tap exited $?: $(cat "$WORK/tap.err")"
grep -q "wsproxy-5f7c-b .*send_message" "$WORK/tap.txt" || fail "tap through tap-pods: $(cat "$WORK/tap.txt")"
pass "tap-pods -- tap: $(cat "$WORK/tap.txt")"
