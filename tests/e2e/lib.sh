# Helpers for end-to-end tests that run the built binaries as processes.
# Source it; it sets BUILD (the build folder, first argument) and ROOT.
set -euo pipefail
BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=/usr/bin/python3
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
pass() { echo "ok: $*"; }

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL: until it answers 200, at most 10 s.
wait_http() {
  for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done
  fail "$1 did not come up"
}

# start NAME CMD...: runs CMD in the background, logging to $WORK/NAME.log.
start() {
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

# metric ADMIN_PORT 'name{labels}': the value of one series, as an integer.
metric() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k { printf "%d\n", $2; found=1 } END { if (!found) print "missing" }'
}

expect_eq() { [ "$1" = "$2" ] || fail "$3: expected $2, got $1"; }

# wait_for FILE PATTERN [TRIES]: until grep finds it (0.05 s per try); returns 1 if it never does.
wait_for() {
  for _ in $(seq "${3:-200}"); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# start_backend_and_two_proxies BACKEND PROXY_A ADMIN_A PROXY_B ADMIN_B: a chat-backend as in
# the bug report (--no-auto-register) behind two proxies (logs backend, proxy_a, proxy_b),
# both healthy on return: two replicas for the CLI's merge.
start_backend_and_two_proxies() {
  start backend "$BUILD/chat-backend" --listen "127.0.0.1:$1" --no-auto-register
  start proxy_a "$BUILD/wsproxy" --listen "127.0.0.1:$2" --upstream "ws://127.0.0.1:$1" \
    --admin "127.0.0.1:$3" --threads 1
  start proxy_b "$BUILD/wsproxy" --listen "127.0.0.1:$4" --upstream "ws://127.0.0.1:$1" \
    --admin "127.0.0.1:$5" --threads 1
  wait_http "http://127.0.0.1:$3/healthz"
  wait_http "http://127.0.0.1:$5/healthz"
}

# wait_metric ADMIN_PORT SERIES VALUE: until the series reads VALUE, at most 15 s.
wait_metric() {
  for _ in $(seq 300); do [ "$(metric "$1" "$2")" = "$3" ] && return 0; sleep 0.05; done
  fail "$2 on :$1 stayed $(metric "$1" "$2"), expected $3"
}

# shared_state_session MODE PROXY_WS POST_URL SESSION CHAT [args...]: one browser session of
# tests/e2e/shared_state_clients.py (socket on one pod, REST on another); prints its JSON line.
shared_state_session() {
  local mode=$1 ws=$2 post=$3 s=$4 chat=$5; shift 5
  $PY "$ROOT/tests/e2e/shared_state_clients.py" "$mode" --ws "$ws" --post "$post" \
    --session "$s" --chat "$chat" "$@"
}
