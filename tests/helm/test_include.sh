#!/usr/bin/env bash
# Another chart (parent-chart/, the README's example) depends on wsproxy and includes
# wsproxy.sidecarContainer and wsproxy.sidecarVolumes in its own Deployment: it must build,
# lint, render and validate, and the sidecar must reference the subchart's rules ConfigMap and
# token Secret. And it is scraped: the subchart's PodMonitor (and, in a second rendering, the
# scrape annotations from wsproxy.scrapeAnnotations) reaches the sidecar's admin port with the
# token it reads (scrape-check.mjs).
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
grep -q '^kind: Secret' "$tmp/out.yaml" || die "subchart admin token Secret missing"
grep -q -- '- --admin-token-file' "$tmp/out.yaml" || die "the sidecar binds its admin port beyond loopback without a token"
node "$HERE/scrape-check.mjs" "$tmp/out.yaml" chat PodMonitor || die "the parent chart's pods are not scraped by the PodMonitor"
"$HELM" template chat "$tmp/chat-app" --namespace chat --api-versions monitoring.coreos.com/v1 \
  --set wsproxy.metrics.podMonitor.enabled=false --set wsproxy.metrics.scrapeAnnotations.enabled=true >"$tmp/annotated.yaml" \
  || die "helm template (parent, scrape annotations)"
node "$HERE/scrape-check.mjs" "$tmp/annotated.yaml" chat annotations || die "the parent chart's pods carry no scrape annotations"
# Without sidecarPodLabels the PodMonitor cannot know the parent's pods: a clear error.
if "$HELM" template chat "$tmp/chat-app" --namespace chat --api-versions monitoring.coreos.com/v1 \
  --set wsproxy.sidecarPodLabels=null >/dev/null 2>"$tmp/nolabels.err"; then
  die "a PodMonitor with deploy=false and no sidecarPodLabels rendered"
fi
grep -q 'needs sidecarPodLabels' "$tmp/nolabels.err" || { cat "$tmp/nolabels.err" >&2; die "unclear error without sidecarPodLabels"; }
# An older cluster: the native sidecar is refused with the value to set.
if "$HELM" template chat "$tmp/chat-app" --namespace chat --kube-version 1.27.0 >/dev/null 2>"$tmp/old.err"; then
  die "a native sidecar rendered for Kubernetes 1.27"
fi
grep -q 'sidecar.native=false' "$tmp/old.err" || { cat "$tmp/old.err" >&2; die "the 1.27 error does not name sidecar.native"; }
node "$HERE/validate-manifests.mjs" "$tmp/out.yaml" "$tmp/annotated.yaml" 2> >(grep -v -i 'EBADENGINE\|ExperimentalWarning' >&2) \
  || die "parent chart objects do not validate"
echo "test_include: wsproxy.sidecarContainer works from another chart ($kinds)"
