// Writes the spec.groups of every PrometheusRule in rendered Helm output as a Prometheus rules file.
//
//   node extract-rules.mjs rendered.yaml out-rules.yaml [--strip-annotations]
//
// --strip-annotations drops the alerts' annotations: promtool test rules compares them verbatim,
// and the unit tests assert expressions, durations and labels (promtool check rules still
// parses the annotation templates of the full file).
import { readFileSync, writeFileSync } from "node:fs";
import { parseAllDocuments, stringify } from "yaml";

const [input, output, ...flags] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node extract-rules.mjs rendered.yaml out-rules.yaml [--strip-annotations]");
  process.exit(2);
}
const groups = [];
for (const d of parseAllDocuments(readFileSync(input, "utf8"))) {
  const obj = d.toJSON();
  if (obj?.kind === "PrometheusRule") groups.push(...(obj.spec?.groups ?? []));
}
if (groups.length === 0) {
  console.error(`${input}: no PrometheusRule with spec.groups`);
  process.exit(1);
}
if (flags.includes("--strip-annotations")) {
  for (const g of groups) for (const r of g.rules ?? []) delete r.annotations;
}
writeFileSync(output, stringify({ groups }, { lineWidth: 0 }));
const alerts = groups.flatMap((g) => (g.rules ?? []).filter((r) => r.alert).map((r) => r.alert));
console.log(`${output}: ${groups.length} group(s), alerts: ${alerts.join(", ")}`);
