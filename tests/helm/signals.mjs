// The five signals (A-E) as docs/signals.md defines them, and checks that every other place
// uses the same formulas.
//
//   node signals.mjs rules <signals.md> <window> <out.yaml>
//       writes the formulas as recording rules wsproxy:signal_<x>:ratio (E: :increase), for
//       `promtool test rules`
//   node signals.mjs expr <signals.md> <letter> <window>
//       prints one formula on one line, with its window
//   node signals.mjs check <signals.md> dashboard <dashboard.json>
//       the stat panel titled "A · ..." (and so on) queries exactly formula A, and the
//       "Signals over time" panel has A-D
//   node signals.mjs check <signals.md> alerts <rules.yaml>
//       WsproxyClientIdMissing uses A, WsproxyUnregisteredBroadcasts D, WsproxyIsolationViolation E
//   node signals.mjs check <signals.md> markdown <file.md>...
//       every table row that starts with "| A · " (and so on) shows formula A in backticks,
//       and the file has a row for each signal
//
// "Exactly" means equal after normalisation: range selectors become [W], `by (...)` clauses,
// namespace/job/pod/instance matchers and whitespace are removed. Those are the only things a
// place may add (its rate window, its filters, its aggregation labels).
import { readFileSync, writeFileSync } from "node:fs";
import { parse, stringify } from "yaml";

const LETTERS = ["A", "B", "C", "D", "E"];
const FILTER_LABELS = new Set(["namespace", "job", "pod", "instance"]);

export function readSignals(file) {
  const text = readFileSync(file, "utf8");
  const out = {};
  const re = /^### ([A-E]) · ([^\n]+)\n+```promql\n([\s\S]*?)```/gm;
  for (const m of text.matchAll(re)) out[m[1]] = { name: m[2].trim(), expr: m[3].trim() };
  for (const l of LETTERS) if (!out[l]) throw new Error(`${file}: no "### ${l} · ..." section with a promql block`);
  return out;
}

export function normalise(expr) {
  let e = String(expr);
  e = e.replace(/\[[^\]]*\]/g, "[W]");
  e = e.replace(/\b(by|without)\s*\([^)]*\)/g, "");
  e = e.replace(/\{([^}]*)\}/g, (_, inner) => {
    const kept = inner
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s && !FILTER_LABELS.has(s.split(/[=!~]/)[0].trim()));
    return kept.length ? `{${kept.join(",")}}` : "";
  });
  return e.replace(/\s+/g, "");
}

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exitCode = 1;
}

const [cmd, signalsFile, ...rest] = process.argv.slice(2);
if (!cmd || !signalsFile) {
  console.error("usage: node signals.mjs rules|check <signals.md> ...");
  process.exit(2);
}
const signals = readSignals(signalsFile);
const norm = Object.fromEntries(LETTERS.map((l) => [l, normalise(signals[l].expr)]));

if (cmd === "expr") {
  const [letter, window] = rest;
  if (!signals[letter]) {
    console.error(`no signal ${letter}`);
    process.exit(2);
  }
  console.log(signals[letter].expr.replaceAll("$window", window).replace(/\s*\n\s*/g, " "));
} else if (cmd === "rules") {
  const [window, out] = rest;
  const rules = LETTERS.map((l) => ({
    record: `wsproxy:signal_${l.toLowerCase()}:${l === "E" ? "increase" : "ratio"}`,
    expr: signals[l].expr.replaceAll("$window", window),
  }));
  writeFileSync(out, stringify({ groups: [{ name: "wsproxy-signals", rules }] }, { lineWidth: 0 }));
  console.log(`${out}: ${rules.map((r) => r.record).join(", ")}`);
} else if (cmd === "check") {
  const [what, ...files] = rest;
  if (what === "dashboard") {
    const d = JSON.parse(readFileSync(files[0], "utf8"));
    const panels = [];
    (function walk(ps) {
      for (const p of ps ?? []) {
        panels.push(p);
        walk(p.panels);
      }
    })(d.panels);
    for (const l of LETTERS) {
      const title = `${l} · ${signals[l].name}`;
      const p = panels.filter((x) => x.type === "stat" && x.title === title);
      if (p.length !== 1) {
        fail(`dashboard: expected one stat panel titled "${title}", found ${p.length}`);
        continue;
      }
      const exprs = (p[0].targets ?? []).map((t) => t.expr);
      if (exprs.length !== 1 || normalise(exprs[0]) !== norm[l])
        fail(`dashboard: panel "${title}" does not query formula ${l}:\n  ${exprs.join("\n  ")}\n  normalised: ${exprs.map(normalise).join(" ")}\n  expected:   ${norm[l]}`);
      else console.log(`ok   dashboard: ${title}`);
    }
    const over = panels.filter((x) => x.type === "timeseries" && /^Signals A.D over time/.test(x.title ?? ""));
    if (over.length !== 1) fail(`dashboard: expected one "Signals A–D over time" panel, found ${over.length}`);
    else {
      const got = (over[0].targets ?? []).map((t) => normalise(t.expr));
      for (const l of ["A", "B", "C", "D"])
        if (!got.includes(norm[l])) fail(`dashboard: "${over[0].title}" lacks formula ${l}`);
      console.log(`ok   dashboard: ${over[0].title}`);
    }
  } else if (what === "alerts") {
    const uses = { WsproxyClientIdMissing: "A", WsproxyUnregisteredBroadcasts: "D", WsproxyIsolationViolation: "E" };
    const rules = (parse(readFileSync(files[0], "utf8")).groups ?? []).flatMap((g) => g.rules ?? []);
    for (const [alert, l] of Object.entries(uses)) {
      const r = rules.find((x) => x.alert === alert);
      if (!r) {
        fail(`alerts: ${alert} not found`);
        continue;
      }
      if (!normalise(r.expr).includes(norm[l]))
        fail(`alerts: ${alert} does not use formula ${l}:\n  ${r.expr}\n  normalised: ${normalise(r.expr)}\n  expected:   ${norm[l]}`);
      else console.log(`ok   alerts: ${alert} uses ${l}`);
    }
  } else if (what === "markdown") {
    for (const f of files) {
      const lines = readFileSync(f, "utf8").split("\n");
      for (const l of LETTERS) {
        const rows = lines.filter((x) => x.startsWith(`| ${l} · `));
        if (rows.length === 0) fail(`${f}: no table row for signal ${l}`);
        for (const row of rows) {
          const spans = [...row.matchAll(/`([^`]+)`/g)].map((m) => normalise(m[1]));
          if (!spans.includes(norm[l]))
            fail(`${f}: the row for ${l} does not show formula ${l} (expected \`${signals[l].expr.replace(/\s+/g, " ")}\`):\n  ${row}`);
          else console.log(`ok   ${f}: ${l}`);
        }
      }
    }
  } else {
    console.error(`unknown check: ${what}`);
    process.exit(2);
  }
} else {
  console.error(`unknown command: ${cmd}`);
  process.exit(2);
}
