#!/usr/bin/env bash
# helm lint --strict and helm template for every ci/*-values.yaml, then yamllint on the chart's
# YAML and on each rendered output.
. "$(dirname "$0")/lib.sh"
ensure_helm
need_cmd yamllint
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

yamllint -s -c "$HERE/yamllint.yaml" "$CHART/Chart.yaml" "$CHART/values.yaml" "$CHART/ci" \
  || die "yamllint: chart YAML"
python3 -m json.tool "$CHART/values.schema.json" >/dev/null || die "values.schema.json is not JSON"
python3 -m json.tool "$CHART/dashboards/wsproxy.json" >/dev/null || die "dashboard is not JSON"

scenarios=("$CHART"/ci/*-values.yaml)
[ ${#scenarios[@]} -ge 4 ] || die "expected at least 4 ci/*-values.yaml, found ${#scenarios[@]}"
for f in "${scenarios[@]}" default; do
  name="$(basename "$f" .yaml)"
  args=()
  [ "$f" = default ] || args=(-f "$f")
  # lint has no --api-versions: force the Prometheus Operator objects so they are linted too.
  "$HELM" lint --strict "$CHART" "${args[@]}" --set serviceMonitor.force=true --set prometheusRule.force=true \
    >"$tmp/$name.lint" 2>&1 || { cat "$tmp/$name.lint" >&2; die "helm lint --strict ($name)"; }
  helm_template "${args[@]}" >"$tmp/$name.yaml" 2>"$tmp/$name.err" || { cat "$tmp/$name.err" >&2; die "helm template ($name)"; }
  yamllint -s -d "{extends: $HERE/yamllint.yaml, rules: {line-length: disable}}" "$tmp/$name.yaml" \
    || die "yamllint: rendered $name"
  log "ok: $name ($(grep -c '^kind:' "$tmp/$name.yaml") objects)"
done

# Scenario-specific shape checks.
grep -q 'restartPolicy: Always' "$tmp/sidecar-values.yaml" || die "sidecar: wsproxy is not a native sidecar"
grep -q 'restartPolicy: Always' "$tmp/sidecar-legacy-values.yaml" && die "sidecar-legacy: unexpected native sidecar"
grep -q 'initContainers:' "$tmp/sidecar-legacy-values.yaml" && die "sidecar-legacy: unexpected initContainers"
grep -q '"ws://chat-backend.chat.svc.cluster.local:8081"' "$tmp/standalone-values.yaml" || die "standalone: upstream not passed"
grep -q 'kind: ServiceMonitor' "$tmp/monitoring-values.yaml" || die "monitoring: no ServiceMonitor"
grep -q 'kind: PrometheusRule' "$tmp/monitoring-values.yaml" || die "monitoring: no PrometheusRule"
grep -q 'grafana_dashboard: "1"' "$tmp/monitoring-values.yaml" || die "monitoring: dashboard label missing"
# Without the API group and without force, the Prometheus Operator objects are skipped.
"$HELM" template wsproxy "$CHART" -f "$CHART/ci/monitoring-values.yaml" >"$tmp/nocrd.yaml"
grep -qE 'kind: (ServiceMonitor|PrometheusRule)' "$tmp/nocrd.yaml" && die "ServiceMonitor rendered without the CRD"
# NOTES.txt renders for every scenario (helm template skips it: render it through tpl in a copy).
cp -r "$CHART" "$tmp/notes-chart"
cp "$CHART/templates/NOTES.txt" "$tmp/notes-chart/notes.tpl"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n    {{- tpl (.Files.Get "notes.tpl") . | nindent 4 }}\n' \
  >"$tmp/notes-chart/templates/zz-notes.yaml"
for f in "${scenarios[@]}"; do
  "$HELM" template chat "$tmp/notes-chart" --namespace chat --api-versions monitoring.coreos.com/v1 -f "$f" \
    --show-only templates/zz-notes.yaml >"$tmp/notes.out" 2>&1 || { cat "$tmp/notes.out" >&2; die "NOTES.txt ($f)"; }
  grep -q 'kubectl -n chat rollout status deployment/chat-wsproxy' "$tmp/notes.out" || die "NOTES.txt ($f): no rollout command"
  grep -q 'port-forward service/chat-wsproxy-admin' "$tmp/notes.out" || die "NOTES.txt ($f): no admin port-forward"
done

# A comment on every value, and every value in the README's table.
/usr/bin/python3 "$HERE/values_doc.py" "$CHART/values.yaml" "$CHART/README.md" >&2 \
  || die "values.yaml comments / README values table out of date (regenerate: tests/helm/values_doc.py helm/wsproxy/values.yaml)"

# The README's install commands render.
helm_template --set image.repository=reg/wsproxy --set image.tag=0.1.0 >/dev/null || die "README: sidecar install"
helm_template --set image.repository=reg/wsproxy --set image.tag=0.1.0 --set sidecar.native=false \
  --set backend.image.repository=reg/chat-backend --set backend.image.tag=2.3.1 --set backend.port=8000 \
  --set 'backend.command=null' --set 'backend.args={--host,127.0.0.1,--port,8000}' >/dev/null \
  || die "README: legacy sidecar install"
helm_template --set mode=standalone --set proxy.upstream=ws://chat-backend.chat.svc.cluster.local:8081 \
  --set image.repository=reg/wsproxy --set image.tag=0.1.0 >/dev/null || die "README: standalone install"
helm_template --set serviceMonitor.enabled=true --set serviceMonitor.additionalLabels.release=kube-prometheus-stack \
  --set prometheusRule.enabled=true --set prometheusRule.additionalLabels.release=kube-prometheus-stack \
  --set dashboard.enabled=true >/dev/null || die "README: monitoring install"
echo "test_lint: all scenarios pass"
