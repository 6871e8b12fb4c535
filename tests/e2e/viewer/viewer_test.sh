#!/usr/bin/env bash
# The web viewer in a real browser: Debian's chromium, headless, driven by playwright-core,
# opens the viewer of build/wsproxy (in front of build/chat-backend, with an admin token)
# while clients that never join send messages. Saves BUILD/viewer-screenshot.png.
source "$(dirname "$0")/../lib.sh"
HERE="$ROOT/tests/e2e/viewer"

[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing: run scripts/setup"
command -v node >/dev/null || fail "node is missing: run scripts/setup"
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1) || fail "npm ci failed: $(tail -5 "$WORK/npm.log")"
fi

backend=$(free_port); proxy=$(free_port); admin=$(free_port)
token="viewer-e2e-token"
echo "$token" >"$WORK/token"
start backend "$BUILD/chat-backend" --listen "127.0.0.1:$backend" --no-auto-register
start proxy "$BUILD/wsproxy" --listen "127.0.0.1:$proxy" --upstream "ws://127.0.0.1:$backend" \
  --admin "127.0.0.1:$admin" --admin-token-file "$WORK/token" --tap-payloads --threads 2
wait_http "http://127.0.0.1:$admin/healthz"

VIEWER_URL="http://127.0.0.1:$admin/?token=$token" \
PROXY_WS="ws://127.0.0.1:$proxy/ws/chat" \
CLIENTS_SCRIPT="$ROOT/tests/e2e/tap_clients.py" \
SCREENSHOT="$BUILD/viewer-screenshot.png" \
USER_DATA_DIR="$WORK/chromium-profile" \
  node "$HERE/viewer_test.mjs" || fail "the browser test failed"
pass "viewer: frames, the injected join_chat and the signal badges appear; screenshot in $BUILD/viewer-screenshot.png"
