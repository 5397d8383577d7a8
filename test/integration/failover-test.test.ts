import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { FailoverRun, ProtectionGroup } from "../../src/api/v1alpha1/index.js";
import { eventually, NamespaceType } from "../harness/kube.js";
import { World } from "../harness/world.js";

/**
 * A DR test (FailoverRun Test) and its cleanup against the two-site lab, with the operator as its
 * own process: HR alone, then HR and Finance (with RP5 on NFS), production untouched throughout.
 */
let w: World;
const ns = "dr";

interface VmTruth {
  ref: string;
  name: string;
  folder: string;
  instanceUuid: string;
  biosUuid: string;
  powerState: string;
  connectionState: string;
  datastores: string[];
  host: string;
  nics: { portgroup: string; mac: string; startConnected: boolean }[];
  media: { connected: boolean; startConnected: boolean; backing: string }[];
}
interface RelTruth {
  state: string;
  lastTransferEnd?: string;
}
interface StorageTruth {
  clusters: { site: string; volumes: { name: string }[]; luns: { path?: string; name?: string }[] }[];
}

const vms = async (site: "site1" | "site2"): Promise<VmTruth[]> => (await w.lab.control<{ vms: VmTruth[] }>("GET", `/truth/sites/${site}/vcenter`)).vms;
const volumes = async (site: "site1" | "site2"): Promise<string[]> =>
  (await w.lab.control<StorageTruth>("GET", "/truth/storage")).clusters.find((c) => c.site === site)!.volumes.map((v) => v.name);
/** Every time storage went away under a mounted datastore at Site 2 (the safe removal order never causes one). */
const storageFaults = async (): Promise<unknown[]> => (await w.lab.control<{ storageFaults: unknown[] }>("GET", "/truth/sites/site2/vcenter")).storageFaults;
const relationships = ["RG1FV1", "RG1FV2", "RG2FV1", "RG2FV2", "RG2FV3"];
const relStates = async (): Promise<string[]> => Promise.all(relationships.map(async (v) => (await w.lab.relationship<RelTruth>("site2", `${v}_SM`)).state));
/** Site 1 as a VM's user would see it: name, where, power, NICs. */
const site1Fingerprint = async (): Promise<string> =>
  JSON.stringify((await vms("site1")).map((v) => [v.name, v.folder, v.host, v.powerState, v.datastores, v.nics.map((n) => [n.portgroup, n.mac])]).sort());

function group(name: string, folder: string, refs: string[], extra: Partial<ProtectionGroup["spec"]> = {}): ProtectionGroup {
  return {
    metadata: { namespace: ns, name },
    spec: {
      protectedSiteRef: "site1",
      recoverySiteRef: "site2",
      replicationRefs: refs,
      vms: { folder },
      shadow: { rootFolder: "DR", folderNameMapping: { prefix: "Site1-" }, resourcePool: `Site1-${name}` },
      testPortgroup: "Site2-Test-Isolated",
      ...extra,
    },
  };
}

const run = (name: string) => w.kube.get(FailoverRunType, { namespace: ns, name });
async function finished(name: string, timeoutMs = 120_000): Promise<FailoverRun> {
  return eventually(async () => {
    const r = await run(name);
    const c = findCondition(r?.status?.conditions, "Succeeded");
    return c && c.status !== "Unknown" ? r : undefined;
  }, timeoutMs, `FailoverRun ${name} to finish`);
}
async function apply(name: string, spec: FailoverRun["spec"]): Promise<void> {
  await w.kube.create(FailoverRunType, { metadata: { namespace: ns, name }, spec });
}

beforeAll(async () => {
  w = await World.start();
  await w.kube.create(NamespaceType, { metadata: { name: ns } });
  await w.applySites({ site2: (s) => (s.spec.storage.controllers[0]!.nfsAddress = "30.1.1.50") });
  for (const vol of relationships) {
    await w.kube.create(ReplicationRelationshipType, {
      metadata: { namespace: ns, name: vol.toLowerCase() },
      spec: { source: { siteRef: "site1", volume: vol }, destination: { siteRef: "site2", volume: `${vol}_SM` }, rpo: "2h" },
    });
  }
  await w.kube.create(
    ProtectionGroupType,
    group("hr", "Protection Group 1", ["rg1fv1", "rg1fv2"], {
      powerOn: {
        priorityGroups: [
          { name: "databases", priority: 1, vms: ["HR Database"] },
          { name: "apps", priority: 2, vms: ["HR-App*", "HR - Entry System"], dependsOn: ["databases"] },
        ],
      },
      objectives: { rto: "1h" },
    }),
  );
  await w.kube.create(ProtectionGroupType, group("finance", "Protection Group 2", ["rg2fv1", "rg2fv2", "rg2fv3"]));
  w.startOperator();
  for (const g of ["hr", "finance"]) {
    await eventually(async () => (findCondition((await w.kube.get(ProtectionGroupType, { namespace: ns, name: g }))?.status?.conditions, "Ready")?.status === "True" ? true : undefined), 90_000, `${g} Ready`);
  }
});
afterAll(async () => {
  await w?.stop();
});

describe("DR test of HR, then its cleanup (real kube-apiserver, lab, operator process)", () => {
  let site1Before = "";

  it("recovers HR's VMs at Site 2 on the isolated portgroup with their UUIDs, in priority order, leaving production alone", async () => {
    site1Before = await site1Fingerprint();
    const hrAtSite1 = (await vms("site1")).filter((v) => v.folder.startsWith("Protection Group 1"));
    await apply("test-hr", { type: "Test", protectionGroups: ["hr"], powerOn: { concurrency: 4 } });
    const r = await finished("test-hr");
    const s = r.status!;
    expect(findCondition(s.conditions, "Succeeded")).toMatchObject({ status: "True", reason: "Succeeded" });
    // Every step did its work but the capacity ones: Site 2 has room, nothing is reclaimed or given back.
    expect(s.steps?.map((x) => [x.name, x.state])).toEqual(s.plan!.steps.map((n) => [n, n === "MakeRoom" || n === "ReturnRoom" || n === "CustomizeGuests" || n === "DisarmGuestScripts" ? "Skipped" : "Succeeded"]));
    expect(s.progress).toBe(`${hrAtSite1.length}/${hrAtSite1.length}`);
    expect(s.rtoSeconds).toBeGreaterThan(0);
    expect(s.recoveryPoints?.map((p) => p.volume).sort()).toEqual(["RG1FV1_SM", "RG1FV2_SM"]);

    const recovered = (await vms("site2")).filter((v) => v.folder.startsWith("DR/Site1-Protection Group 1"));
    expect(recovered.map((v) => v.name).sort()).toEqual(hrAtSite1.map((v) => v.name).sort());
    for (const v of recovered) {
      const source = hrAtSite1.find((x) => x.name === v.name)!;
      expect(v.powerState).toBe("poweredOn");
      expect(v.instanceUuid).toBe(source.instanceUuid);
      expect(v.biosUuid).toBe(source.biosUuid);
      expect(v.nics.map((n) => [n.portgroup, n.mac])).toEqual(source.nics.map((n) => ["Site2-Test-Isolated", n.mac]));
      expect(v.media.every((m) => !m.connected && !m.startConnected)).toBe(true);
    }
    // Databases first: every app VM started after the database was ready.
    const byName = new Map(s.vms!.map((v) => [v.name, v]));
    const dbReady = Date.parse(byName.get("HR Database")!.readyAt!);
    for (const v of s.vms!.filter((x) => x.priorityGroup === "apps")) expect(Date.parse(v.poweredOnAt!)).toBeGreaterThanOrEqual(dbReady);
    // Each VM's phases are recorded in the order they happened (what the report's timeline draws).
    for (const v of s.vms!) {
      const times = [v.registeredAt, v.configuredAt, v.poweredOnAt, v.readyAt].map((t) => Date.parse(t ?? ""));
      expect(times.every(Number.isFinite), v.name).toBe(true);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      expect(times[0]).toBeGreaterThanOrEqual(Date.parse(s.startedAt!));
    }
    // Production: relationships untouched, Site 1 unchanged.
    expect(await relStates()).toEqual(relationships.map(() => "snapmirrored"));
    expect(await site1Fingerprint()).toBe(site1Before);
    // The evidence, on the group (kubectl get pg shows it as Tested) ...
    const proven = (await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.lastSuccessfulTest;
    expect(proven).toEqual({ run: "test-hr", completedAt: s.completedAt, rtoSeconds: s.rtoSeconds, rtoObjectiveMet: true });
    expect((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "finance" }))?.status?.lastSuccessfulTest).toBeUndefined();
    // ... and as Prometheus sees it.
    expect(await w.metric("vmdr_failover_runs_total", { type: "Test", result: "succeeded" })).toBe(1);
    expect(await w.metric("vmdr_failover_last_rto_seconds", { namespace: ns, protection_group: "hr", type: "Test" })).toBe(s.rtoSeconds);
    expect(await w.metric("vmdr_last_successful_test_timestamp_seconds", { namespace: ns, protection_group: "hr" })).toBe(Math.floor(Date.parse(s.completedAt!) / 1000));
  }, 180_000);

  it("refuses a second Test of a group the first still holds, touching nothing", async () => {
    const before = await volumes("site2");
    await apply("test-hr-again", { type: "Test", protectionGroups: ["hr"] });
    const r = await finished("test-hr-again", 30_000);
    const c = findCondition(r.status?.conditions, "Succeeded")!;
    expect(c).toMatchObject({ status: "False", reason: "GroupInUse" });
    expect(c.message).toContain("test-hr");
    expect(await volumes("site2")).toEqual(before);
  });

  it("keeps production replicating on schedule while the test is up", async () => {
    const before = await w.lab.relationship<RelTruth>("site2", "RG1FV1_SM");
    await w.lab.advance("1h");
    await eventually(async () => {
      const now = await w.lab.relationship<RelTruth>("site2", "RG1FV1_SM");
      return now.lastTransferEnd && now.lastTransferEnd !== before.lastTransferEnd ? true : undefined;
    }, 60_000, "the hourly transfer of RG1FV1");
    expect(await relStates()).toEqual(relationships.map(() => "snapmirrored"));
  });

  it("cleans up: VMs off and gone, copies unmounted, clones deleted, verified against the world", async () => {
    await apply("cleanup-hr", { type: "CleanupTest", protectionGroups: ["hr"] });
    const r = await finished("cleanup-hr");
    const s = r.status!;
    expect(findCondition(s.conditions, "Succeeded")).toMatchObject({ status: "True", reason: "CleanedUp" });
    expect(s.testRun).toBe("test-hr");
    expect(s.cleanup?.verifiedAt).toBeDefined();
    expect(s.cleanup?.removed.filter((e) => e.kind === "Volume").map((e) => e.name.split(":")[1]!.replace(/_[0-9a-f]{8}$/, "")).sort()).toEqual(["RG1FV1_Clone", "RG1FV2_Clone"]);
    expect((await volumes("site2")).filter((v) => v.includes("_Clone_"))).toEqual([]);
    expect((await vms("site2")).filter((v) => v.folder.startsWith("DR/"))).toEqual([]);
    expect((await run("test-hr"))?.status?.cleanedUpBy).toBe("cleanup-hr");
    expect(s.cleanup?.removed.filter((e) => e.kind === "Datastore" || e.kind === "ScsiLun").length).toBeGreaterThanOrEqual(2);
    expect(await storageFaults()).toEqual([]); // unmounted, detached, then unmapped: no host lost a device it used
    expect((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.activeRun).toBeUndefined();
    expect(await site1Fingerprint()).toBe(site1Before);
    expect(await relStates()).toEqual(relationships.map(() => "snapmirrored"));
  }, 180_000);
});

describe("DR test of HR and Finance together (RP5 on NFS), cancellation and deletion", () => {
  it("recovers both groups, mounting the NFS copy under its own name on every recovery host, and cleans up", async () => {
    const protectedVms = (await vms("site1")).filter((v) => v.folder.startsWith("Protection Group 1") || v.folder.startsWith("Protection Group 2"));
    await apply("test-both", { type: "Test", protectionGroups: ["hr", "finance"], powerOn: { concurrency: 8 } });
    const r = await finished("test-both");
    expect(findCondition(r.status?.conditions, "Succeeded")).toMatchObject({ status: "True" });
    expect(r.status?.groupsSummary).toBe("finance,hr");
    const site2 = await w.lab.control<{ vms: VmTruth[]; datastores: { name: string; type: string; mounts: { host: string; accessible: boolean }[] }[] }>("GET", "/truth/sites/site2/vcenter");
    const rp5 = site2.datastores.find((d) => d.name === "RP5");
    expect(rp5?.type).toBe("NFS");
    expect(rp5?.mounts.filter((m) => m.accessible).map((m) => m.host).sort()).toEqual(["bcdr1.site2.vmbook.lab", "bcdr2.site2.vmbook.lab"]);
    const running = site2.vms.filter((v) => v.folder.startsWith("DR/") && v.powerState === "poweredOn");
    expect(running.map((v) => v.name).sort()).toEqual(protectedVms.map((v) => v.name).sort());
    expect(running.filter((v) => v.datastores.includes("RP5")).length).toBeGreaterThan(0);

    await apply("cleanup-both", { type: "CleanupTest", testRun: "test-both" });
    const c = await finished("cleanup-both");
    expect(findCondition(c.status?.conditions, "Succeeded")).toMatchObject({ status: "True", reason: "CleanedUp" });
    const after = await w.lab.control<{ vms: VmTruth[]; datastores: { name: string; mounts: { accessible: boolean }[] }[] }>("GET", "/truth/sites/site2/vcenter");
    expect(after.vms.filter((v) => v.folder.startsWith("DR/"))).toEqual([]);
    expect(after.datastores.filter((d) => d.name === "RP5" && d.mounts.some((m) => m.accessible))).toEqual([]);
    expect(await storageFaults()).toEqual([]);
    expect((await volumes("site2")).filter((v) => v.includes("_Clone_"))).toEqual([]);
    expect(await relStates()).toEqual(relationships.map(() => "snapmirrored"));
  }, 240_000);

  it("cleans up after itself when cancelled mid-run, and ends Cancelled", async () => {
    await apply("test-cancel", { type: "Test", protectionGroups: ["finance"], powerOn: { concurrency: 1 } });
    await eventually(async () => ((await run("test-cancel"))?.status?.steps?.find((x) => x.name === "RegisterVms")?.state === "Succeeded" ? true : undefined), 120_000, "the test to register its VMs");
    await w.kube.mergePatch(FailoverRunType, { namespace: ns, name: "test-cancel" }, { metadata: { annotations: { "dr.vmdr.io/cancel": "true" } } });
    const r = await finished("test-cancel");
    expect(findCondition(r.status?.conditions, "Succeeded")).toMatchObject({ status: "False", reason: "Cancelled" });
    expect(r.status?.steps?.filter((x) => x.state === "Skipped").length).toBeGreaterThan(0);
    // Every cleanup step ran; ReturnRoom has nothing to give back (the Test made no room).
    expect(r.status?.cleanupSteps?.filter((x) => x.state !== "Succeeded").map((x) => `${x.name}:${x.state}`)).toEqual(["ReturnRoom:Skipped"]);
    expect(r.status?.cleanedUpBy).toBe("test-cancel");
    expect((await vms("site2")).filter((v) => v.folder.startsWith("DR/"))).toEqual([]);
    expect((await volumes("site2")).filter((v) => v.includes("_Clone_"))).toEqual([]);
    expect((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "finance" }))?.status?.activeRun).toBeUndefined();
  }, 240_000);

  it("cleans up when a finished Test is deleted, then lets the run go", async () => {
    await apply("test-delete", { type: "Test", protectionGroups: ["hr"] });
    await finished("test-delete");
    expect((await volumes("site2")).filter((v) => v.includes("_Clone_")).length).toBe(2);
    await w.kube.delete(FailoverRunType, { namespace: ns, name: "test-delete" });
    await eventually(async () => ((await run("test-delete")) === undefined ? true : undefined), 120_000, "the deleted Test to go");
    expect((await vms("site2")).filter((v) => v.folder.startsWith("DR/"))).toEqual([]);
    expect((await volumes("site2")).filter((v) => v.includes("_Clone_"))).toEqual([]);
    expect((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.activeRun).toBeUndefined();
  }, 240_000);
});

describe("bad specs are refused before anything is touched", () => {
  const untouched = async (name: string, reason: string, message: RegExp): Promise<void> => {
    const before = await volumes("site2");
    const r = await finished(name, 60_000);
    const c = findCondition(r.status?.conditions, "Succeeded")!;
    expect(c).toMatchObject({ status: "False", reason });
    expect(c.message).toMatch(message);
    expect(r.status?.steps).toBeUndefined();
    expect(await volumes("site2")).toEqual(before);
    for (const g of ["hr", "finance"]) expect((await w.kube.get(ProtectionGroupType, { namespace: ns, name: g }))?.status?.activeRun).toBeUndefined();
  };
  const ready = (g: string) =>
    eventually(async () => (findCondition((await w.kube.get(ProtectionGroupType, { namespace: ns, name: g }))?.status?.conditions, "Ready")?.status === "True" ? true : undefined), 60_000, `${g} Ready`);

  it("refuses an unknown group", async () => {
    await apply("bad-unknown", { type: "Test", protectionGroups: ["payroll"] });
    await untouched("bad-unknown", "GroupNotFound", /no ProtectionGroup payroll/);
  });

  it("refuses priority groups that depend on each other in a cycle", async () => {
    const hr = (await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))!;
    const cyclic = { priorityGroups: [{ name: "a", priority: 1, vms: ["HR Database"], dependsOn: ["b"] }, { name: "b", priority: 2, vms: ["HR-App*"], dependsOn: ["a"] }] };
    await w.kube.mergePatch(ProtectionGroupType, { namespace: ns, name: "hr" }, { spec: { powerOn: cyclic } });
    await eventually(async () => ((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.observedGeneration === (hr.metadata.generation ?? 0) + 1 ? true : undefined), 30_000, "the change seen");
    await ready("hr");
    await apply("bad-cycle", { type: "Test", protectionGroups: ["hr"] });
    await untouched("bad-cycle", "InvalidSpec", /cycle: (a → b → a|b → a → b)/);
    await w.kube.mergePatch(ProtectionGroupType, { namespace: ns, name: "hr" }, { spec: { powerOn: hr.spec.powerOn } });
  });

  it("refuses a test portgroup that does not exist at the recovery site", async () => {
    await w.kube.mergePatch(ProtectionGroupType, { namespace: ns, name: "finance" }, { spec: { testPortgroup: "No-Such-Portgroup" } });
    await ready("finance");
    await eventually(async () => ((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "finance" }))?.spec.testPortgroup === "No-Such-Portgroup" ? true : undefined));
    await apply("bad-portgroup", { type: "Test", protectionGroups: ["finance"] });
    await untouched("bad-portgroup", "InvalidSpec", /test portgroup "No-Such-Portgroup" of ProtectionGroup finance does not exist at Site site2/);
    await w.kube.mergePatch(ProtectionGroupType, { namespace: ns, name: "finance" }, { spec: { testPortgroup: "Site2-Test-Isolated" } });
  });

  it("refuses a group that is not Ready", async () => {
    await w.kube.create(ProtectionGroupType, group("unready", "Desktops", ["no-such-relationship"]));
    await apply("bad-unready", { type: "Test", protectionGroups: ["unready"] });
    await untouched("bad-unready", "GroupNotReady", /ProtectionGroup unready is not Ready/);
  });
});
