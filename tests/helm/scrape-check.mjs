// Proves that rendered Helm output makes Prometheus scrape the wsproxy container: follows each
// PodMonitor, ServiceMonitor and prometheus.io/* pod annotation to the pods it selects and checks
// that it lands on the wsproxy container's admin port (the port `--admin` binds), with the token
// that container reads (`--admin-token-file`) when it has one.
//
//   node scrape-check.mjs rendered.yaml <release namespace> <kind>[,<kind>...]
//
// kinds: PodMonitor, ServiceMonitor, annotations. Each listed kind must reach every wsproxy pod
// template; exits 1 otherwise, or when an object of a listed kind misses.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const [file, ns, kindsArg] = process.argv.slice(2);
if (!file || !ns || !kindsArg) {
  console.error("usage: node scrape-check.mjs rendered.yaml <namespace> PodMonitor,ServiceMonitor,annotations");
  process.exit(2);
}
const want = kindsArg.split(",");
const docs = parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJSON()).filter(Boolean);
const nsOf = (o) => o.metadata?.namespace ?? ns;
let failures = 0;
const fail = (m) => {
  console.error(`FAIL ${m}`);
  failures++;
};

// Every pod template with a wsproxy container, with what that container serves.
const pods = [];
for (const o of docs) {
  const tpl = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(o.kind) ? o.spec?.template : null;
  if (!tpl) continue;
  const spec = tpl.spec ?? {};
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    if (c.name !== "wsproxy") continue;
    const args = c.args ?? [];
    const arg = (flag) => {
      const i = args.indexOf(flag);
      return i >= 0 ? args[i + 1] : undefined;
    };
    const admin = arg("--admin") ?? "";
    const adminPort = Number(admin.slice(admin.lastIndexOf(":") + 1));
    const tokenFile = arg("--admin-token-file");
    let tokenSecret = null;
    if (tokenFile) {
      const dir = tokenFile.slice(0, tokenFile.lastIndexOf("/"));
      const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === dir);
      const vol = (spec.volumes ?? []).find((v) => v.name === mount?.name);
      tokenSecret = { name: vol?.secret?.secretName, key: tokenFile.slice(dir.length + 1) };
      if (!tokenSecret.name) fail(`${o.kind}/${o.metadata.name}: --admin-token-file ${tokenFile} is not on a Secret volume`);
    }
    pods.push({
      where: `${o.kind}/${o.metadata.name}`,
      ns: nsOf(o),
      labels: tpl.metadata?.labels ?? {},
      annotations: tpl.metadata?.annotations ?? {},
      container: c,
      adminPort,
      tokenSecret,
    });
  }
}
if (pods.length === 0) {
  console.error("FAIL no pod template with a wsproxy container");
  process.exit(1);
}
const matches = (sel, labels) => Object.entries(sel ?? {}).every(([k, v]) => labels[k] === v) && Object.keys(sel ?? {}).length > 0;
const portByName = (c, name) => (c.ports ?? []).find((p) => p.name === name);

function checkAuth(what, auth, pod) {
  if (!pod.tokenSecret) return true;
  if (!auth) return fail(`${what}: ${pod.where} needs a token (--admin-token-file) but the monitor sends none`), false;
  const { name, key } = auth.credentials ?? {};
  if (name !== pod.tokenSecret.name || key !== pod.tokenSecret.key)
    return fail(`${what}: sends Secret ${name}/${key}, ${pod.where} reads ${pod.tokenSecret.name}/${pod.tokenSecret.key}`), false;
  return true;
}

const reached = new Map(want.map((k) => [k, new Set()]));
for (const o of docs) {
  if (o.kind === "PodMonitor" && want.includes("PodMonitor")) {
    const what = `PodMonitor/${o.metadata.name}`;
    const nss = o.spec.namespaceSelector?.matchNames ?? [nsOf(o)];
    const sel = o.spec.selector?.matchLabels;
    const hit = pods.filter((p) => nss.includes(p.ns) && matches(sel, p.labels));
    if (hit.length === 0) fail(`${what}: selector ${JSON.stringify(sel)} matches no wsproxy pod`);
    for (const p of hit)
      for (const ep of o.spec.podMetricsEndpoints ?? []) {
        const port = portByName(p.container, ep.port);
        if (!port) fail(`${what}: ${p.where}'s wsproxy container has no port named ${ep.port}`);
        else if (port.containerPort !== p.adminPort)
          fail(`${what}: port ${ep.port} is ${port.containerPort}, but --admin binds ${p.adminPort}`);
        else if ((ep.path ?? "/metrics") !== "/metrics") fail(`${what}: path ${ep.path}`);
        else if (checkAuth(what, ep.authorization, p)) {
          reached.get("PodMonitor").add(p.where);
          console.log(`ok   ${what} -> ${p.where} port ${ep.port} (${port.containerPort})${p.tokenSecret ? " with the token" : ""}`);
        }
      }
  }
  if (o.kind === "ServiceMonitor" && want.includes("ServiceMonitor")) {
    const what = `ServiceMonitor/${o.metadata.name}`;
    const nss = o.spec.namespaceSelector?.matchNames ?? [nsOf(o)];
    const svcs = docs.filter((s) => s.kind === "Service" && nss.includes(nsOf(s)) && matches(o.spec.selector?.matchLabels, s.metadata.labels ?? {}));
    if (svcs.length === 0) fail(`${what}: selects no Service`);
    for (const s of svcs)
      for (const ep of o.spec.endpoints ?? []) {
        const sp = (s.spec.ports ?? []).find((x) => x.name === ep.port);
        if (!sp) {
          fail(`${what}: Service/${s.metadata.name} has no port ${ep.port}`);
          continue;
        }
        const hit = pods.filter((p) => p.ns === nsOf(s) && matches(s.spec.selector, p.labels));
        if (hit.length === 0) fail(`${what}: Service/${s.metadata.name} selects no wsproxy pod`);
        for (const p of hit) {
          const port = typeof sp.targetPort === "string" ? portByName(p.container, sp.targetPort)?.containerPort : sp.targetPort;
          if (port !== p.adminPort) fail(`${what}: Service/${s.metadata.name} targets ${sp.targetPort}, not the admin port ${p.adminPort}`);
          else if (checkAuth(what, ep.authorization, p)) {
            reached.get("ServiceMonitor").add(p.where);
            console.log(`ok   ${what} -> Service/${s.metadata.name} -> ${p.where} port ${port}${p.tokenSecret ? " with the token" : ""}`);
          }
        }
      }
  }
}
if (want.includes("annotations")) {
  for (const p of pods) {
    const a = p.annotations;
    if (a["prometheus.io/scrape"] !== "true") continue;
    if (Number(a["prometheus.io/port"]) !== p.adminPort) fail(`annotations: ${p.where} prometheus.io/port ${a["prometheus.io/port"]} is not the admin port ${p.adminPort}`);
    else if ((a["prometheus.io/path"] ?? "/metrics") !== "/metrics") fail(`annotations: ${p.where} path ${a["prometheus.io/path"]}`);
    else {
      reached.get("annotations").add(p.where);
      console.log(`ok   annotations -> ${p.where} port ${p.adminPort}`);
    }
  }
}
// Every Secret a monitor sends must exist in the output (or be named by the user: existingSecret).
for (const p of pods)
  if (p.tokenSecret && !docs.some((o) => o.kind === "Secret" && o.metadata.name === p.tokenSecret.name))
    console.log(`note ${p.where} reads its token from Secret ${p.tokenSecret.name}, not rendered here (an existing Secret)`);
for (const [k, set] of reached)
  for (const p of pods) if (!set.has(p.where)) fail(`${k}: nothing of this kind scrapes ${p.where}`);
process.exit(failures ? 1 : 0);
