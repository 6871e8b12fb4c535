#!/usr/bin/env bash
# Every metric name used by the Grafana dashboard and by the PrometheusRule exists in a real scrape
# of a running wsproxy's /metrics (all series exist from start, at 0). Docs that cannot drift:
# every rules key and every metric named in the READMEs, docs/, rules/README.md, metrics/README.md
# and the chart (values, templates with the alert runbooks, dashboard) exists in
# `wsproxy --print-default-rules` and in that scrape (doc-names.mjs).
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_helm
need_cmd curl
tmp="$(mktemp -d)"
trap 'stop_all; rm -rf "$tmp"' EXIT

bport="$(free_port)"; pport="$(free_port)"; aport="$(free_port)"
start_bg "$tmp/backend.log" "$BIN_DIR/chat-backend" --listen "127.0.0.1:$bport"
backend_pid=$LAST_PID
wait_http "http://127.0.0.1:$bport/healthz" 15 "$backend_pid" || { show_log "$tmp/backend.log"; die "chat-backend did not start"; }
start_bg "$tmp/wsproxy.log" "$BIN_DIR/wsproxy" --listen "127.0.0.1:$pport" --admin "127.0.0.1:$aport" \
  --upstream "ws://127.0.0.1:$bport" --log-format text
proxy_pid=$LAST_PID
wait_http "http://127.0.0.1:$aport/healthz" 15 "$proxy_pid" || { show_log "$tmp/wsproxy.log"; die "wsproxy did not start"; }

curl -fsS --max-time 5 "http://127.0.0.1:$aport/metrics" >"$tmp/metrics.txt" || die "GET /metrics failed"
grep -v '^#' "$tmp/metrics.txt" | sed -E 's/[{ ].*//' | grep -E '^(wsproxy|process)_' | sort -u >"$tmp/scraped.txt"
[ -s "$tmp/scraped.txt" ] || die "the scrape has no wsproxy_ series"

helm_template --set prometheusRule.enabled=true >"$tmp/rendered.yaml"
node "$HERE/extract-rules.mjs" "$tmp/rendered.yaml" "$tmp/rules.yaml" >/dev/null
node "$HERE/metric-names.mjs" "$CHART/dashboards/wsproxy.json" "$tmp/rules.yaml" >"$tmp/used.txt"

missing="$(comm -23 "$tmp/used.txt" "$tmp/scraped.txt")"
if [ -n "$missing" ]; then
  echo "metric names used by the dashboard or the alerts but absent from /metrics:" >&2
  echo "$missing" | sed 's/^/  /' >&2
  die "$(echo "$missing" | wc -l) metric name(s) missing from a real scrape"
fi
# The proxy's own full default rules file passes the chart's schema for rules.config, and the
# rendered ConfigMap is accepted back by the proxy (--rules is validated at start).
"$BIN_DIR/wsproxy" --print-default-rules >"$tmp/default-rules.yaml" || die "wsproxy --print-default-rules failed"
rules_json="$(cd "$HERE" && node --input-type=module -e '
import { readFileSync } from "node:fs"; import { parse } from "yaml";
const r = parse(readFileSync(process.argv[1], "utf8")); delete r.mode; console.log(JSON.stringify(r));' "$tmp/default-rules.yaml")"
helm_template --set-json "rules.config=$rules_json" >"$tmp/full-rules-render.yaml" 2>"$tmp/err" \
  || { cat "$tmp/err" >&2; die "the proxy's default rules do not pass values.schema.json"; }
node "$HERE/configmap-data.mjs" "$tmp/full-rules-render.yaml" wsproxy-rules rules.yaml >"$tmp/chart-rules.yaml"
cport="$(free_port)"; caport="$(free_port)"
start_bg "$tmp/wsproxy-rules.log" "$BIN_DIR/wsproxy" --listen "127.0.0.1:$cport" --admin "127.0.0.1:$caport" \
  --upstream "ws://127.0.0.1:$bport" --rules "$tmp/chart-rules.yaml" --log-format text
wait_http "http://127.0.0.1:$caport/readyz" 15 "$LAST_PID" || { show_log "$tmp/wsproxy-rules.log"; die "wsproxy rejected the chart's rules file"; }

# Rules keys and metric names in the docs, the chart text and the runbooks.
"$BIN_DIR/wsproxy" --print-default-rules >"$tmp/defaults.yaml" || die "wsproxy --print-default-rules failed"
docs=(README.md rules/README.md metrics/README.md docs/*.md helm/wsproxy/README.md helm/wsproxy/values.yaml
  helm/wsproxy/dashboards/wsproxy.json)
mapfile -t templates < <(cd "$ROOT" && find helm/wsproxy/templates -type f | sort)
(cd "$ROOT" && node "$HERE/doc-names.mjs" "$tmp/defaults.yaml" "$tmp/scraped.txt" "${docs[@]}" "${templates[@]}") \
  || die "the docs name rules keys or metrics that do not exist"

echo "test_metric_names: all $(wc -l <"$tmp/used.txt") metric names used by the dashboard and alerts are exported ($(wc -l <"$tmp/scraped.txt") series names scraped)"
