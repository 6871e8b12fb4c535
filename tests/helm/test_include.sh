#!/usr/bin/env bash
# Another chart (parent-chart/, the README's example) depends on wsproxy and includes
# wsproxy.sidecarContainer and wsproxy.sidecarVolumes in its own Deployment: it must build,
# lint, render and validate, and the sidecar must reference the subchart's rules ConfigMap.
. "$(dirname "$0")/lib.sh"
ensure_helm
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

cp -r "$HERE/parent-chart" "$tmp/chat-app"
sed -i "s#file://../../../helm/wsproxy#file://$CHART#" "$tmp/chat-app/Chart.yaml"
"$HELM" dependency build "$tmp/chat-app" >"$tmp/dep.log" 2>&1 || { cat "$tmp/dep.log" >&2; die "helm dependency build"; }
"$HELM" lint --strict "$tmp/chat-app" >"$tmp/lint.log" 2>&1 || { cat "$tmp/lint.log" >&2; die "helm lint (parent)"; }
"$HELM" template chat "$tmp/chat-app" --namespace chat --api-versions monitoring.coreos.com/v1 >"$tmp/out.yaml" \
  || die "helm template (parent)"

kinds="$(grep '^kind:' "$tmp/out.yaml" | sort | tr '\n' ' ')"
[ "$(grep -c '^kind: Deployment' "$tmp/out.yaml")" -eq 1 ] || die "expected only the parent's Deployment, got: $kinds"
grep -q 'restartPolicy: Always' "$tmp/out.yaml" || die "sidecar is not native"
grep -q '"ws://127.0.0.1:8000"' "$tmp/out.yaml" || die "upstream override not applied"
grep -q '^  name: chat-wsproxy-rules$' "$tmp/out.yaml" || die "subchart rules ConfigMap missing"
[ "$(grep -c 'name: chat-wsproxy-rules$' "$tmp/out.yaml")" -ge 2 ] || die "sidecar volume does not reference the rules ConfigMap"
grep -q '^kind: PrometheusRule' "$tmp/out.yaml" || die "subchart PrometheusRule missing"
node "$HERE/validate-manifests.mjs" "$tmp/out.yaml" 2> >(grep -v -i 'EBADENGINE\|ExperimentalWarning' >&2) \
  || die "parent chart objects do not validate"
echo "test_include: wsproxy.sidecarContainer works from another chart ($kinds)"
