#!/usr/bin/env bash
# The chart's safety rules, each on the rendered output:
#  - no admin port beyond loopback without a token, in any scenario, mode or bind address, with
#    a generated Secret or an existing one (admin-check.mjs); a loopback admin port has none;
#  - native sidecars only where the cluster runs them (1.29+, 1.28 with the feature gate);
#  - the NetworkPolicy admits the admin port only from the listed peers;
#  - proxy.maxConnections: 0 leaves the binary's own limit (no flag), N passes N, and the docs
#    never call it unlimited;
#  - the `helm test` pod's script, run as it is rendered, passes against a real wsproxy's admin
#    port (with a token set) and fails when nothing answers.
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_helm
need_cmd curl
tmp="$(mktemp -d)"
trap 'stop_all; rm -rf "$tmp"' EXIT
fails=0
check() { local what="$1"; shift; if "$@" >"$tmp/check.out" 2>&1; then log "ok: $what"; else cat "$tmp/check.out" >&2; log "FAIL: $what"; fails=$((fails + 1)); fi; }

# 1. Tokens.
n=0
for args in "" "-f $CHART/ci/sidecar-values.yaml" "-f $CHART/ci/sidecar-legacy-values.yaml" \
  "-f $CHART/ci/monitoring-values.yaml" "--set mode=standalone --set proxy.upstream=ws://b.chat.svc:8081" \
  "--set admin.bindAddress=10.1.2.3" "--set admin.bindAddress=::" \
  "--set proxy.tls.enabled=true --set proxy.tls.secretName=t"; do
  n=$((n + 1))
  # shellcheck disable=SC2086
  helm_template $args >"$tmp/r$n.yaml" || die "render: $args"
  check "token on a non-loopback admin port ($args)" node "$HERE/admin-check.mjs" "$tmp/r$n.yaml"
done
helm_template -f "$CHART/ci/standalone-values.yaml" >"$tmp/existing.yaml"
check "existing Secret used, none generated" node "$HERE/admin-check.mjs" "$tmp/existing.yaml" wsproxy-admin
check "no generated Secret next to an existing one" bash -c "! grep -q '^kind: Secret' '$tmp/existing.yaml'"
helm_template --set deploy=false >"$tmp/nodeploy.yaml"
check "deploy=false: the token Secret renders for another chart's pods" grep -q '^kind: Secret' "$tmp/nodeploy.yaml"
grep -q 'wsproxy-admin/token' <(node "$HERE/admin-check.mjs" "$tmp/existing.yaml" wsproxy-admin) \
  || { log "FAIL: the existing Secret is not the one mounted"; fails=$((fails + 1)); }
helm_template --set admin.bindAddress=127.0.0.1 --set proxy.startupProbe=null --set proxy.livenessProbe=null \
  --set proxy.readinessProbe=null --set test.enabled=false >"$tmp/loopback.yaml" || die "render: loopback admin"
check "loopback admin: no token, no Secret" bash -c "node '$HERE/admin-check.mjs' '$tmp/loopback.yaml' | grep -q 'admin=127.0.0.1:9090 token=none' && ! grep -q '^kind: Secret' '$tmp/loopback.yaml'"

# 2. Native sidecars by cluster version.
helm_template --kube-version 1.29.0 >"$tmp/k129.yaml" || die "render for 1.29"
check "1.29: native sidecar" grep -q 'restartPolicy: Always' "$tmp/k129.yaml"
helm_template --kube-version 1.28.3 --set sidecar.featureGate=true >"$tmp/k128.yaml" || die "render for 1.28 with the gate"
check "1.28 with the feature gate: native sidecar" grep -q 'restartPolicy: Always' "$tmp/k128.yaml"
helm_template --kube-version 1.27.0 --set sidecar.native=false >"$tmp/k127.yaml" || die "render for 1.27, native=false"
check "1.27 with native=false: a second container" bash -c "! grep -qE 'restartPolicy: Always|initContainers:' '$tmp/k127.yaml'"

# 3. NetworkPolicy.
helm_template -f "$CHART/ci/monitoring-values.yaml" >"$tmp/np.yaml"
check "NetworkPolicy: admin port from the listed peers" node "$HERE/admin-check.mjs" "$tmp/np.yaml"
check "NetworkPolicy: the monitoring namespace may reach the admin port" grep -q 'kubernetes.io/metadata.name: monitoring' "$tmp/np.yaml"
helm_template --set admin.networkPolicy.enabled=true --show-only templates/networkpolicy.yaml >"$tmp/np-closed.yaml"
check "NetworkPolicy without peers: no rule for the admin port" bash -c "grep -q '^kind: NetworkPolicy' '$tmp/np-closed.yaml' && ! grep -q 'port: admin' '$tmp/np-closed.yaml'"

# 4. maxConnections means what the binary means.
helm_template >"$tmp/maxc0.yaml"
check "maxConnections 0: no --max-connections (the binary derives it)" bash -c "! grep -q -- '--max-connections' '$tmp/maxc0.yaml'"
helm_template --set proxy.maxConnections=1234 >"$tmp/maxc.yaml"
check "maxConnections N: --max-connections N" grep -A1 -- '- --max-connections' "$tmp/maxc.yaml"
grep -A1 -- '- --max-connections' "$tmp/maxc.yaml" | grep -q '"1234"' || { log "FAIL: --max-connections is not 1234"; fails=$((fails + 1)); }
check "the chart never calls maxConnections unlimited" bash -c \
  "! grep -iE 'maxConnections.*(unlimited|no limit)' '$CHART/values.yaml' '$CHART/README.md' '$CHART/values.schema.json'"

# 5. The helm test pod's script against a real wsproxy (its admin port with a token).
bport="$(free_port)"; pport="$(free_port)"; aport="$(free_port)"
echo "s3cret-token" >"$tmp/token"
start_bg "$tmp/backend.log" "$BIN_DIR/chat-backend" --listen "127.0.0.1:$bport"
start_bg "$tmp/wsproxy.log" "$BIN_DIR/wsproxy" --listen "127.0.0.1:$pport" --admin "127.0.0.1:$aport" \
  --upstream "ws://127.0.0.1:$bport" --admin-token-file "$tmp/token" --log-format text
wait_http "http://127.0.0.1:$aport/readyz" 15 "$LAST_PID" || { show_log "$tmp/wsproxy.log"; die "wsproxy did not start"; }
helm_template --set adminService.port="$aport" --show-only templates/tests/readyz-test.yaml >"$tmp/test-pod.yaml" \
  || die "render the helm test pod"
(cd "$HERE" && node --input-type=module -e '
import { readFileSync, writeFileSync } from "node:fs"; import { parse } from "yaml";
const pod = parse(readFileSync(process.argv[1], "utf8"));
const c = pod.spec.containers[0];
if (pod.metadata.annotations["helm.sh/hook"] !== "test") throw new Error("not a helm test hook");
if (c.command.join(" ") !== "/bin/bash -c") throw new Error("unexpected command " + c.command);
writeFileSync(process.argv[2], c.args[0]);' "$tmp/test-pod.yaml" "$tmp/test-pod.sh") || die "the helm test pod has no script"
env_name="$(grep -oE '[A-Z0-9_]+_SERVICE_HOST' "$tmp/test-pod.sh" | head -n 1)"
[ -n "$env_name" ] || die "the helm test script reads no *_SERVICE_HOST"
check "helm test: passes against a ready wsproxy" env "$env_name=127.0.0.1" timeout 20 /bin/bash "$tmp/test-pod.sh"
grep -q 'HTTP/1.1 200' "$tmp/check.out" || { log "FAIL: helm test output: $(cat "$tmp/check.out")"; fails=$((fails + 1)); }
sed 's/seq 30/seq 1/' "$tmp/test-pod.sh" >"$tmp/test-pod-once.sh"
dead="$(free_port)"
sed -i "s/^port=.*/port=$dead/" "$tmp/test-pod-once.sh"
check "helm test: fails when nothing answers" bash -c "! env '$env_name=127.0.0.1' timeout 20 /bin/bash '$tmp/test-pod-once.sh'"

[ "$fails" -eq 0 ] || die "$fails check(s) failed"
echo "test_safety: tokens, native sidecars, NetworkPolicy, maxConnections and the helm test pod hold"
