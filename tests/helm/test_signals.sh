#!/usr/bin/env bash
# The five signals are defined once, in docs/signals.md. This test:
#  - turns each formula into a recording rule and unit-tests it with `promtool test rules`
#    (signals_test.yaml: a healthy and a broken frontend, each in fix and in observe mode, a
#    backend that refuses joins, an idle proxy);
#  - checks that the dashboard's signal panels, the alerts built on A, D and E and the signal
#    tables of README.md and the chart README use those formulas (signals.mjs).
. "$(dirname "$0")/lib.sh"
ensure_helm
need_cmd promtool prometheus
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
doc="$ROOT/docs/signals.md"

(cd "$HERE" && node signals.mjs rules "$doc" 5m "$tmp/signals-rules.yaml") >&2 || die "docs/signals.md: formulas not found"
promtool check rules "$tmp/signals-rules.yaml" >&2 || die "a formula of docs/signals.md does not parse"
cp "$HERE/signals_test.yaml" "$tmp/"
(cd "$tmp" && promtool test rules signals_test.yaml) || die "promtool test rules (signals)"

helm_template --set prometheusRule.enabled=true >"$tmp/rendered.yaml"
node "$HERE/extract-rules.mjs" "$tmp/rendered.yaml" "$tmp/alerts.yaml" >/dev/null
(cd "$HERE" && node signals.mjs check "$doc" dashboard "$CHART/dashboards/wsproxy.json") || die "dashboard"
(cd "$HERE" && node signals.mjs check "$doc" alerts "$tmp/alerts.yaml") || die "alerts"
(cd "$HERE" && node signals.mjs check "$doc" markdown "$ROOT/README.md" "$CHART/README.md") || die "READMEs"
echo "test_signals: A-E unit-tested; dashboard, alerts and READMEs use the formulas of docs/signals.md"
