#!/usr/bin/env bash
# An admin port that listens beyond loopback without a token says so at start, once, with
# what to do; with a token, or on loopback, it says nothing. (Issue 14, admin plane.)
source "$(dirname "$0")/lib.sh" "$1"

run_and_stop() {  # NAME ARGS...: starts wsproxy, waits for /healthz, stops it
  local name=$1; shift
  local admin; admin=$(free_port)
  start "$name" "$BUILD/wsproxy" --listen 127.0.0.1:0 --upstream ws://127.0.0.1:9 "$@" --admin "${ADMIN_HOST}:$admin"
  wait_http "http://127.0.0.1:$admin/healthz"
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
}

ADMIN_HOST=0.0.0.0 run_and_stop open
grep -q 'event=admin_open' "$WORK/open.log" || fail "no admin_open warning for 0.0.0.0 without a token"
grep 'event=admin_open' "$WORK/open.log" | grep -q 'level=warn' || fail "admin_open is not a warning"
grep -q -- '--admin-token-file' "$WORK/open.log" || fail "the warning does not say what to do"
pass "0.0.0.0 without a token: warned"

echo secret >"$WORK/token"
ADMIN_HOST=0.0.0.0 run_and_stop tokened --admin-token-file "$WORK/token"
! grep -q 'admin_open' "$WORK/tokened.log" || fail "warned although a token is set"
ADMIN_HOST=127.0.0.1 run_and_stop loopback
! grep -q 'admin_open' "$WORK/loopback.log" || fail "warned about a loopback admin port"
pass "with a token, or on loopback: no warning"
