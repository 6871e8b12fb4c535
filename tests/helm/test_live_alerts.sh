#!/usr/bin/env bash
# The chart's unregistered-broadcast alert against the real thing:
#   chat-backend --no-auto-register  <-  wsproxy (rules file from the chart's ConfigMap)
#   <- browser-like clients that never send join_chat (python3-websockets)
#   and a real Prometheus on loopback scraping wsproxy's /metrics and evaluating the chart's
#   PrometheusRule groups (windows and `for:` shortened through chart values).
# observe mode: the alert must go pending (or firing). fix mode: it must stay inactive while the
# same clients get their answers. In both, the signals B and D of docs/signals.md, as Prometheus
# computes them from the real counters, read what the doc says: 0 % in observe mode, 100 % in fix
# mode (B read 50 % there before its formula was corrected).
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_helm
need_cmd prometheus prometheus
need_cmd curl
[ -x /usr/bin/python3 ] || die "/usr/bin/python3 is missing"
/usr/bin/python3 -c 'import websockets' 2>/dev/null || die "python3-websockets is missing (scripts/setup)"
tmp="$(mktemp -d)"
trap 'stop_all; rm -rf "$tmp"' EXIT
ALERT=WsproxyUnregisteredBroadcasts
WINDOW=10s   # rate window: 10 scrapes at 1 s
FOR=2s

bport="$(free_port)"
start_bg "$tmp/backend.log" "$BIN_DIR/chat-backend" --listen "127.0.0.1:$bport" --no-auto-register \
  --chunks 2 --chunk-delay-ms 10
backend_pid=$LAST_PID
wait_http "http://127.0.0.1:$bport/healthz" 15 "$backend_pid" || { show_log "$tmp/backend.log"; die "chat-backend did not start"; }

# alerts_state <prometheus port>: state of $ALERT ("inactive" when absent).
alert_state() {
  curl -fsS --max-time 2 "http://127.0.0.1:$1/api/v1/alerts" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
alerts = [a for a in json.load(sys.stdin)["data"]["alerts"] if a["labels"].get("alertname") == sys.argv[1]]
states = {a["state"] for a in alerts}
print("firing" if "firing" in states else "pending" if "pending" in states else "inactive")' "$ALERT" \
    || echo "unknown"
}

# prom_value <prometheus port> <promql>: the first sample's value, or "none".
prom_value() {
  curl -fsS --max-time 2 "http://127.0.0.1:$1/api/v1/query" --data-urlencode "query=$2" 2>/dev/null \
    | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")' || echo "none"
}

run_mode() {
  local mode="$1" d="$tmp/$1"
  mkdir -p "$d/tsdb"
  local pport aport prom
  pport="$(free_port)"; aport="$(free_port)"; prom="$(free_port)"

  # The chart renders both files: the proxy's rules file and the alert rules.
  helm_template --set proxy.mode="$mode" --set prometheusRule.enabled=true \
    --set prometheusRule.alerts.unregisteredBroadcasts.window=$WINDOW \
    --set prometheusRule.alerts.unregisteredBroadcasts.for=$FOR >"$d/rendered.yaml"
  node "$HERE/configmap-data.mjs" "$d/rendered.yaml" wsproxy-rules rules.yaml >"$d/proxy-rules.yaml"
  node "$HERE/extract-rules.mjs" "$d/rendered.yaml" "$d/alert-rules.yaml" >/dev/null
  promtool check rules "$d/alert-rules.yaml" >/dev/null || die "$mode: promtool check rules"
  cat >"$d/prometheus.yml" <<PROM
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $d/alert-rules.yaml
scrape_configs:
  - job_name: wsproxy
    static_configs:
      - targets: ['127.0.0.1:$aport']
PROM

  start_bg "$d/wsproxy.log" "$BIN_DIR/wsproxy" --listen "127.0.0.1:$pport" --admin "127.0.0.1:$aport" \
    --upstream "ws://127.0.0.1:$bport" --mode "$mode" --rules "$d/proxy-rules.yaml" --log-format text
  local proxy_pid=$LAST_PID
  wait_http "http://127.0.0.1:$aport/readyz" 15 "$proxy_pid" || { show_log "$d/wsproxy.log"; die "$mode: wsproxy not ready"; }

  start_bg "$d/prometheus.log" prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/tsdb" \
    --web.listen-address="127.0.0.1:$prom" --log.level=warn
  local prom_pid=$LAST_PID
  wait_http "http://127.0.0.1:$prom/-/ready" 30 "$prom_pid" || { show_log "$d/prometheus.log"; die "$mode: prometheus not ready"; }

  # Clients that never join, for up to 45 s (stopped earlier once the verdict is in).
  start_bg "$d/clients.json" /usr/bin/python3 "$HERE/never_join_client.py" \
    --url "ws://127.0.0.1:$pport/ws/chat?tenant_id=miptech-company" --duration 45 --parallel 4 \
    --answer-timeout 1.5
  local clients_pid=$LAST_PID

  local state verdict="" seen_traffic=0 quiet_since=0 t0=$SECONDS
  local signal_b signal_d
  signal_b="$(cd "$HERE" && node signals.mjs expr "$ROOT/docs/signals.md" B "$WINDOW")"
  signal_d="$(cd "$HERE" && node signals.mjs expr "$ROOT/docs/signals.md" D "$WINDOW")"
  while [ $((SECONDS - t0)) -lt 60 ]; do
    state="$(alert_state "$prom")"
    if [ "$mode" = observe ]; then
      if [ "$state" = pending ] || [ "$state" = firing ]; then verdict="$state"; break; fi
    else
      [ "$state" = pending ] || [ "$state" = firing ] && { verdict="$state"; break; }
      # Count only evaluations where Prometheus had user messages in the window.
      if [ "$(prom_value "$prom" "sum(rate(wsproxy_user_messages_total{registered=\"true\"}[$WINDOW])) > 0")" != none ]; then
        [ $seen_traffic -eq 1 ] || { seen_traffic=1; quiet_since=$SECONDS; }
        # Several `for:` periods of evaluations with traffic and no alert: fix mode holds.
        if [ $((SECONDS - quiet_since)) -ge 12 ]; then verdict=inactive; break; fi
      fi
    fi
    kill -0 "$proxy_pid" 2>/dev/null || { show_log "$d/wsproxy.log"; die "$mode: wsproxy exited"; }
    sleep 1
  done
  local ratio; ratio="$(prom_value "$prom" "$signal_d")"
  local b; b="$(prom_value "$prom" "$signal_b")"
  local injected; injected="$(prom_value "$prom" 'sum(wsproxy_join_chat_total{source="injected"})')"
  local unreg; unreg="$(prom_value "$prom" 'sum(wsproxy_user_messages_total{registered="false"})')"
  local reg; reg="$(prom_value "$prom" 'sum(wsproxy_user_messages_total{registered="true"})')"
  stop_pid "$clients_pid"
  local summary; summary="$(tail -n 1 "$d/clients.json")"
  local answered unanswered ready
  read -r ready answered unanswered < <(printf '%s' "$summary" | /usr/bin/python3 -c '
import json, sys
try:
    s = json.loads(sys.stdin.read())
    print(s["ready"], s["answered"], s["unanswered"])
except Exception:
    print(0, 0, 0)')
  log "$mode: alert=${verdict:-$state} after $((SECONDS - t0))s; signal B=$b D=$ratio; user messages registered=$reg unregistered=$unreg; injected joins=$injected; clients: ${summary:-none}"

  [ "$ready" -gt 0 ] || { cat "$d/clients.json" >&2; die "$mode: no client reached connection_ready"; }
  if [ "$mode" = observe ]; then
    [ "$answered" -eq 0 ] || die "observe: $answered client(s) got an answer without joining (is chat-backend auto-registering?)"
    [ -n "$verdict" ] || { show_log "$d/wsproxy.log"; die "observe: $ALERT never went pending (last state: $state, D: $ratio)"; }
    # Nothing joined and nothing registered: B and D at 0.
    /usr/bin/python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) == 0 and float(sys.argv[2]) == 0 else 1)' "$b" "$ratio" 2>/dev/null \
      || die "observe: signal B=$b and D=$ratio, both should be 0"
  else
    [ "$verdict" = inactive ] || {
      show_log "$d/wsproxy.log"
      if [ $seen_traffic -eq 0 ]; then die "fix: Prometheus never saw registered user messages (registered=$reg)"; fi
      die "fix: $ALERT went ${verdict:-?} (D: $ratio)"
    }
    # Every chat used got a join (ours): B at 100 % (a scrape may fall between the two counts of
    # one injection, hence the margin; the old formula read 50 %), and D at 100 %.
    /usr/bin/python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0.95 and float(sys.argv[2]) == 1 else 1)' "$b" "$ratio" 2>/dev/null \
      || die "fix: signal B=$b and D=$ratio, both should be 1"
    [ "$injected" != none ] && [ "${injected%%.*}" -gt 0 ] || die "fix: no join_chat was injected (injected=$injected)"
    [ "$answered" -gt 0 ] || die "fix: no client got its answer"
    [ "$unanswered" -eq 0 ] || die "fix: $unanswered client(s) got no answer"
  fi
  stop_pid "$prom_pid"
  stop_pid "$proxy_pid"
}

run_mode observe
run_mode fix
echo "test_live_alerts: $ALERT goes pending in observe mode and stays inactive in fix mode"
