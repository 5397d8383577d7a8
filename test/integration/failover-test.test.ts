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
    expect(s.steps?.map((x) => [x.name, x.state])).toEqual(s.plan!.steps.map((n) => [n, "Succeeded"]));
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
    // Production: relationships untouched, Site 1 unchanged.
    expect(await relStates()).toEqual(relationships.map(() => "snapmirrored"));
    expect(await site1Fingerprint()).toBe(site1Before);
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
    expect((await w.kube.get(ProtectionGroupType, { namespace: ns, name: "hr" }))?.status?.activeRun).toBeUndefined();
    expect(await site1Fingerprint()).toBe(site1Before);
    expect(await relStates()).toEqual(relationships.map(() => "snapmirrored"));
  }, 180_000);
});
