#!/usr/bin/env bash
# Broken values must make `helm template` fail (helm lint does not fail on `required`).
. "$(dirname "$0")/lib.sh"
ensure_helm
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
fails=0

# expect_failure <description> <pattern expected in the error> <helm template args...>
expect_failure() {
  local what="$1" pattern="$2"; shift 2
  if helm_template "$@" >"$tmp/out" 2>"$tmp/err"; then
    log "FAIL: $what: helm template succeeded"; fails=$((fails + 1)); return
  fi
  if ! grep -qE -- "$pattern" "$tmp/err"; then
    log "FAIL: $what: error does not match /$pattern/:"; cat "$tmp/err" >&2; fails=$((fails + 1)); return
  fi
  log "ok: $what is rejected: $(grep -m1 -E -- "$pattern" "$tmp/err" | sed 's/^[- ]*//')"
}

expect_failure "standalone without proxy.upstream" "proxy.upstream is required in standalone mode" --set mode=standalone
printf 'mode: standalone\nproxy:\n  upstream: ""\n' >"$tmp/empty-upstream.yaml"
expect_failure "standalone with an empty upstream" "proxy.upstream is required in standalone mode" -f "$tmp/empty-upstream.yaml"
expect_failure "a string port (--set-string)" 'proxy.port.*Invalid type. Expected: integer' --set-string proxy.port=8080
printf 'proxy:\n  adminPort: "9090"\n' >"$tmp/string-port.yaml"
expect_failure "a quoted port in a values file" 'proxy.adminPort.*Invalid type. Expected: integer' -f "$tmp/string-port.yaml"
expect_failure "a misspelled top-level key" 'Additional property replicas is not allowed' --set replicas=3
printf 'proxy:\n  drainTimeout: 30\n' >"$tmp/typo.yaml"
expect_failure "a misspelled proxy key" 'Additional property drainTimeout is not allowed' -f "$tmp/typo.yaml"
expect_failure "a misspelled alert key" 'Additional property ration is not allowed' \
  --set prometheusRule.alerts.unregisteredBroadcasts.ration=0.1
expect_failure "a misspelled rules key" 'Additional property grace_msec is not allowed' \
  --set rules.config.policy.grace_msec=100
expect_failure "a flat (old-style) rules key" 'Additional property chat_id_paths is not allowed' \
  --set 'rules.config.chat_id_paths={data.chat_id}'
expect_failure "an unknown mode" 'mode' --set mode=daemonset
expect_failure "an unknown proxy mode" 'proxy.mode' --set proxy.mode=repair
expect_failure "a port out of range" 'proxy.port' --set proxy.port=70000
expect_failure "a non-ws upstream" 'proxy.upstream' --set mode=standalone --set proxy.upstream=http://backend:8081
expect_failure "a grace period not above the drain timeout" 'must be above proxy.drainTimeoutSeconds' \
  --set terminationGracePeriodSeconds=15
expect_failure "a malformed alert duration" 'for' --set prometheusRule.alerts.joinsInjected.for=1hour
expect_failure "an upstream with a path" 'proxy.upstream' --set mode=standalone --set proxy.upstream=ws://backend:8081/ws
expect_failure "an upstream CA for a ws:// upstream" 'proxy.upstreamCA needs a wss:// upstream' \
  --set mode=standalone --set proxy.upstream=ws://backend:8081 --set proxy.upstreamCA.secretName=ca
expect_failure "TLS without a Secret" 'proxy.tls.secretName is required' --set proxy.tls.enabled=true
expect_failure "a native sidecar on Kubernetes 1.27" 'this cluster is v1.27.0: set sidecar.native=false' --kube-version 1.27.0
expect_failure "a native sidecar on 1.28 without the feature gate" 'SidecarContainers feature gate: set sidecar.native=false, or sidecar.featureGate=true' \
  --kube-version 1.28.2
expect_failure "the 0.1.0 admin token values" 'Additional property adminToken is not allowed' --set proxy.adminToken.secretName=tok
expect_failure "a loopback admin port with the default probes" 'kubelet.s probes cannot reach the admin port' \
  --set admin.bindAddress=127.0.0.1 --set test.enabled=false
expect_failure "the helm test on a loopback admin port" 'test.enabled needs the admin port reachable' \
  --set admin.bindAddress=127.0.0.1
expect_failure "a PodMonitor on a loopback admin port" 'metrics.podMonitor.enabled needs the admin port reachable' \
  --set admin.bindAddress=127.0.0.1 --set proxy.startupProbe=null --set proxy.livenessProbe=null \
  --set proxy.readinessProbe=null --set test.enabled=false --set metrics.podMonitor.enabled=true
expect_failure "a PodMonitor with deploy=false and no pod labels" 'needs sidecarPodLabels' \
  --set deploy=false --set metrics.podMonitor.enabled=true
expect_failure "a NetworkPolicy with deploy=false and no pod labels" 'admin.networkPolicy with deploy=false needs sidecarPodLabels' \
  --set deploy=false --set admin.networkPolicy.enabled=true
expect_failure "a ServiceMonitor in another namespace than its token Secret" 'serviceMonitor.namespace must be the release namespace' \
  --set serviceMonitor.enabled=true --set serviceMonitor.namespace=monitoring
expect_failure "a ServiceMonitor with deploy=false" 'use metrics.podMonitor or metrics.scrapeAnnotations' \
  --set deploy=false --set serviceMonitor.enabled=true
expect_failure "a misspelled podMonitor key" 'Additional property intervall is not allowed' --set metrics.podMonitor.intervall=10s
expect_failure "a window on the gauge-based reload alert" 'Additional property window is not allowed' \
  --set prometheusRule.alerts.rulesReloadFailures.window=10m

# And the good counterparts render.
helm_template --set mode=standalone --set proxy.upstream=ws://backend.chat.svc:8081 >/dev/null \
  || { log "FAIL: valid standalone values rejected"; fails=$((fails + 1)); }
helm_template --set terminationGracePeriodSeconds=16 >/dev/null \
  || { log "FAIL: a grace period of 16s rejected"; fails=$((fails + 1)); }
[ "$fails" -eq 0 ] || die "$fails check(s) failed"
echo "test_bad_values: every broken value is rejected"
