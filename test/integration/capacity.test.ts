import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, SiteType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { FailoverRun, ProtectionGroup, Site } from "../../src/api/v1alpha1/index.js";
import type { VcenterClient } from "../../src/vsphere/vcenter.js";
import type { VsphereSession } from "../../src/vsphere/session.js";
import { eventually, NamespaceType } from "../harness/kube.js";
import { vcenterClient } from "../harness/vsphere.js";
import { World } from "../harness/world.js";
import { scratchDir } from "../harness/processes.js";
import { throughCrashes } from "../harness/runs.js";

/**
 * The capacity pre-flight on the lab (docs/capacity.md). Site 2's BCDR cluster is two hosts of
 * 32 GB (65,536 MB). Already running there: its directory and DNS servers (2 x 4 GB) and two
 * staging VMs of 8 GB in pool Staging, 24,576 MB in all. HR and Finance are six VMs of 4 GB each:
 * both together bring 49,152 MB, 8,192 MB more than the cluster has (the VMbook's two BCDR hosts
 * serve one recovery group; a whole-site failover needs what development uses).
 */
let w: World;
let vc: { session: VsphereSession; client: VcenterClient };
const ns = "dr";
const STAGING = ["Stage-01", "Stage-02"];
const crashFile = join(scratchDir("capacity-crash"), "crash-points");

interface VmTruth {
  name: string;
  folder: string;
  powerState: string;
}
const vms = async (site: "site1" | "site2"): Promise<VmTruth[]> => (await w.lab.control<{ vms: VmTruth[] }>("GET", `/truth/sites/${site}/vcenter`)).vms;
const powerOf = async (name: string): Promise<string | undefined> => (await vms("site2")).find((v) => v.name === name)?.powerState;
const volumes = async (): Promise<string[]> =>
  (await w.lab.control<{ clusters: { site: string; volumes: { name: string }[] }[] }>("GET", "/truth/storage")).clusters.find((c) => c.site === "site2")!.volumes.map((v) => v.name).sort();
const stagingLimits = async () => vc.client.getPoolLimits((await vc.client.findByInventoryPath("Site 2/host/Site2-BCDR/Resources/Staging"))!);

function group(name: string, folder: string, refs: string[]): ProtectionGroup {
  return {
    metadata: { namespace: ns, name },
    spec: {
      protectedSiteRef: "site1",
      recoverySiteRef: "site2",
      replicationRefs: refs,
      vms: { folder },
      shadow: { rootFolder: "DR", folderNameMapping: { prefix: "Site1-" }, resourcePool: `Site1-${name}` },
      testPortgroup: "Site2-Test-Isolated",
      networkMappings: [{ protectedPortgroup: "Site1-LAN", recoveryPortgroup: "Site2-LAN" }],
    },
  };
}

const run = (name: string) => w.kube.get(FailoverRunType, { namespace: ns, name });
async function finished(name: string, timeoutMs = 180_000): Promise<FailoverRun> {
  return eventually(async () => {
    const r = await run(name);
    const c = findCondition(r?.status?.conditions, "Succeeded");
    return c && c.status !== "Unknown" ? r : undefined;
  }, timeoutMs, `FailoverRun ${name} to finish`);
}
async function succeeded(name: string, spec: FailoverRun["spec"]): Promise<FailoverRun> {
  await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name }, spec });
  const r = await finished(name);
  expect(findCondition(r.status?.conditions, "Succeeded"), JSON.stringify([r.status?.conditions, r.status?.steps])).toMatchObject({ status: "True" });
  return r;
}
async function policy(p: Site["spec"]["capacityPolicy"]): Promise<void> {
  await w.kube.mergePatch(SiteType, { name: "site2" }, { spec: { capacityPolicy: p ?? null } });
  // The operator plans from its Site cache: wait until a plan would see the policy (the Site's generation observed).
  await eventually(async () => {
    const s = await w.kube.get(SiteType, { name: "site2" });
    return s?.status?.observedGeneration === s?.metadata.generation ? true : undefined;
  }, 30_000, "site2's new capacity policy observed");
}

beforeAll(async () => {
  writeFileSync(crashFile, ""); // no crash points until the crash tests name theirs
  w = await World.start({
    labArgs: ["--host-memory-gb", "site2=32"],
    // A short lease: a killed leader's successor takes over quickly.
    operatorArgs: ["--lease-duration=1s", "--renew-deadline=700ms", "--retry-period=200ms"],
    operatorEnv: { VMDR_TEST_CRASH_POINTS: crashFile },
  });
  await w.kube.create(NamespaceType, { metadata: { name: ns } });
  await w.applySites({ site1: (s) => (s.spec.storage.controllers[0]!.nfsAddress = "20.1.1.50"), site2: (s) => (s.spec.storage.controllers[0]!.nfsAddress = "30.1.1.50") });
  for (const vol of ["RG1FV1", "RG1FV2", "RG2FV1", "RG2FV2", "RG2FV3"]) {
    await w.kube.create(ReplicationRelationshipType, {
      metadata: { namespace: ns, name: vol.toLowerCase() },
      spec: { source: { siteRef: "site1", volume: vol }, destination: { siteRef: "site2", volume: `${vol}_SM` }, rpo: "2h" },
    });
  }
  for (const name of STAGING) {
    await w.lab.control("POST", "/sites/site2/vcenter/vms", { name, folder: "Development", resourcePool: "Staging", datastore: "LP2", portgroup: "Site2-LAN", memoryMB: 8192, cpus: 2, poweredOn: true });
  }
  await w.kube.create(ProtectionGroupType, group("hr", "Protection Group 1", ["rg1fv1", "rg1fv2"]));
  await w.kube.create(ProtectionGroupType, group("finance", "Protection Group 2", ["rg2fv1", "rg2fv2", "rg2fv3"]));
  vc = await vcenterClient(w.lab, "site2");
  w.startOperator();
  for (const g of ["hr", "finance"]) {
    await eventually(async () => (findCondition((await w.kube.get(ProtectionGroupType, { namespace: ns, name: g }))?.status?.conditions, "Ready")?.status === "True" ? true : undefined), 90_000, `${g} Ready`);
  }
});
afterAll(async () => {
  await vc?.session.close();
  await w?.stop();
});

describe("a run the recovery cluster cannot hold", () => {
  it("is refused with the numbers, before anything is touched, when the run allows nothing to be reclaimed", async () => {
    await policy({ reclaim: [{ vms: STAGING, action: "Suspend" }] });
    const before = { volumes: await volumes(), site2: await vms("site2") };
    await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name: "test-short" }, spec: { type: "Test", protectionGroups: ["hr", "finance"] } });
    const c = findCondition((await finished("test-short", 60_000)).status?.conditions, "Succeeded");
    expect(c).toMatchObject({ status: "False", reason: "InsufficientCapacity" });
    expect(c?.message).toContain("Site site2 cluster Site2-BCDR cannot hold the run");
    expect(c?.message).toContain("memory: 49,152 MB needed by 12 VM(s) + 24,576 MB in use by 4 VM(s) > 65,536 MB offered");
    expect(c?.message).toContain("(8,192 MB short)");
    expect(c?.message).toContain("could make room by suspending Stage-01: set spec.capacity.action to Suspend");
    // Nothing at Site 2 changed: no clone, every VM as it was.
    expect(await volumes()).toEqual(before.volumes);
    expect(await vms("site2")).toEqual(before.site2);
  });

  it("is refused when the Site's policy cannot make room either, saying so", async () => {
    await policy(undefined);
    await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name: "test-no-policy" }, spec: { type: "Test", protectionGroups: ["hr", "finance"], capacity: { action: "Suspend" } } });
    const c = findCondition((await finished("test-no-policy", 60_000)).status?.conditions, "Succeeded");
    expect(c).toMatchObject({ status: "False", reason: "InsufficientCapacity" });
    expect(c?.message).toContain("The Site has no capacityPolicy");
  });

  it("goes ahead for one group, which fits", async () => {
    const r = await succeeded("test-hr", { type: "Test", protectionGroups: ["hr"] });
    expect(r.status?.capacity).toMatchObject({ checked: true, reclaim: [], clusters: [{ cluster: "Site2-BCDR", vms: 6, runningVms: 4, memory: { need: 24_576, inUse: 24_576, offered: 65_536 } }] });
    expect(r.status?.steps?.find((s) => s.name === "MakeRoom")).toMatchObject({ state: "Skipped" });
    await succeeded("cleanup-hr", { type: "CleanupTest", testRun: "test-hr" });
  });
});

describe("making room as the Site's capacity policy allows, and giving it back", () => {
  it("suspends only the staging VM the Test needs, and the CleanupTest resumes it", async () => {
    await policy({ reclaim: [{ vms: STAGING, action: "Suspend" }] });
    const r = await succeeded("test-suspend", { type: "Test", protectionGroups: ["hr", "finance"], capacity: { action: "Suspend" } });
    expect(r.status?.capacity?.reclaim).toMatchObject([{ site: "site2", action: "Suspend", name: "Stage-01", state: "Done" }]);
    expect(r.status?.capacity?.clusters[0]?.memory).toMatchObject({ need: 49_152, inUse: 24_576, offered: 65_536, reclaimed: 8192 });
    expect(await powerOf("Stage-01")).toBe("suspended");
    expect(await powerOf("Stage-02")).toBe("poweredOn");
    // The suspend came before the first clone: MakeRoom is the step after the claim.
    expect(r.status?.steps?.map((s) => s.name).slice(0, 3)).toEqual(["ClaimGroups", "MakeRoom", "SelectSnapshots"]);

    const c = await succeeded("cleanup-suspend", { type: "CleanupTest", testRun: "test-suspend" });
    expect(c.status?.capacity?.reclaim).toMatchObject([{ name: "Stage-01", state: "Restored", run: "test-suspend" }]);
    expect(await powerOf("Stage-01")).toBe("poweredOn");
    expect(await powerOf("Stage-02")).toBe("poweredOn");
  });

  it("throttles the staging pool to the limit that makes room, and the CleanupTest takes the limit off", async () => {
    await policy({ reclaim: [{ resourcePool: "Staging", action: "Throttle" }] });
    expect(await stagingLimits()).toEqual({ cpuMhz: -1, memoryMB: -1 });
    const r = await succeeded("test-throttle", { type: "Test", protectionGroups: ["hr", "finance"], capacity: { action: "Throttle" } });
    expect(r.status?.capacity?.reclaim).toMatchObject([{ action: "Throttle", name: "Staging", limits: { cpuMhz: -1, memoryMB: 8192 }, before: { cpuMhz: -1, memoryMB: -1 }, state: "Done" }]);
    expect(await stagingLimits()).toEqual({ cpuMhz: -1, memoryMB: 8192 });
    for (const n of STAGING) expect(await powerOf(n)).toBe("poweredOn");

    await succeeded("cleanup-throttle", { type: "CleanupTest", testRun: "test-throttle" });
    expect(await stagingLimits()).toEqual({ cpuMhz: -1, memoryMB: -1 });
  });

});

describe("making room and giving it back survive the operator being killed at their step boundaries and between act and checkpoint", () => {
  const mutations = async (): Promise<Record<string, number>> => (await w.lab.control<{ mutations: Record<string, number> }>("GET", "/truth/sites/site2/vcenter")).mutations;
  const delta = (before: Record<string, number>, after: Record<string, number>, key: string): number => (after[key] ?? 0) - (before[key] ?? 0);
  const ref = async (path: string): Promise<string> => (await vc.client.findByInventoryPath(path))!.value;

  /** A Test and its CleanupTest of both groups, the operator killed at every point of MakeRoom and ReturnRoom. */
  async function crashedPair(name: string, action: "Suspend" | "Throttle"): Promise<string[]> {
    rmSync(`${crashFile}.done`, { force: true });
    writeFileSync(crashFile, "Test/MakeRoom:*\nCleanupTest/ReturnRoom:*\n");
    await w.killOperator();
    w.startOperator();
    await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name }, spec: { type: "Test", protectionGroups: ["hr", "finance"], capacity: { action } } });
    const test = await throughCrashes(w, ns, name, 300_000);
    expect(findCondition(test.run.status?.conditions, "Succeeded"), JSON.stringify([test.run.status?.conditions, test.run.status?.steps])).toMatchObject({ status: "True" });
    await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name: `cleanup-${name}` }, spec: { type: "CleanupTest", testRun: name } });
    const cleanup = await throughCrashes(w, ns, `cleanup-${name}`, 300_000);
    expect(findCondition(cleanup.run.status?.conditions, "Succeeded"), JSON.stringify(cleanup.run.status?.steps)).toMatchObject({ status: "True" });
    const crashed = readFileSync(`${crashFile}.done`, "utf8").trim().split("\n");
    for (const id of ["Test/MakeRoom:before-act", "Test/MakeRoom:after-act", "Test/MakeRoom:step-boundary", "CleanupTest/ReturnRoom:after-act", "CleanupTest/ReturnRoom:step-boundary"]) expect(crashed).toContain(id);
    return crashed;
  }

  it("suspends the staging VM once and resumes it once", async () => {
    await policy({ reclaim: [{ vms: STAGING, action: "Suspend" }] });
    const stage1 = await ref("Site 2/vm/Development/Stage-01");
    const before = await mutations();
    await crashedPair("test-crash-suspend", "Suspend");
    const after = await mutations();
    expect(delta(before, after, `Suspend ${stage1}`)).toBe(1);
    expect(delta(before, after, `PowerOn ${stage1}`)).toBe(1);
    expect(await powerOf("Stage-01")).toBe("poweredOn");
  }, 700_000);

  it("limits the staging pool once and restores its limits once, to what they were", async () => {
    await policy({ reclaim: [{ resourcePool: "Staging", action: "Throttle" }] });
    const staging = await ref("Site 2/host/Site2-BCDR/Resources/Staging");
    const before = await mutations();
    await crashedPair("test-crash-throttle", "Throttle");
    const after = await mutations();
    // One change to 8,192 MB, one back to unlimited: the limits recorded before were the pool's own.
    expect(delta(before, after, `UpdateConfig ${staging}`)).toBe(2);
    expect(await stagingLimits()).toEqual({ cpuMhz: -1, memoryMB: -1 });
  }, 700_000);
});

// Last: after a failback the groups wait for a Reprotect, and no Test of them can run.
describe("a failover's room", () => {
  it("keeps a failover's room until the last of its groups fails back, then resumes what it suspended", async () => {
    await policy({ reclaim: [{ vms: STAGING, action: "Suspend" }] });
    const pm = await succeeded("pm-both", { type: "PlannedMigration", protectionGroups: ["hr", "finance"], confirmation: "PlannedMigration", capacity: { action: "Suspend" }, reIp: false });
    expect(pm.status?.capacity?.reclaim).toMatchObject([{ name: "Stage-01", state: "Done" }]);
    expect(await powerOf("Stage-01")).toBe("suspended");

    // HR comes home; Finance still runs at Site 2 and needs the room.
    const hr = await succeeded("fb-hr", { type: "Failback", protectionGroups: ["hr"], confirmation: "Failback", reIp: false });
    expect(hr.status?.capacity?.reclaim).toEqual([]);
    expect(hr.status?.capacity?.message).toContain("Stage-01 (reclaimed by pm-both) stay reclaimed while finance run(s) at the recovery site");
    expect(hr.status?.steps?.find((s) => s.name === "ReturnRoom")).toMatchObject({ state: "Skipped" });
    expect(await powerOf("Stage-01")).toBe("suspended");

    // Finance, the last one, gives it back once its VMs at Site 2 are off.
    const fin = await succeeded("fb-finance", { type: "Failback", protectionGroups: ["finance"], confirmation: "Failback", reIp: false });
    expect(fin.status?.capacity?.reclaim).toMatchObject([{ name: "Stage-01", state: "Restored", run: "pm-both" }]);
    expect(await powerOf("Stage-01")).toBe("poweredOn");
    const steps = fin.status?.steps?.map((s) => s.name) ?? [];
    expect(steps.indexOf("ReturnRoom")).toBe(steps.indexOf("VerifyProtectedOff") + 1);
  }, 600_000);
});
