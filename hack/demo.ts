// make demo: the operator's main job on the built-in two-site lab, with readable live output.
//
//  1. Start a real kube-apiserver + etcd and the two-site lab (built from Go modules, cached).
//  2. Apply deploy/samples (the VMbook topology: two Sites, five relationships, the HR and Finance
//     groups) pointed at the lab's endpoints, and run the operator.
//  3. Show the relationships becoming healthy and the shadow inventory filling in at Site 2.
//  4. Apply a Test FailoverRun of both groups and show its progress live (step, VMs up, elapsed),
//     then its report; then its CleanupTest and the verified-clean report.
//  5. Provision a VM at Site 1 and show its shadow appearing at Site 2.
//  6. With --journey (make demo-journey): the Finance group's planned migration to Site 2, its
//     failback home and its reprotect, from deploy/samples/runs as shipped, each shown live.
//  7. Stop everything on Ctrl-C (or at once with --short, which make test runs; exit 1 on failure).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, SiteType, findCondition } from "../src/api/v1alpha1/index.js";
import type { FailoverRun, Site } from "../src/api/v1alpha1/index.js";
import { renderHtmlReport } from "../src/cli/report/html.js";
import { ConfigMapType, GROUP_LABEL } from "../src/controllers/protection-group/records.js";
import type { ShadowRecord } from "../src/controllers/protection-group/records.js";
import { KubeRest } from "../src/kube/rest.js";
import { RestKubeStore } from "../src/kube/store.js";
import type { KubeObject } from "../src/kube/types.js";
import { ControlPlane } from "../test/harness/control-plane.js";
import { Lab } from "../test/harness/lab.js";
import type { SiteId } from "../test/harness/lab.js";
import { applyAll, readManifests } from "../test/harness/manifests.js";
import { OperatorProcess } from "../test/harness/operator.js";
import { REPO_ROOT, freePort } from "../test/harness/processes.js";

const short = process.argv.includes("--short");
const journey = process.argv.includes("--journey");
const started = Date.now();
const color = process.stdout.isTTY;
const dim = (s: string): string => (color ? `\x1b[2m${s}\x1b[0m` : s);
const bold = (s: string): string => (color ? `\x1b[1m${s}\x1b[0m` : s);
function say(msg: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`${dim(`[${t}s]`)} ${msg}`);
}

let cp: ControlPlane | undefined;
let lab: Lab | undefined;
let op: OperatorProcess | undefined;
let stopping = false;
async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say("stopping the operator, the lab and the control plane…");
    await op?.stop().catch(() => undefined);
    await Promise.all([lab?.stop().catch(() => undefined), cp?.stop().catch(() => undefined)]);
    // The operator's log stays for a post-mortem, except after a short run that passed.
    if (op && short && code === 0) rmSync(dirname(op.logFile), { recursive: true, force: true });
    say(code === 0 ? "stopped cleanly" : `stopped (operator log: ${op?.logFile ?? "none"})`);
  }
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

/** The samples as shipped, with the lab's endpoints, credentials and CA in place of example.com. */
function samples(l: Lab): KubeObject[] {
  const dir = join(REPO_ROOT, "deploy/samples");
  const objs = readManifests(...readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml").map((f) => join(dir, f)));
  for (const o of objs) {
    if (o.kind === "Site") {
      const s = o as Site;
      const ls = l.site(s.metadata.name as SiteId);
      s.spec.vcenter.url = ls.vcenter.url;
      s.spec.vcenter.tls = { caBundle: l.caPem() };
      for (const c of s.spec.storage.controllers) {
        c.url = ls.ontap.url;
        c.tls = { caBundle: l.caPem() };
      }
    }
    if (o.kind === "Secret") {
      const sec = o as KubeObject & { stringData: Record<string, string> };
      const [site, kind] = sec.metadata.name.split("-") as [SiteId, "vcenter" | "ontap"];
      sec.stringData = { username: l.site(site)[kind].username, password: l.site(site)[kind].password };
    }
  }
  return objs;
}

async function main(): Promise<void> {
  say(bold("vmdr demo: VMware DR between two vCenter sites replicated with SnapMirror (the VMbook's lab)"));
  [cp, lab] = await Promise.all([ControlPlane.start(), Lab.start()]);
  say(`kube-apiserver + etcd up at ${cp.server}`);
  for (const id of ["site1", "site2"] as const) say(`${lab.site(id).datacenter}: vCenter ${lab.site(id).vcenter.url}, ONTAP ${lab.site(id).ontap.url} (${lab.site(id).ontap.cluster})`);
  const rest = await KubeRest.create(cp.kubeConfig(), { timeoutMs: 15_000 });
  const kube = new RestKubeStore(rest);
  await applyAll(kube, [{ apiVersion: "v1", kind: "Namespace", metadata: { name: "vmdr-system" } }, ...samples(lab)]);
  say("applied deploy/samples: Sites site1 + site2, 5 ReplicationRelationships, ProtectionGroups hr + finance");
  op = new OperatorProcess("demo", [
    `--kubeconfig=${cp.kubeconfigPath}`,
    "--health-probe-bind-address=0",
    `--metrics-bind-address=127.0.0.1:${await freePort()}`,
    "--ontap-poll-interval=5s",
    "--site-poll-interval=10s",
  ]);
  say(`operator started (logs: ${op.logFile})`);

  const seen = new Map<string, string>();
  const report = (key: string, line: string): void => {
    if (seen.get(key) === line) return;
    seen.set(key, line);
    say(line);
  };
  const deadline = Date.now() + 180_000;
  const watch = async (until: () => Promise<boolean>): Promise<void> => {
    for (;;) {
      if (op && !op.isAlive()) throw new Error(`the operator exited:\n${op.tail(20)}`);
      for (const s of (await kube.list(SiteType)).items) {
        const ready = findCondition(s.status?.conditions, "Ready");
        report(`site/${s.metadata.name}`, `Site ${s.metadata.name}: ${ready?.status === "True" ? `Ready (vCenter ${s.status?.vcenter?.version ?? "?"}, ONTAP ${s.status?.storage?.map((x) => x.version).join(", ") ?? "?"})` : `not ready: ${ready?.reason ?? "pending"}`}`);
      }
      for (const r of (await kube.list(ReplicationRelationshipType, { namespace: "dr" })).items) {
        const h = findCondition(r.status?.conditions, "Healthy")?.status === "True";
        report(`rr/${r.metadata.name}`, `ReplicationRelationship ${r.metadata.name}: ${r.spec.source.volume} → ${r.spec.destination.volume} ${r.status?.state ?? "…"}${h ? ", healthy" : ""}${r.status?.lagSeconds !== undefined ? `, lag ${r.status.lagSeconds}s (RPO ${r.spec.rpo})` : ""}`);
      }
      for (const g of (await kube.list(ProtectionGroupType, { namespace: "dr" })).items) {
        const c = g.status?.counts;
        const ready = findCondition(g.status?.conditions, "Ready");
        const batch = g.status?.preRegistration ? `, pre-registering (${(g.status.preRegistration.cleanupSteps ?? g.status.preRegistration.steps).find((x) => x.state !== "Succeeded" && x.state !== "Skipped")?.name ?? "finishing"})` : "";
        report(
          `pg/${g.metadata.name}`,
          `ProtectionGroup ${g.metadata.name}: ${c ? `${c.members} VMs, ${c.shadowed} shadowed at Site 2, ${c.placeholders} placeholders, ${c.problems} problems` : "…"}${batch}${ready?.status === "True" ? " — Ready" : ""}`,
        );
      }
      if (await until()) return;
      if (Date.now() > deadline) throw new Error("timed out waiting for the demo's next stage");
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const groupsReady = async (): Promise<boolean> => {
    const gs = (await kube.list(ProtectionGroupType, { namespace: "dr" })).items;
    return gs.length === 2 && gs.every((g) => findCondition(g.status?.conditions, "Ready")?.status === "True");
  };
  await watch(groupsReady);
  say(bold("the recovery site is ready: both groups' shadow inventories are in sync at Site 2"));

  say(bold("a DR test of both groups: FlexClones of the replicas at Site 2, VMs on the isolated network, production untouched"));
  const test = await runLive(kube, { type: "Test", protectionGroups: ["hr", "finance"], powerOn: { concurrency: 8 } }, "test-both");
  printReport(test);
  const reportDir = join(REPO_ROOT, ".vmdr", "demo");
  mkdirSync(reportDir, { recursive: true });
  writeFileSync(join(reportDir, "test-both.html"), renderHtmlReport({ run: test, vms: test.status?.vms ?? [] }));
  say(`  the report with its timeline, as vmdr report -o html writes it: ${join(reportDir, "test-both.html")}`);
  if (findCondition(test.status?.conditions, "Succeeded")?.status !== "True") throw new Error("the Test did not succeed");
  say(bold("cleaning the test up: VMs off and unregistered, copies unmounted and detached, clones unmapped and deleted, then verified"));
  const cleanup = await runLive(kube, { type: "CleanupTest", testRun: "test-both" }, "cleanup-test-both");
  printReport(cleanup);
  if (findCondition(cleanup.status?.conditions, "Succeeded")?.status !== "True") throw new Error("the CleanupTest did not succeed");
  await watch(groupsReady);

  const name = "HR-Web1";
  say(`provisioning VM ${name} at Site 1 in "Protection Group 1/Application" on datastore RP2…`);
  const t0 = Date.now();
  await lab.addVm("site1", { name, folder: "Protection Group 1/Application", datastore: "RP2", resourcePool: "HRServers", portgroup: "Site1-LAN", poweredOn: true });
  let record: ShadowRecord | undefined;
  await watch(async () => {
    const cms = (await kube.list(ConfigMapType, { namespace: "dr", labelSelector: `${GROUP_LABEL}=hr` })).items;
    record = cms.flatMap((cm) => Object.values(cm.data ?? {}).map((v) => JSON.parse(v) as ShadowRecord)).find((r) => r.name === name && r.shadowed);
    return record !== undefined;
  });
  say(bold(`${name} shadowed at Site 2 ${((Date.now() - t0) / 1000).toFixed(1)}s after it was created: it will recover into "${record?.shadowFolder}", pool ${record?.resourcePool}`));
  await watch(groupsReady);

  if (journey) {
    const runs = join(REPO_ROOT, "deploy/samples/runs");
    const steps = [
      ["planned-migration-finance.yaml", "a planned migration of Finance to Site 2: guest shutdown at Site 1, last update, break, VMs up at Site 2 re-addressed"],
      ["failback-finance.yaml", "Finance home again: reverse resync, shutdown at Site 2, last update, VMs up at Site 1 with their old addresses"],
      ["reprotect-finance.yaml", "Finance protected again: replication Site 1 → Site 2 resynced, the reverse relationships released"],
    ] as const;
    for (const [file, what] of steps) {
      const sample = readManifests(join(runs, file))[0] as FailoverRun;
      say(bold(what));
      const done = await runLive(kube, sample.spec, sample.metadata.name);
      printReport(done);
      if (findCondition(done.status?.conditions, "Succeeded")?.status !== "True") throw new Error(`${sample.metadata.name} did not succeed`);
      const moved = (done.status?.vms ?? []).filter((v) => v.addresses?.length).map((v) => `${v.name} ${v.addresses?.join(",") ?? ""}`);
      if (moved.length) say(`  addresses as the guests report them: ${moved.join("; ")}`);
    }
    await watch(groupsReady);
    say(bold("Finance is home and protected again: both groups Ready"));
  }

  rest.close();
  if (short) await stopAll(0);
  say("the demo keeps running: try kubectl --kubeconfig " + cp.kubeconfigPath + " get drsite,rr,pg,fr -A. Ctrl-C stops everything.");
  await new Promise(() => undefined);
}

/** Applies a run and shows it live on one line (a progress bar on a terminal) until it ends. */
async function runLive(kube: RestKubeStore, spec: FailoverRun["spec"], name: string): Promise<FailoverRun> {
  await kube.create(FailoverRunType, { metadata: { namespace: "dr", name }, spec });
  const t0 = Date.now();
  let last = "";
  for (const deadline = Date.now() + 300_000; Date.now() < deadline; ) {
    if (op && !op.isAlive()) throw new Error(`the operator exited:\n${op.tail(20)}`);
    const run = await kube.get(FailoverRunType, { namespace: "dr", name });
    const s = run?.status;
    const [up, total] = (s?.progress ?? "0/0").split("/").map(Number) as [number, number];
    const line = `${name}: ${(s?.currentStep ?? "planning").padEnd(18)} VMs ${s?.progress ?? "…"}  ${((Date.now() - t0) / 1000).toFixed(0)}s`;
    if (color) {
      const width = 24;
      const filled = total ? Math.round((up / total) * width) : 0;
      process.stdout.write(`\r${line}  [${"#".repeat(filled)}${".".repeat(width - filled)}]   `);
    } else if (line.replace(/ +\d+s$/, "") !== last) {
      last = line.replace(/ +\d+s$/, "");
      say(line);
    }
    const done = findCondition(s?.conditions, "Succeeded");
    if (run && done && done.status !== "Unknown") {
      if (color) process.stdout.write("\n");
      return run;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`FailoverRun ${name} did not finish within 5 minutes`);
}

/** A run's report: outcome, steps with their durations, RTO and recovery point, what a cleanup removed. */
function printReport(run: FailoverRun): void {
  const s = run.status ?? {};
  const c = findCondition(s.conditions, "Succeeded");
  say(bold(`${run.spec.type} ${run.metadata.name}: ${c?.reason ?? "?"} — ${c?.message ?? ""}`));
  const secs = (a?: string, b?: string): string => (a && b ? `${((Date.parse(b) - Date.parse(a)) / 1000).toFixed(1)}s` : "");
  for (const st of s.steps ?? []) say(`  ${st.state === "Succeeded" ? "✓" : st.state === "Skipped" ? "-" : "✗"} ${st.name.padEnd(20)} ${secs(st.startedAt, st.completedAt).padStart(6)}  ${dim(st.message ?? "")}`);
  if (s.rtoSeconds !== undefined) say(`  RTO ${s.rtoSeconds.toFixed(1)}s for ${s.progress ?? "?"} VMs`);
  for (const p of s.recoveryPoints ?? []) say(`  recovery point ${p.volume}: ${p.snapshot}${p.createTime ? ` (${p.createTime})` : ""}`);
  for (const v of (s.vms ?? []).filter((x) => x.state === "Failed" || x.state === "Skipped")) say(`  ${v.name}: ${v.state} — ${v.message ?? ""}`);
  if (s.cleanup?.removed.length) {
    const kinds = new Map<string, number>();
    for (const r of s.cleanup.removed) kinds.set(`${r.kind} ${r.action.toLowerCase()}`, (kinds.get(`${r.kind} ${r.action.toLowerCase()}`) ?? 0) + 1);
    say(`  removed and verified gone: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}`);
  }
}

main().catch(async (err: unknown) => {
  say(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  await stopAll(1);
});
