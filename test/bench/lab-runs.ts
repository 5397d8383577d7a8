// What the FailoverRun benchmarks share (test/bench/failover.ts, test/bench/disruptive.ts): the lab
// with the method delays, the VMbook's two groups over several datastores, the operator as
// deployed, runs applied and followed to their end, what they cost, the critical-path bound of
// their VM work, and the VMbook appendix A algorithm as a baseline.
import https from "node:https";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { FailoverRun, ProtectionGroup, VmRecord } from "../../src/api/v1alpha1/index.js";
import { RunStore } from "../../src/controllers/failover-run/store.js";
import { noExternalMetrics } from "../../src/metrics/external.js";
import { systemClock } from "../../src/util/clock.js";
import type { MoRef, TaskRef } from "../../src/vsphere/types.js";
import { VsphereSession } from "../../src/vsphere/session.js";
import { VcenterClient } from "../../src/vsphere/vcenter.js";
import { NamespaceType } from "../harness/kube.js";
import { REPO_ROOT } from "../harness/processes.js";
import { vcenterOptions } from "../harness/vsphere.js";
import { World } from "../harness/world.js";

export const NS = "dr";
/** The lab's delays, in seconds: vCenter's answers, tools 2 s after power-on, a guest off 1 s after ShutdownGuest (half its boot). */
export const DELAYS = { register: 0.3, reconfigure: 0.2, powerOn: 1, tools: 2, shutdownCall: 0.1, shutdown: 1 };
export const LAB_DELAYS = ["--vcenter-method-delay", "RegisterVM_Task=300ms,ReconfigVM_Task=200ms,PowerOnVM_Task=1s,ShutdownGuest=100ms", "--guest-boot", "2s"];
export const DATASTORES_PER_GROUP = 5;

export const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
export const kib = (bytes: number): string => (bytes / 1024).toFixed(1);
export const secs = (ms: number): string => (ms / 1000).toFixed(1);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The operator container's environment as deployed (heap and allocator settings), so the benchmark measures what runs. */
export function deployedEnv(): Record<string, string> {
  const yaml = readFileSync(join(REPO_ROOT, "deploy/manager/deployment.yaml"), "utf8");
  const env = Object.fromEntries([...yaml.matchAll(/- name: ([A-Z_]+)\s+value: "?([^"\n]+)"?/g)].map((m) => [m[1]!, m[2]!.trim()]));
  if (!env.NODE_OPTIONS) throw new Error("NODE_OPTIONS not found in deploy/manager/deployment.yaml");
  return env;
}

export const volumesOf = (g: 1 | 2): string[] => [
  ...Array.from({ length: DATASTORES_PER_GROUP }, (_, k) => `RG${g}FV${k + 1}`),
  ...(g === 2 ? [`RG2FV${DATASTORES_PER_GROUP + 1}`] : []),
];

export async function setup(w: World): Promise<void> {
  await w.kube.create(NamespaceType, { metadata: { name: NS } });
  await w.applySites({ site2: (s) => (s.spec.storage.controllers[0]!.nfsAddress = "30.1.1.50") });
  for (const vol of [...volumesOf(1), ...volumesOf(2)]) {
    await w.kube.create(ReplicationRelationshipType, {
      metadata: { namespace: NS, name: vol.toLowerCase() },
      spec: { source: { siteRef: "site1", volume: vol }, destination: { siteRef: "site2", volume: `${vol}_SM` }, rpo: "2h" },
    });
  }
  const group = (name: string, label: string, folder: string, refs: string[]): ProtectionGroup => ({
    metadata: { namespace: NS, name },
    spec: {
      protectedSiteRef: "site1",
      recoverySiteRef: "site2",
      replicationRefs: refs.map((r) => r.toLowerCase()),
      vms: { folder },
      shadow: { rootFolder: "DR", folderNameMapping: { prefix: "Site1-" }, resourcePool: `Site1-${name}` },
      testPortgroup: "Site2-Test-Isolated",
      networkMappings: [{ protectedPortgroup: "Site1-LAN", recoveryPortgroup: "Site2-LAN" }],
      // The VMbook's shape: the database tier first, the applications once it is ready.
      powerOn: {
        priorityGroups: [
          { name: "databases", priority: 1, vms: [`${label} Database`, `${label} - Entry System`] },
          { name: "apps", priority: 2, vms: [`${label}-App*`], dependsOn: ["databases"] },
        ],
      },
    },
  });
  await w.kube.create(ProtectionGroupType, group("hr", "HR", "Protection Group 1", volumesOf(1)));
  await w.kube.create(ProtectionGroupType, group("finance", "Finance", "Protection Group 2", volumesOf(2)));
}

export async function groupsReady(w: World): Promise<void> {
  for (;;) {
    const gs = (await w.kube.list(ProtectionGroupType, { namespace: NS })).items;
    if (gs.length === 2 && gs.every((g) => findCondition(g.status?.conditions, "Ready")?.status === "True")) return;
    await sleep(500);
  }
}

/** The API server's own counters of writes to FailoverRun status and ConfigMaps (the run's VM shards). */
export async function apiserverWrites(w: World): Promise<{ status: number; configmaps: number }> {
  const kc = new KubeConfig();
  kc.loadFromFile(w.cp.kubeconfigPath);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const text = await new Promise<string>((resolve, reject) => {
    const req = https.get(new URL("/metrics", kc.getCurrentCluster()!.server), { ...opts, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
    req.on("error", reject);
  });
  let status = 0;
  let configmaps = 0;
  for (const m of text.matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)$/gm)) {
    const ls: Record<string, string | undefined> = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (!["PUT", "PATCH", "POST"].includes(ls["verb"] ?? "")) continue;
    if (ls["resource"] === "failoverruns" && ls["subresource"] === "status") status += Number(m[2]);
    if (ls["resource"] === "configmaps") configmaps += Number(m[2]);
  }
  return { status, configmaps };
}

/** Peak RSS of the operator while f runs, and its heap at the time (sampled from its metrics every 250 ms). */
export async function withRss<T>(w: World, f: () => Promise<T>): Promise<{ value: T; peakRss: number; heapAtPeak: number }> {
  let peakRss = 0;
  let heapAtPeak = 0;
  const sampler = setInterval(() => {
    w.metrics().then(
      (text) => {
        const v = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
        const rss = v("vmdr_process_resident_memory_bytes");
        if (rss > peakRss) [peakRss, heapAtPeak] = [rss, v("vmdr_nodejs_heap_size_used_bytes")];
        if (process.env.BENCH_MEMORY_DEBUG && rss >= peakRss) console.log(text.split("\n").filter((l) => /heap_size_total|external_memory|heap_space_size_(committed|used)_bytes|resident/.test(l) && !l.startsWith("#")).join("\n"));
      },
      () => undefined,
    );
  }, 250);
  try {
    return { value: await f(), peakRss, heapAtPeak };
  } finally {
    clearInterval(sampler);
  }
}

export async function runToEnd(w: World, name: string, spec: FailoverRun["spec"]): Promise<FailoverRun> {
  await w.kube.create(FailoverRunType, { metadata: { namespace: NS, name }, spec });
  for (;;) {
    const r = await w.kube.get(FailoverRunType, { namespace: NS, name });
    const c = findCondition(r?.status?.conditions, "Succeeded");
    if (r && c && c.status !== "Unknown") {
      if (c.status !== "True") throw new Error(`${name}: ${c.reason}: ${c.message}`);
      return r;
    }
    await sleep(200);
  }
}

export async function vmsOf(w: World, run: FailoverRun): Promise<VmRecord[]> {
  return (await RunStore.load(w.kube, run, new Map(), AbortSignal.timeout(30_000))).vms;
}

/**
 * The shortest time the VM work of this run can take at concurrency c with the lab's delays, as
 * the run is planned: every VM registered (no placeholders) and reconfigured once, c calls in
 * flight at a time, then the waves in order, each one powered on c at a time and ready 2 s
 * after its last power-on.
 */
export function criticalPath(vms: readonly VmRecord[], c: number): number {
  const registered = vms.filter((v) => !v.placeholder && !v.auxiliary).length;
  const perWave = new Map<number, number>();
  for (const v of vms) perWave.set(v.wave, (perWave.get(v.wave) ?? 0) + 1);
  let s = Math.ceil(registered / c) * DELAYS.register + Math.ceil(vms.length / c) * DELAYS.reconfigure;
  for (const n of perWave.values()) s += Math.ceil(n / c) * DELAYS.powerOn + DELAYS.tools;
  return s * 1000;
}

/** Steps whose time is storage work (ONTAP and the hosts' rescans and mounts), not per-VM vCenter work. */
export const STORAGE_STEPS = new Set([
  "SelectSnapshots", "CloneVolumes", "PresentClones", "FinalUpdate", "QuiesceReplication", "BreakReplication", "RecordRecoveryPoint", "PresentReplicas", "RescanHosts", "MountDatastores", "FindVms",
]);

export function stepTimes(run: FailoverRun): { storageMs: number; line: string } {
  let storageMs = 0;
  const parts: string[] = [];
  for (const s of run.status?.steps ?? []) {
    if (!s.startedAt || !s.completedAt) continue;
    const ms = Date.parse(s.completedAt) - Date.parse(s.startedAt);
    if (STORAGE_STEPS.has(s.name)) storageMs += ms;
    if (ms >= 100) parts.push(`${s.name} ${secs(ms)}`);
  }
  return { storageMs, line: parts.join(", ") };
}

export async function cleanup(w: World, name: string, testRun: string): Promise<void> {
  await runToEnd(w, name, { type: "CleanupTest", testRun });
}

// ---- the VMbook appendix A algorithm, as a baseline -----------------------------------------

export async function waitTask(client: VcenterClient, t: TaskRef): Promise<void> {
  for (;;) {
    const [s] = await client.getTasks([t.task]);
    if (s?.state === "success") return;
    if (s?.state === "error") throw new Error(`task ${t.task.value} failed: ${s.error?.message ?? "?"}`);
    await sleep(50);
  }
}

/**
 * Appendix A's PowerShell/PowerCLI loop on the recovery vCenter: for each VM, power off and
 * unregister it if it is registered, register it (one at a time, waiting for each), reconfigure it
 * twice (its NICs disconnected, then its media), and power the VMs on three at a time, scanning the inventory every
 * 3 s for questions to answer until each batch is on. The storage is already presented.
 */
export async function appendixA(w: World, vms: readonly VmRecord[]): Promise<number> {
  const session = await VsphereSession.open(vcenterOptions(w.lab, "site2"), { clock: systemClock, metrics: noExternalMetrics, log: pino({ level: "silent" }) });
  const client = new VcenterClient(session);
  try {
    const dc = (await client.findDatacenter("Site 2"))!;
    // Where each VM lives now (read once, outside the timing: the script has it in its CSV).
    const where = new Map<string, { ref: MoRef; folder: MoRef; pool: MoRef }>();
    for (const o of await client.readInventory(dc.vmFolder!)) {
      if (o.kind === "VirtualMachine" && o.info.instanceUuid && o.info.parent && o.info.resourcePool) {
        where.set(o.info.instanceUuid, { ref: o.info.ref, folder: o.info.parent, pool: o.info.resourcePool });
      }
    }
    const t0 = performance.now();
    const registered: MoRef[] = [];
    for (const v of vms) {
      const at = where.get(v.instanceUuid);
      if (!at) throw new Error(`${v.name} is not registered at Site 2`);
      const off = await client.powerOff(at.ref);
      if (off !== "Done") await waitTask(client, off);
      await client.unregisterVm(at.ref);
      await waitTask(client, await client.registerVm({ folder: at.folder, pool: at.pool, vmxPath: v.vmx }));
      registered.push((await client.findVmByInstanceUuid(v.instanceUuid, dc.ref))!);
    }
    for (const vm of registered) {
      const devices = await client.getVmDevices(vm);
      await waitTask(client, await client.reconfigureVm(vm, devices, { nics: devices.nics.map((n) => ({ key: n.key, connected: false, startConnected: false })) }));
      await waitTask(client, await client.reconfigureVm(vm, devices, { disconnectMedia: true }));
    }
    for (let i = 0; i < registered.length; i += 3) {
      const batch = registered.slice(i, i + 3);
      for (const vm of batch) await client.powerOn(vm);
      for (;;) {
        await sleep(3_000);
        const inventory = await client.readInventory(dc.vmFolder!);
        const mine = inventory.filter((o) => o.kind === "VirtualMachine" && batch.some((b) => b.value === o.info.ref.value));
        for (const o of mine) {
          if (o.kind !== "VirtualMachine" || !o.info.question) continue;
          const keep = o.info.question.choices.find((c) => /moved/i.test(c.label)) ?? o.info.question.choices[0]!;
          await client.answerQuestion(o.info.ref, o.info.question.id, keep.key);
        }
        if (mine.length === batch.length && mine.every((o) => o.kind === "VirtualMachine" && o.info.powerState === "poweredOn" && !o.info.question)) break;
      }
    }
    const ms = performance.now() - t0;
    // Out of the timing: unregister what the baseline registered, so the cleanup finds the run's own.
    for (const vm of registered) {
      const off = await client.powerOff(vm);
      if (off !== "Done") await waitTask(client, off);
      await client.unregisterVm(vm);
    }
    return ms;
  } finally {
    await session.close();
  }
}

// ---- parts ----------------------------------------------------------------------------------

/** A lab of two groups of vmsPerGroup VMs with the method delays, the operator as deployed, and the groups Ready. */
export async function startWorld(vmsPerGroup: number): Promise<{ w: World; readyMs: number }> {
  const t0 = performance.now();
  const w = await World.start({
    labArgs: ["--vms-per-group", String(vmsPerGroup), "--datastores-per-group", String(DATASTORES_PER_GROUP), ...LAB_DELAYS],
    operatorEnv: deployedEnv(),
  });
  try {
    await setup(w);
    w.startOperator([`--log-level=${process.env.BENCH_LOG_LEVEL ?? "info"}`]);
    await groupsReady(w);
  } catch (err) {
    await w.stop();
    throw err;
  }
  return { w, readyMs: performance.now() - t0 };
}

/** A Test of both groups at concurrency c, applied and run to its end, with what it cost. */
export function measuredTest(w: World, name: string, c: number) {
  return measuredRun(w, name, { type: "Test", protectionGroups: ["hr", "finance"], powerOn: { concurrency: c } });
}

/** A run applied and followed to its end, with what it cost; its bound is the VM work's at its concurrency. */
export async function measuredRun(w: World, name: string, spec: FailoverRun["spec"]) {
  const c = spec.powerOn?.concurrency ?? 10;
  const before = await apiserverWrites(w);
  const applied = performance.now();
  const { value: run, peakRss, heapAtPeak } = await withRss(w, () => runToEnd(w, name, spec));
  const wall = performance.now() - applied;
  const after = await apiserverWrites(w);
  const vms = await vmsOf(w, run);
  return {
    run,
    vms,
    wall,
    rto: (run.status?.rtoSeconds ?? NaN) * 1000,
    bound: criticalPath(vms, c),
    steps: stepTimes(run),
    failed: vms.filter((v) => v.state === "Failed").length,
    writes: `writes: ${after.status - before.status} status, ${after.configmaps - before.configmaps} ConfigMap`,
    memory: `peak RSS ${mib(peakRss)} MiB (heap used then ${mib(heapAtPeak)} MiB)`,
    peakRss,
  };
}

