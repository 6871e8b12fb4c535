// Prints one data key of a ConfigMap in rendered Helm output (for example the proxy's rules file).
//
//   node configmap-data.mjs rendered.yaml <configmap name> <key>
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const [file, name, key] = process.argv.slice(2);
for (const d of parseAllDocuments(readFileSync(file, "utf8"))) {
  const obj = d.toJSON();
  if (obj?.kind === "ConfigMap" && obj.metadata?.name === name && obj.data?.[key] !== undefined) {
    process.stdout.write(obj.data[key]);
    process.exit(0);
  }
}
console.error(`${file}: no ConfigMap ${name} with key ${key}`);
process.exit(1);
