#!/usr/bin/env bash
# Every rendered object of every scenario validates against the Kubernetes / Prometheus Operator
# schemas (kubernetes-models) and has no unknown field (tsc --noEmit excess-property check).
. "$(dirname "$0")/lib.sh"
ensure_helm
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

files=()
for f in "$CHART"/ci/*-values.yaml; do
  name="$(basename "$f" .yaml)"
  helm_template -f "$f" >"$tmp/$name.yaml"
  files+=("$tmp/$name.yaml")
done
# Everything switched on at once, including the optional objects.
helm_template -f "$CHART/ci/monitoring-values.yaml" --set ingress.enabled=true \
  --set podDisruptionBudget.enabled=true --set proxy.tls.enabled=true --set proxy.tls.secretName=tls \
  --set mode=standalone --set proxy.upstream=wss://backend.chat.svc:8443 \
  --set proxy.upstreamCA.secretName=ca --set admin.existingSecret=tok \
  --set metrics.podMonitor.enabled=true --set metrics.scrapeAnnotations.enabled=true \
  --set admin.networkPolicy.enabled=true \
  --set-json 'admin.networkPolicy.extraIngress=[{"ports":[{"port":9100,"protocol":"TCP"}]}]' >"$tmp/all-on.yaml"
files+=("$tmp/all-on.yaml")

node "$HERE/validate-manifests.mjs" "${files[@]}" 2> >(grep -v -i 'EBADENGINE\|ExperimentalWarning' >&2) \
  || die "rendered objects do not validate"

# The excess-property check must catch a misspelled field (guards against a silently passing check).
if node "$HERE/validate-manifests.mjs" --inject-unknown "$tmp/sidecar-values.yaml" >"$tmp/neg.log" 2>&1; then
  die "a misspelled field (imagePullPolicey) was not rejected"
fi
grep -q 'imagePullPolicey' "$tmp/neg.log" || { cat "$tmp/neg.log" >&2; die "negative check failed for another reason"; }
echo "test_models: all objects valid; unknown fields are rejected"
