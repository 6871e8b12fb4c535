#!/usr/bin/env bash
# scripts/demo, as a newcomer runs it, once through (DEMO_ONESHOT=1) on free ports.
source "$(dirname "$0")/lib.sh"
out=$(BUILD_DIR="$BUILD" DEMO_ONESHOT=1 PROXY_PORT=$(free_port) BACKEND_PORT=$(free_port) \
  ADMIN_PORT=$(free_port) "$ROOT/scripts/demo" 2>&1) || { echo "$out"; fail "scripts/demo failed"; }
echo "$out" | grep -q "0 of 2 clients got their answer" || { echo "$out"; fail "demo: direct run should show discarded answers"; }
echo "$out" | grep -q "2 of 2 clients got their answer" || { echo "$out"; fail "demo: proxied run should show answers"; }
echo "$out" | grep -q 'wsproxy_join_chat_total{source="injected"} 2' || { echo "$out"; fail "demo: metrics not shown"; }
pass "scripts/demo shows the bug and the fix"
