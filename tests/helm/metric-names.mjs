// Prints, one per line, every wsproxy_* and process_* metric name used by the Grafana dashboard's queries and
// by the alert expressions of a rules file.
//
//   node metric-names.mjs dashboard.json rules.yaml
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const [dashboardFile, rulesFile] = process.argv.slice(2);
if (!dashboardFile || !rulesFile) {
  console.error("usage: node metric-names.mjs dashboard.json rules.yaml");
  process.exit(2);
}
const names = new Set();
const collect = (expr) => {
  for (const m of String(expr).matchAll(/\b(?:wsproxy|process)_[a-zA-Z0-9_]+/g)) names.add(m[0]);
};
// Walk the dashboard: panel targets (expr) and templating queries.
(function walk(node) {
  if (Array.isArray(node)) return node.forEach(walk);
  if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if ((k === "expr" || k === "query" || k === "definition") && typeof v === "string") collect(v);
      else walk(v);
    }
  }
})(JSON.parse(readFileSync(dashboardFile, "utf8")));
for (const g of parse(readFileSync(rulesFile, "utf8")).groups ?? []) {
  for (const r of g.rules ?? []) collect(r.expr);
}
if (names.size === 0) {
  console.error("no metric names found");
  process.exit(1);
}
console.log([...names].sort().join("\n"));
