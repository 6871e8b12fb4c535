// Validates rendered Helm output against the Kubernetes and Prometheus Operator schemas.
//
//   node validate-manifests.mjs [--inject-unknown] rendered.yaml...
//
// Two checks, because each misses what the other catches:
//  1. kubernetes-models' JSON-schema validation (types, enums, required fields), which accepts
//     unknown fields;
//  2. a TypeScript excess-property check: every object becomes an object literal typed with the
//     same packages' interfaces, and `tsc --noEmit` rejects any field the schema does not know.
// --inject-unknown adds a misspelled container field, to prove that check 2 really bites.
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const inject = args.includes("--inject-unknown");
const files = args.filter((a) => !a.startsWith("--"));
if (files.length === 0) {
  console.error("usage: node validate-manifests.mjs [--inject-unknown] rendered.yaml...");
  process.exit(2);
}

// apiVersion -> module prefix of the model classes.
function modulePath(apiVersion, kind) {
  if (apiVersion === "monitoring.coreos.com/v1") {
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

const docs = [];
for (const file of files) {
  for (const d of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (d.errors.length) throw new Error(`${file}: YAML error: ${d.errors[0].message}`);
    const obj = d.toJSON();
    if (obj == null) continue;
    docs.push({ file, obj });
  }
}
if (docs.length === 0) {
  console.error("no objects to validate");
  process.exit(1);
}

if (inject) {
  const dep = docs.find((d) => d.obj.kind === "Deployment");
  if (!dep) throw new Error("--inject-unknown needs a Deployment");
  const spec = dep.obj.spec.template.spec;
  (spec.initContainers ?? spec.containers)[0].imagePullPolicey = "Always";
}

let failures = 0;
for (const { file, obj } of docs) {
  const where = `${file}: ${obj.kind}/${obj.metadata?.name}`;
  let mod;
  try {
    mod = await import(modulePath(obj.apiVersion, obj.kind));
  } catch (e) {
    console.error(`FAIL ${where}: no model for ${obj.apiVersion} ${obj.kind}`);
    failures++;
    continue;
  }
  try {
    new mod[obj.kind](obj).validate();
    console.log(`ok   ${where} (schema)`);
  } catch (e) {
    console.error(`FAIL ${where} (schema): ${e.message}`);
    for (const err of e.errors ?? []) console.error(`     ${err.instancePath} ${err.message}`);
    failures++;
  }
}

// Excess-property check. The generated file lives under tests/helm/.cache so that module
// resolution finds tests/helm/node_modules.
const cacheDir = join(here, ".cache");
mkdirSync(cacheDir, { recursive: true });
const dir = mkdtempSync(join(cacheDir, "tscheck-"));
const imports = new Map();
let body = "";
docs.forEach(({ file, obj }, i) => {
  const iface = `I${obj.kind}`;
  const alias = `${iface}_${imports.size}`;
  const key = `${obj.apiVersion}/${obj.kind}`;
  if (!imports.has(key)) imports.set(key, { alias, path: modulePath(obj.apiVersion, obj.kind), iface });
  body += `// ${file}: ${obj.kind}/${obj.metadata?.name}\n`;
  body += `export const doc${i}: ${imports.get(key).alias} = ${JSON.stringify(obj, null, 2)};\n\n`;
});
let head = "";
for (const { alias, path, iface } of imports.values()) {
  head += `import type { ${iface} as ${alias} } from "${path}";\n`;
}
writeFileSync(join(dir, "manifests.ts"), head + "\n" + body);
writeFileSync(
  join(dir, "tsconfig.json"),
  JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      module: "nodenext",
      moduleResolution: "nodenext",
      target: "es2022",
      skipLibCheck: true,
      types: [],
    },
    files: ["manifests.ts"],
  }),
);
const tsc = spawnSync(process.execPath, [join(here, "node_modules/typescript/bin/tsc"), "-p", dir], {
  encoding: "utf8",
});
if (tsc.status !== 0) {
  console.error(`FAIL excess-property check (tsc --noEmit):\n${tsc.stdout}${tsc.stderr}`);
  failures++;
} else {
  console.log(`ok   ${docs.length} objects pass tsc --noEmit (no unknown fields)`);
}
rmSync(dir, { recursive: true, force: true });

if (failures) {
  console.error(`${failures} validation failure(s)`);
  process.exit(1);
}
