// Docs that cannot drift: every rules key and every metric named in the given files must exist.
//
//   node doc-names.mjs <default-rules.yaml> <scraped-names.txt> file...
//
// default-rules.yaml is `wsproxy --print-default-rules`; scraped-names.txt holds one series name
// per line from a real /metrics scrape. In the files:
//  - a rules key is `rules.config.<path>` (chart values) or `<section>.<path>` where the section
//    is one of the rules file's top-level sections (paths, messages, policy, limits, rest,
//    rejoin); `<section>.*` names the whole section. Names of source files (rest.hpp, ...) and
//    the key quoted in an example error (`unknown key "policy.grace"`) are not keys;
//  - a metric is any wsproxy_* or process_* identifier (recording-rule names such as
//    wsproxy:signal_b:ratio contain colons and are not matched).
// Old flat key names (chat_id_paths, client_id_paths) are refused wherever they appear.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { parse } from "yaml";

const [rulesFile, scrapedFile, ...files] = process.argv.slice(2);
if (!rulesFile || !scrapedFile || files.length === 0) {
  console.error("usage: node doc-names.mjs default-rules.yaml scraped-names.txt file...");
  process.exit(2);
}
const rules = parse(readFileSync(rulesFile, "utf8"));
const sections = Object.keys(rules).filter((k) => rules[k] && typeof rules[k] === "object" && !Array.isArray(rules[k]));
const scraped = new Set(readFileSync(scrapedFile, "utf8").split("\n").filter(Boolean));
// Identifiers with a wsproxy_ prefix that are not metrics, and where they are used.
const NOT_METRICS = new Map([
  ["wsproxy_rules", "the rules engine's CMake library (rules/README.md)"],
]);
const OLD_KEYS = ["chat_id_paths", "client_id_paths"];

function keyExists(path) {
  let node = rules;
  for (const part of path.split(".")) {
    if (part === "*") return node !== null && typeof node === "object";
    if (node === null || typeof node !== "object" || Array.isArray(node) || !(part in node)) return false;
    node = node[part];
  }
  return true;
}
function metricExists(name) {
  if (scraped.has(name)) return true;
  // A histogram is named by its family or by one of its series.
  return ["_bucket", "_sum", "_count"].some((s) => scraped.has(name + s));
}

let failures = 0;
let keys = 0;
let metrics = 0;
const sectionRe = new RegExp(`(?<![\\w.$/-])(?:rules\\.config\\.)?((?:${sections.join("|")})(?:\\.(?:[a-z_][a-z0-9_]*|\\*))+)`, "g");
for (const file of files) {
  const name = relative(process.cwd(), file);
  const lines = readFileSync(file, "utf8").split("\n");
  lines.forEach((line, i) => {
    const at = `${name}:${i + 1}`;
    for (const m of line.matchAll(/rules\.config\.([A-Za-z_][A-Za-z0-9_.]*[A-Za-z0-9_])/g)) {
      keys++;
      if (!keyExists(m[1])) {
        console.error(`${at}: rules.config.${m[1]}: no key ${m[1]} in --print-default-rules`);
        failures++;
      }
    }
    for (const m of line.matchAll(sectionRe)) {
      const path = m[1];
      if (/\.(hpp|cpp|h|md|yaml|json|py|sh|mjs)$/.test(path)) continue;
      // An example of the error an unknown key gets is not a key.
      if (/unknown key "$/.test(line.slice(0, m.index))) continue;
      keys++;
      if (!keyExists(path)) {
        console.error(`${at}: ${path}: no such key in --print-default-rules`);
        failures++;
      }
    }
    for (const k of OLD_KEYS)
      if (new RegExp(`\\b${k}\\b`).test(line)) {
        console.error(`${at}: ${k} is an old key name (paths.${k.replace("_paths", "")} now)`);
        failures++;
      }
    for (const m of line.matchAll(/(?<![\w:$])((?:wsproxy|process)_[a-z0-9_]*[a-z0-9])(?![\w:])/g)) {
      if (NOT_METRICS.has(m[1])) continue;
      metrics++;
      if (!metricExists(m[1])) {
        console.error(`${at}: ${m[1]} is not in a real /metrics scrape`);
        failures++;
      }
    }
  });
}
console.log(`${files.length} files: ${keys} rules key mentions, ${metrics} metric mentions checked; ${failures} unknown`);
process.exit(failures ? 1 : 0);
