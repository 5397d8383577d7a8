import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProtectionGroupType, ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { ProtectionGroup } from "../../src/api/v1alpha1/index.js";
import { ConfigMapType, GROUP_LABEL } from "../../src/controllers/protection-group/records.js";
import type { ShadowRecord } from "../../src/controllers/protection-group/records.js";
import { eventually, NamespaceType } from "../harness/kube.js";
import { vcenterClient } from "../harness/vsphere.js";
import { World } from "../harness/world.js";

let w: World;
const ns = "dr";
beforeAll(async () => {
  w = await World.start();
  await w.kube.create(NamespaceType, { metadata: { name: ns } });
  await w.applySites();
  for (const [name, vol] of [["rg1fv1", "RG1FV1"], ["rg1fv2", "RG1FV2"], ["rg2fv1", "RG2FV1"], ["rg2fv2", "RG2FV2"], ["rg2fv3", "RG2FV3"]] as const) {
    await w.kube.create(ReplicationRelationshipType, {
      metadata: { namespace: ns, name },
      spec: { source: { siteRef: "site1", volume: vol }, destination: { siteRef: "site2", volume: `${vol}_SM` }, rpo: "2h" },
    });
  }
  w.startOperator(["--resync-period=30s"]);
});
afterAll(async () => {
  await w?.stop();
});

function group(name: string, folder: string, refs: string[], extra: Partial<ProtectionGroup["spec"]["shadow"]> = {}): ProtectionGroup {
  return {
    metadata: { namespace: ns, name },
    spec: {
      protectedSiteRef: "site1",
      recoverySiteRef: "site2",
      replicationRefs: refs,
      vms: { folder },
      shadow: { rootFolder: "DR-virtual machines", folderNameMapping: { prefix: "Site1-" }, resourcePool: `Site1-${name}`, ...extra },
    },
  };
}

const pg = (name: string) => w.kube.get(ProtectionGroupType, { namespace: ns, name });
function cond(name: string, type: string, status: "True" | "False", reason?: string, timeoutMs = 40_000) {
  return eventually(async () => {
    const c = findCondition((await pg(name))?.status?.conditions, type);
    return c?.status === status && (reason === undefined || c.reason === reason) ? c : undefined;
  }, timeoutMs, `${name} ${type}=${status}${reason ? ` (${reason})` : ""}`);
}
async function records(name: string): Promise<Map<string, ShadowRecord>> {
  const list = await w.kube.list(ConfigMapType, { namespace: ns, labelSelector: `${GROUP_LABEL}=${name}` });
  const m = new Map<string, ShadowRecord>();
  for (const cm of list.items) for (const [k, v] of Object.entries(cm.data ?? {})) m.set(k, JSON.parse(v) as ShadowRecord);
  return m;
}
const recordNamed = async (group: string, vm: string) => [...(await records(group)).values()].find((r) => r.name === vm);
const site2Path = async (path: string) => {
  const { session, client } = await vcenterClient(w.lab, "site2");
  try {
    return await client.findByInventoryPath(`Site 2/${path}`);
  } finally {
    await session.close();
  }
};
const site2Folder = (path: string) => site2Path(`vm/${path}`);
const site2Pool = (path: string) => site2Path(`host/Site2-BCDR/Resources/${path}`);

describe("ProtectionGroup controller (real kube-apiserver + lab)", () => {
  it("mirrors the HR folder tree and pool at Site 2 and records every HR VM", async () => {
    await w.kube.create(ProtectionGroupType, group("hr", "Protection Group 1", ["rg1fv1", "rg1fv2"]));
    await cond("hr", "Ready", "True", undefined, 60_000);
    const s = (await pg("hr"))!.status!;
    expect(s.counts).toEqual({ members: 6, shadowed: 6, placeholders: 0, problems: 0 });
    expect(await w.metric("vmdr_protection_group_vms", { namespace: ns, name: "hr", state: "shadowed" })).toBe(6);
    expect(await w.metric("vmdr_protection_group_condition", { namespace: ns, name: "hr", type: "Ready", status: "True" })).toBe(1);
    expect(s.datastores).toEqual(["RP1", "RP2"]);
    expect(s.volumes).toEqual([
      { relationship: "rg1fv1", volume: "RG1FV1", datastores: ["RP1"], protocol: "SAN" },
      { relationship: "rg1fv2", volume: "RG1FV2", datastores: ["RP2"], protocol: "SAN" },
    ]);
    expect(await site2Folder("DR-virtual machines/Site1-Protection Group 1/Site1-Database")).toBeDefined();
    expect(await site2Folder("DR-virtual machines/Site1-Protection Group 1/Site1-Application")).toBeDefined();
    expect(await site2Pool("Site1-hr")).toBeDefined();
    expect(s.createdPool).toBe("Site1-hr");
    const db = await recordNamed("hr", "HR Database");
    expect(db).toMatchObject({ protectedFolder: "Protection Group 1/Database", shadowFolder: "DR-virtual machines/Site1-Protection Group 1/Site1-Database", shadowed: true, datastores: ["RP1"] });
  });

  it("follows a VM created in the HR folder, then renamed and moved between HR sub-folders", async () => {
    await w.lab.addVm("site1", { name: "HR-Payroll", folder: "Protection Group 1/Application", datastore: "RP2", resourcePool: "HRServers", portgroup: "Site1-LAN" });
    const r = await eventually(() => recordNamed("hr", "HR-Payroll"), 20_000, "the new VM's shadow record");
    expect(r.shadowFolder).toBe("DR-virtual machines/Site1-Protection Group 1/Site1-Application");
    const { session, client } = await vcenterClient(w.lab, "site1");
    try {
      const vm = (await client.findByInventoryPath("Site 1/vm/Protection Group 1/Application/HR-Payroll"))!;
      await client.rename(vm, "HR-Payroll2");
      await eventually(() => recordNamed("hr", "HR-Payroll2"), 20_000, "the rename");
      const dbFolder = (await client.findByInventoryPath("Site 1/vm/Protection Group 1/Database"))!;
      await client.moveIntoFolder(dbFolder, [vm]);
      await eventually(async () => ((await recordNamed("hr", "HR-Payroll2"))?.shadowFolder.endsWith("Site1-Database") ? true : undefined), 20_000, "the move");
    } finally {
      await session.close();
    }
    await cond("hr", "Ready", "True");
    expect((await pg("hr"))!.status!.counts?.members).toBe(7);
  });

  it("mirrors folders added and renamed at Site 1, and deletes a stale shadow folder only once it is empty", async () => {
    const shadow = "DR-virtual machines/Site1-Protection Group 1";
    const { session, client } = await vcenterClient(w.lab, "site1");
    try {
      const parent = (await client.findByInventoryPath("Site 1/vm/Protection Group 1"))!;
      const reporting = await client.createFolder(parent, "Reporting");
      await eventually(() => site2Folder(`${shadow}/Site1-Reporting`), 20_000, "the added folder's shadow");

      await client.rename(reporting, "Analytics");
      await eventually(() => site2Folder(`${shadow}/Site1-Analytics`), 20_000, "the renamed folder's shadow");
      await eventually(async () => ((await site2Folder(`${shadow}/Site1-Reporting`)) ? undefined : true), 20_000, "the empty stale shadow to go");

      // Someone keeps a VM in the Analytics shadow at Site 2: removing Analytics at Site 1 must not delete it.
      await w.lab.addVm("site2", { name: "Kept-In-Shadow", folder: `${shadow}/Site1-Analytics`, datastore: "LP1", portgroup: "Site2-LAN" });
      await client.destroy(reporting);
      await eventually(async () => ((await client.findByInventoryPath("Site 1/vm/Protection Group 1/Analytics")) ? undefined : true), 20_000, "the folder to go at Site 1");
      await cond("hr", "Ready", "True");
      await w.afterPasses("protectiongroup", 4); // several more passes of the (event-driven) controller
      expect(await site2Folder(`${shadow}/Site1-Analytics`)).toBeDefined();
      expect((await w.lab.vm<{ folder: string }>("site2", "Kept-In-Shadow")).folder).toBe(`${shadow}/Site1-Analytics`);
    } finally {
      await session.close();
    }
  });

  it("reports a stray VM and a VM with files outside the group's datastores, and changes nothing", async () => {
    await w.lab.addVm("site1", { name: "Stray-On-RP2", folder: "Desktops", datastore: "RP2", portgroup: "Site1-LAN" });
    await w.lab.addVm("site1", { name: "HR-On-Finance", folder: "Protection Group 1/Application", datastore: "RP3", resourcePool: "HRServers", portgroup: "Site1-LAN" });
    const c = await cond("hr", "Aligned", "False");
    expect(c.message).toMatch(/problem/);
    // The two VMs may reach the group in separate reconciles: wait until both are reported.
    const problems = await eventually(async () => {
      const p = (await pg("hr"))!.status?.problems ?? [];
      return p.some((x) => x.subject === "HR-On-Finance") && p.some((x) => x.subject === "Stray-On-RP2") ? p : undefined;
    }, 30_000, "both problems reported");
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: "StrayVm", subject: "Stray-On-RP2", message: expect.stringContaining("RP2") }),
        expect.objectContaining({ kind: "VmOutsideGroupDatastores", subject: "HR-On-Finance", message: expect.stringContaining("RP3") }),
      ]),
    );
    expect((await pg("hr"))!.status!.counts?.problems).toBe(problems.length);
    expect(findCondition((await pg("hr"))!.status!.conditions, "Ready")?.status).toBe("False");
    // Nothing was moved or changed at the protected site.
    expect((await w.lab.vm<{ folder: string }>("site1", "Stray-On-RP2")).folder).toBe("Desktops");
    expect((await w.lab.vm<{ folder: string }>("site1", "HR-On-Finance")).folder).toBe("Protection Group 1/Application");
  });

  it("refuses an invalid group with a clear reason and creates nothing for it", async () => {
    await w.kube.create(ProtectionGroupType, { ...group("ghost", "Ghost", ["rg1fv1"]), spec: { ...group("ghost", "Ghost", ["rg1fv1"]).spec, recoverySiteRef: "site9" } });
    const c1 = await cond("ghost", "Ready", "False", "SiteNotFound");
    expect(c1.message).toContain("site9");
    await w.kube.create(ProtectionGroupType, group("norel", "Nothing", ["does-not-exist"]));
    expect((await cond("norel", "Ready", "False", "RelationshipNotFound")).message).toContain(`${ns}/does-not-exist`);
    await w.kube.create(ProtectionGroupType, group("clash", "Protection Group 1", ["rg1fv1"]));
    expect((await cond("clash", "Ready", "False", "InvalidSpec")).message).toMatch(/overlaps .* of ProtectionGroup dr\/hr/);
    expect(await site2Folder("DR-virtual machines/Site1-Ghost")).toBeUndefined();
    expect(await site2Folder("DR-virtual machines/Site1-Nothing")).toBeUndefined();
  });

  it("with the default deletionPolicy Retain, deleting a group leaves its shadow folders and pool at Site 2", async () => {
    await w.kube.delete(ProtectionGroupType, { namespace: ns, name: "hr" });
    await eventually(async () => ((await pg("hr")) === undefined ? true : undefined), 30_000, "hr to be deleted");
    expect(await site2Folder("DR-virtual machines/Site1-Protection Group 1/Site1-Database")).toBeDefined();
    expect(await site2Pool("Site1-hr")).toBeDefined();
  });
});
