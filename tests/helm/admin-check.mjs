// The chart's admin-port invariants, on rendered output:
//  - every wsproxy container whose --admin address is not loopback reads a token
//    (--admin-token-file) from a Secret volume, and that Secret is rendered with the key (or is
//    the existing Secret named on the command line);
//  - every NetworkPolicy rule that admits the admin port lists its peers (a rule without `from`
//    would admit every source).
//
//   node admin-check.mjs rendered.yaml [existing-secret-name]
// Prints one line per wsproxy container: "<where> admin=<addr> token=<secret>/<key>|none".
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const [file, existing] = process.argv.slice(2);
const docs = parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJSON()).filter(Boolean);
let failures = 0;
const fail = (m) => {
  console.error(`FAIL ${m}`);
  failures++;
};
const loopback = (host) => /^127\./.test(host) || host === "[::1]" || host === "::1" || host === "localhost";
let containers = 0;
for (const o of docs) {
  const spec = o.spec?.template?.spec;
  if (!spec) continue;
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    if (c.name !== "wsproxy") continue;
    containers++;
    const args = c.args ?? [];
    const at = (f) => (args.indexOf(f) >= 0 ? args[args.indexOf(f) + 1] : undefined);
    const admin = at("--admin") ?? "";
    const host = admin.slice(0, admin.lastIndexOf(":"));
    const tokenFile = at("--admin-token-file");
    const where = `${o.kind}/${o.metadata.name}`;
    let token = "none";
    if (tokenFile) {
      const dir = tokenFile.slice(0, tokenFile.lastIndexOf("/"));
      const key = tokenFile.slice(dir.length + 1);
      const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === dir);
      const secret = (spec.volumes ?? []).find((v) => v.name === mount?.name)?.secret?.secretName;
      if (!secret) fail(`${where}: ${tokenFile} is not on a Secret volume`);
      const rendered = docs.find((d) => d.kind === "Secret" && d.metadata.name === secret);
      if (rendered && !(rendered.data?.[key] || rendered.stringData?.[key])) fail(`${where}: Secret ${secret} has no key ${key}`);
      if (!rendered && secret !== existing) fail(`${where}: Secret ${secret} is neither rendered nor the existing one`);
      token = `${secret}/${key}`;
    }
    if (!loopback(host) && !tokenFile) fail(`${where}: admin port ${admin} binds beyond loopback without a token`);
    console.log(`${where} admin=${admin} token=${token}`);
  }
}
for (const o of docs.filter((d) => d.kind === "NetworkPolicy"))
  for (const r of o.spec.ingress ?? [])
    if ((r.ports ?? []).some((p) => p.port === "admin") && !(r.from ?? []).length)
      fail(`NetworkPolicy/${o.metadata.name}: a rule admits the admin port from everywhere`);
if (containers === 0) fail("no wsproxy container");
process.exit(failures ? 1 : 0);
