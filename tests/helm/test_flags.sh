#!/usr/bin/env bash
# Every command-line flag that the chart can render for wsproxy (all options switched on) is one
# that the built binary lists in --help, and the default rendering's arguments start the binary.
. "$(dirname "$0")/lib.sh"
require_binaries
ensure_helm
tmp="$(mktemp -d)"
trap 'stop_all; rm -rf "$tmp"' EXIT

"$BIN_DIR/wsproxy" --help >"$tmp/help.txt" 2>&1 || die "wsproxy --help failed"
helm_template -f "$CHART/ci/monitoring-values.yaml" --set proxy.tls.enabled=true --set proxy.tls.secretName=tls \
  --set mode=standalone --set proxy.upstream=wss://backend.chat.svc:8443 \
  --set proxy.upstreamCA.secretName=ca --set admin.existingSecret=tok --set proxy.tapPayloads=true \
  --set proxy.threads=2 --set proxy.maxConnections=100 \
  --set proxy.sharedState.url=redis://redis.chat.svc:6379 --set proxy.sharedState.existingSecret=redis >"$tmp/all-on.yaml"
# The wsproxy container's args, one per line.
(cd "$HERE" && node --input-type=module -e '
import { readFileSync } from "node:fs"; import { parseAllDocuments } from "yaml";
for (const d of parseAllDocuments(readFileSync(process.argv[1], "utf8"))) {
  const o = d.toJSON(); if (o?.kind !== "Deployment") continue;
  const s = o.spec.template.spec;
  for (const c of [...(s.initContainers ?? []), ...s.containers]) if (c.name === "wsproxy") console.log(c.args.join("\n"));
}' "$tmp/all-on.yaml") >"$tmp/args.txt"
[ -s "$tmp/args.txt" ] || die "no wsproxy args rendered"
missing=0
for flag in $(grep -E '^--' "$tmp/args.txt" | sort -u); do
  if grep -qE -- "(^|[ ,])$flag([ =]|$)" "$tmp/help.txt"; then
    log "ok: $flag"
  else
    log "FAIL: the chart renders $flag but 'wsproxy --help' does not list it"; missing=$((missing + 1))
  fi
done
[ "$missing" -eq 0 ] || die "$missing flag(s) rendered by the chart are unknown to the binary"
echo "test_flags: every flag the chart renders is known to wsproxy"
