#!/usr/bin/env bash
# The PrometheusRule's groups, extracted from the rendered chart: `promtool check rules` on the
# full file (annotations included) and `promtool test rules` (alerts_test.yaml: a firing and a
# silent case for each alert). Also checks that every alert in the chart has both cases, and that
# every query of the Grafana dashboard parses (each one wrapped as a recording rule for
# `promtool check rules`) with one unit per axis (dashboard-check.mjs).
. "$(dirname "$0")/lib.sh"
ensure_helm
need_cmd promtool prometheus
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

helm_template --set prometheusRule.enabled=true >"$tmp/rendered.yaml"
node "$HERE/extract-rules.mjs" "$tmp/rendered.yaml" "$tmp/full-rules.yaml" >&2
promtool check rules "$tmp/full-rules.yaml" || die "promtool check rules"
# The monitoring scenario (extra labels, runbook URLs) must be valid too.
helm_template -f "$CHART/ci/monitoring-values.yaml" >"$tmp/monitoring.yaml"
node "$HERE/extract-rules.mjs" "$tmp/monitoring.yaml" "$tmp/monitoring-rules.yaml" >&2
promtool check rules "$tmp/monitoring-rules.yaml" || die "promtool check rules (monitoring scenario)"

node "$HERE/extract-rules.mjs" "$tmp/rendered.yaml" "$tmp/rules.yaml" --strip-annotations >&2
cp "$HERE/alerts_test.yaml" "$tmp/"
(cd "$tmp" && promtool test rules alerts_test.yaml) || die "promtool test rules"

# Each alert needs a case with exp_alerts filled and one with exp_alerts: [].
alerts="$(grep -E '^ +- alert: ' "$tmp/full-rules.yaml" | awk '{print $3}')"
[ -n "$alerts" ] || die "no alerts found"
for a in $alerts; do
  fire="$(grep -A2 "alertname: $a\$" "$HERE/alerts_test.yaml" | grep -c 'exp_alerts:$' || true)"
  silent="$(grep -A1 "alertname: $a\$" "$HERE/alerts_test.yaml" | grep -c 'exp_alerts: \[\]' || true)"
  [ "$fire" -ge 1 ] || die "$a has no firing test case"
  [ "$silent" -ge 1 ] || die "$a has no silent test case"
  # Runbook-style annotations on every alert.
  awk -v a="$a" '$0 ~ "alert: "a"$" {on=1; next} on && /- alert: / {on=0} on' "$tmp/full-rules.yaml" \
    | grep -q 'summary:' || die "$a has no summary"
  awk -v a="$a" '$0 ~ "alert: "a"$" {on=1; next} on && /- alert: / {on=0} on' "$tmp/full-rules.yaml" \
    | grep -q 'description:' || die "$a has no description"
done
node "$HERE/dashboard-check.mjs" "$CHART/dashboards/wsproxy.json" "$tmp/dashboard-rules.yaml" >&2 \
  || die "dashboard: panel checks"
promtool check rules "$tmp/dashboard-rules.yaml" >&2 || die "dashboard: a query does not parse"
echo "test_promtool: $(echo $alerts | wc -w) alerts checked and unit-tested; dashboard queries parse"
