// Checks the Grafana dashboard without Grafana:
//  - every panel query and every templating query becomes a recording rule in <out.yaml>, with
//    Grafana's variables replaced by values Prometheus accepts, so that `promtool check rules`
//    parses each one (promtool has no offline "parse this query" command);
//  - one unit per axis: every timeseries and stat panel sets fieldConfig.defaults.unit, no
//    override changes it, and a panel does not mix per-second rates with levels (a gauge, a
//    count, a ratio of gauges), which would need two units;
//  - every panel has a title and a description, and panel ids are unique.
//
//   node dashboard-check.mjs dashboard.json out-rules.yaml
import { readFileSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";

const [file, out] = process.argv.slice(2);
if (!file || !out) {
  console.error("usage: node dashboard-check.mjs dashboard.json out-rules.yaml");
  process.exit(2);
}
const d = JSON.parse(readFileSync(file, "utf8"));
let failures = 0;
const fail = (m) => {
  console.error(`FAIL ${m}`);
  failures++;
};

// Grafana's variables, as Prometheus would see them after interpolation.
const interpolate = (e) =>
  e
    .replaceAll("$__rate_interval", "5m")
    .replaceAll("$__interval", "1m")
    .replaceAll("$__range", "6h")
    .replace(/\$\{?(namespace|job|pod)\}?/g, ".*");

const rules = [];
const panels = [];
(function walk(ps) {
  for (const p of ps ?? []) {
    panels.push(p);
    walk(p.panels);
  }
})(d.panels);

const ids = new Set();
for (const p of panels) {
  if (ids.has(p.id)) fail(`panel id ${p.id} is used twice`);
  ids.add(p.id);
  if (!p.title) fail(`panel ${p.id} has no title`);
  if (p.type === "row") continue;
  if (!p.description) fail(`panel "${p.title}" has no description`);
  const targets = p.targets ?? [];
  if (targets.length === 0) fail(`panel "${p.title}" has no query`);
  targets.forEach((t, i) => {
    if (!t.expr) return fail(`panel "${p.title}" target ${t.refId ?? i} has no expr`);
    rules.push({ record: `dashboard:panel_${p.id}_${(t.refId ?? String(i)).toLowerCase()}`, expr: interpolate(t.expr) });
  });
  if (p.type === "timeseries" || p.type === "stat") {
    const unit = p.fieldConfig?.defaults?.unit;
    if (!unit) fail(`panel "${p.title}" sets no unit`);
    for (const o of p.fieldConfig?.overrides ?? [])
      if ((o.properties ?? []).some((x) => x.id === "unit" || x.id === "custom.axisPlacement"))
        fail(`panel "${p.title}" has an override that changes the unit or adds an axis`);
    const kinds = new Set(targets.map((t) => (/\b(rate|irate|increase|deriv)\s*\(/.test(t.expr ?? "") ? "rate" : "level")));
    if (kinds.size > 1) fail(`panel "${p.title}" mixes per-second rates with levels on one axis`);
  }
}
for (const v of d.templating?.list ?? []) {
  if (v.type !== "query") continue;
  const q = typeof v.query === "string" ? v.query : v.query?.query;
  const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(q ?? "");
  if (!m) {
    fail(`variable ${v.name}: expected label_values(<selector>, <label>), got ${q}`);
    continue;
  }
  rules.push({ record: `dashboard:variable_${v.name}`, expr: interpolate(m[1]) });
}
writeFileSync(out, stringify({ groups: [{ name: "dashboard-queries", rules }] }, { lineWidth: 0 }));
console.log(`${out}: ${rules.length} queries from ${panels.length} panels`);
process.exit(failures ? 1 : 0);
