// Benchmark of the ProtectionGroup controller (issue 6) against the lab. Prints numbers; asserts
// nothing. BENCH_VMS_PER_GROUP (default 5000: 10,000 protected VMs) scales part A.
//   A. 10,000 protected VMs: time to Ready, steady-state vCenter and ONTAP calls per minute with
//      nothing changing, operator memory (with the deployed heap flags), and shadow latency (VM created at Site 1 → its shadow record in the
//      group's ConfigMaps) over 200 VMs.
//   B. Placeholder latency: 100 new VMs in a pre-registering group, from the SnapMirror transfer
//      that carries them to the replica to all 100 registered at Site 2.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { ProtectionGroupType, ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { ProtectionGroup } from "../../src/api/v1alpha1/index.js";
import { ConfigMapType, GROUP_LABEL } from "../../src/controllers/protection-group/records.js";
import type { ConfigMap, ShadowRecord } from "../../src/controllers/protection-group/records.js";
import { ClientNodeWatcher } from "../../src/kube/watch.js";
import { Informer } from "../../src/runtime/informer.js";
import { systemClock } from "../../src/util/clock.js";
import { NamespaceType } from "../harness/kube.js";
import { REPO_ROOT } from "../harness/processes.js";
import { World } from "../harness/world.js";

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const perGroup = Number(process.env.BENCH_VMS_PER_GROUP ?? 5000);

async function setup(w: World, preRegister: boolean): Promise<void> {
  await w.kube.create(NamespaceType, { metadata: { name: "dr" } });
  await w.applySites();
  for (const vol of ["RG1FV1", "RG1FV2", "RG2FV1", "RG2FV2", "RG2FV3"]) {
    await w.kube.create(ReplicationRelationshipType, {
      metadata: { namespace: "dr", name: vol.toLowerCase() },
      spec: { source: { siteRef: "site1", volume: vol }, destination: { siteRef: "site2", volume: `${vol}_SM` }, rpo: "1h" },
    });
  }
  const group = (name: string, folder: string, refs: string[]): ProtectionGroup => ({
    metadata: { namespace: "dr", name },
    spec: {
      protectedSiteRef: "site1",
      recoverySiteRef: "site2",
      replicationRefs: refs,
      vms: { folder },
      shadow: { rootFolder: "DR", folderNameMapping: { prefix: "Site1-" }, resourcePool: `Site1-${name}`, preRegister, preRegisterDebounce: "1s" },
    },
  });
  await w.kube.create(ProtectionGroupType, group("hr", "Protection Group 1", ["rg1fv1", "rg1fv2"]));
  await w.kube.create(ProtectionGroupType, group("finance", "Protection Group 2", ["rg2fv1", "rg2fv2", "rg2fv3"]));
}

async function groupsReady(w: World): Promise<void> {
  for (;;) {
    const gs = (await w.kube.list(ProtectionGroupType, { namespace: "dr" })).items;
    if (gs.length === 2 && gs.every((g) => findCondition(g.status?.conditions, "Ready")?.status === "True")) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** External calls so far, per system. */
async function callsBySystem(w: World): Promise<Map<string, number>> {
  const sums = new Map<string, number>();
  for (const m of (await w.metrics()).matchAll(/^vmdr_external_requests_total\{.*system="(\w+)".*\} (\S+)$/gm)) {
    sums.set(m[1]!, (sums.get(m[1]!) ?? 0) + Number(m[2]));
  }
  return sums;
}

const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);

/** The operator's heap flags as deployed (deploy/manager/deployment.yaml), so memory is measured as it runs. */
function deployedNodeOptions(): string {
  const m = /name: NODE_OPTIONS\s+value: (.+)/.exec(readFileSync(join(REPO_ROOT, "deploy/manager/deployment.yaml"), "utf8"));
  if (!m?.[1]) throw new Error("NODE_OPTIONS not found in deploy/manager/deployment.yaml");
  return m[1].trim();
}

async function partA(): Promise<void> {
  const t0 = performance.now();
  const nodeOptions = deployedNodeOptions();
  const w = await World.start({ labArgs: ["--vms-per-group", String(perGroup)], operatorEnv: { NODE_OPTIONS: nodeOptions } });
  try {
    console.log(`lab with ${2 * perGroup} protected VMs ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await setup(w, false);
    const t1 = performance.now();
    // Production poll intervals (the test world polls faster), so the call count is what a site sees.
    w.startOperator(["--log-level=info", "--site-poll-interval=1m", "--ontap-poll-interval=1m"]);
    let peakRss = 0;
    const sampler = setInterval(() => {
      w.metric("vmdr_process_resident_memory_bytes").then((v) => (peakRss = Math.max(peakRss, v ?? 0)), () => undefined);
    }, 500);
    await groupsReady(w);
    console.log(`both groups Ready ${((performance.now() - t1) / 1000).toFixed(1)} s after the operator started`);

    await new Promise((r) => setTimeout(r, 30_000));
    const c0 = await callsBySystem(w);
    await new Promise((r) => setTimeout(r, 60_000));
    const c1 = await callsBySystem(w);
    clearInterval(sampler);
    const rss = (await w.metric("vmdr_process_resident_memory_bytes")) ?? NaN;
    const heap = (await w.metric("vmdr_nodejs_heap_size_used_bytes")) ?? NaN;
    const delta = (sys: string): number => (c1.get(sys) ?? 0) - (c0.get(sys) ?? 0);
    console.log(`steady state, nothing changing, default poll intervals: ${delta("vsphere")} vCenter calls and ${delta("ontap")} ONTAP calls in 60 s (both sites)`);
    console.log(`operator memory (NODE_OPTIONS=${nodeOptions}): RSS ${mib(rss)} MiB steady, ${mib(peakRss)} MiB peak during the initial sync; heap used ${mib(heap)} MiB`);

    // Shadow latency: watch the HR group's record shards.
    const seen = new Map<string, number>();
    const informer = new Informer<ConfigMap>({
      type: ConfigMapType,
      namespace: "dr",
      labelSelector: `${GROUP_LABEL}=hr`,
      kube: w.kube,
      watcher: new ClientNodeWatcher(w.cp.kubeConfig()),
      clock: systemClock,
      log: pino({ level: "silent" }),
      resyncPeriodMs: 0,
    });
    const onCm = (cm: ConfigMap): void => {
      for (const v of Object.values(cm.data ?? {})) {
        if (!v.includes("bench-")) continue;
        const r = JSON.parse(v) as ShadowRecord;
        if (r.shadowed && !seen.has(r.name)) seen.set(r.name, performance.now());
      }
    };
    informer.addHandlers({ onAdd: onCm, onUpdate: (_o, n) => onCm(n) });
    const stop = new AbortController();
    const running = informer.run(stop.signal);
    await informer.waitForSync(stop.signal);
    const latencies: number[] = [];
    for (let i = 0; i < 200; i++) {
      const name = `bench-${i}`;
      await w.lab.addVm("site1", { name, folder: "Protection Group 1/Application", datastore: "RP1", resourcePool: "HRServers", portgroup: "Site1-LAN" });
      const created = performance.now();
      while (!seen.has(name)) await new Promise((r) => setTimeout(r, 2));
      latencies.push((seen.get(name) ?? created) - created);
    }
    console.log(`shadow latency over 200 VMs (VM created at Site 1 → shadow record): p50 ${pct(latencies, 50).toFixed(0)} ms, p99 ${pct(latencies, 99).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms`);
    stop.abort();
    await running;
  } finally {
    await w.stop();
  }
}

async function partB(): Promise<void> {
  const w = await World.start();
  try {
    await setup(w, true);
    w.startOperator(["--log-level=info"]);
    await groupsReady(w);
    for (let i = 0; i < 100; i++) {
      await w.lab.addVm("site1", { name: `batch-${i}`, folder: "Protection Group 1/Application", datastore: i % 2 ? "RP1" : "RP2", resourcePool: "HRServers", portgroup: "Site1-LAN" });
    }
    await w.lab.advance("1h"); // the hourly transfer carries the new VMs to the replicas
    const t0 = performance.now();
    for (;;) {
      const g = await w.kube.get(ProtectionGroupType, { namespace: "dr", name: "hr" });
      if ((g?.status?.counts?.placeholders ?? 0) >= 106 && !g?.status?.preRegistration) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`placeholders for a batch of 100 new VMs: all registered at Site 2 ${((performance.now() - t0) / 1000).toFixed(1)} s after the transfer that replicated them (including relationship polling, the 1 s debounce, clone, map, rescan, search, register and clone removal)`);
  } finally {
    await w.stop();
  }
}

await partB();
await partA();
