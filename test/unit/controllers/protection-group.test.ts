import { describe, expect, it } from "vitest";
import { alignmentProblems, globToRegExp, members } from "../../../src/controllers/protection-group/membership.js";
import { overlaps, shadowFolderPath, shadowName, shadowSubtree } from "../../../src/controllers/protection-group/shadow.js";
import type { ReplicationRelationship } from "../../../src/api/v1alpha1/index.js";
import { replicasUnchanged } from "../../../src/controllers/protection-group/placeholders.js";
import { naaOfSerial } from "../../../src/controllers/protection-group/datastores.js";
import { shardOf, SHARDS } from "../../../src/controllers/protection-group/records.js";
import { removeCreatedPools } from "../../../src/controllers/protection-group/shadow-sync.js";
import type { ProtectionGroup } from "../../../src/api/v1alpha1/index.js";
import { createLogger } from "../../../src/log/logger.js";
import { InventoryIndex } from "../../../src/sites/inventory-index.js";
import type { VcenterClient } from "../../../src/vsphere/vcenter.js";
import type { InventoryObject, MoRef } from "../../../src/vsphere/types.js";

const ref = (type: string, value: string): MoRef => ({ type, value });
const silent = createLogger({ level: "silent" });
const folder = (id: string, name: string, parent: MoRef): InventoryObject => ({ kind: "Folder", info: { ref: ref("Folder", id), name, parent, childType: [] } });
const ds = (id: string, name: string): InventoryObject => ({ kind: "Datastore", info: { ref: ref("Datastore", id), name, accessible: true, vmfsExtents: [`naa.${id}`], hosts: [], type: "VMFS" } });
const vm = (name: string, parent: string, datastores: string[], uuid = `uuid-${name}`): InventoryObject => ({
  kind: "VirtualMachine",
  info: { ref: ref("VirtualMachine", `vm-${name}`), name, parent: ref("Folder", parent), instanceUuid: uuid, datastores: datastores.map((d) => ref("Datastore", d)), networks: [], template: false },
});

const dc = ref("Datacenter", "dc-1");
const inv = new InventoryIndex([
  folder("f-vm", "vm", dc),
  folder("f-pg1", "Protection Group 1", ref("Folder", "f-vm")),
  folder("f-db", "Database", ref("Folder", "f-pg1")),
  folder("f-app", "Application", ref("Folder", "f-pg1")),
  folder("f-desk", "Desktops", ref("Folder", "f-vm")),
  ds("ds-rp1", "RP1"),
  ds("ds-rp2", "RP2"),
  ds("ds-rp3", "RP3"),
  vm("HR Database", "f-db", ["ds-rp1"]),
  vm("HR-App1", "f-app", ["ds-rp2"]),
  vm("HR-Split", "f-app", ["ds-rp1", "ds-rp3"]),
  vm("Desk-On-RP2", "f-desk", ["ds-rp2"]),
  vm("Desktop-01", "f-desk", ["ds-rp3"]),
]);

describe("ProtectionGroup membership and alignment", () => {
  it("finds VMs in the group folder recursively, by name pattern, minus exclusions", () => {
    expect(members({ folder: "Protection Group 1" }, inv).map((m) => m.vm.name)).toEqual(["HR Database", "HR-App1", "HR-Split"]);
    expect(members({ folder: "Protection Group 1", excludeNames: ["HR-Split"] }, inv).map((m) => m.vm.name)).toEqual(["HR Database", "HR-App1"]);
    expect(members({ namePatterns: ["Desk*"] }, inv).map((m) => m.vm.name)).toEqual(["Desk-On-RP2", "Desktop-01"]);
    expect(members({ folder: "Protection Group 1" }, inv).find((m) => m.vm.name === "HR Database")?.folderPath).toBe("Protection Group 1/Database");
  });

  it("reports files outside the group, strays on its datastores, shared datastores and double membership", () => {
    const group = members({ folder: "Protection Group 1" }, inv);
    const problems = alignmentProblems(group, new Set(["Datastore:ds-rp1", "Datastore:ds-rp2"]), inv, [
      { id: "dr/finance", datastores: new Set(["Datastore:ds-rp2"]), members: new Set(["uuid-HR-App1"]) },
    ]);
    expect(problems.map((p) => `${p.kind} ${p.subject}`)).toEqual([
      "SharedDatastore RP2",
      "StrayVm Desk-On-RP2",
      "VmInMultipleGroups HR-App1",
      "VmOutsideGroupDatastores HR-Split",
    ]);
    expect(problems.find((p) => p.kind === "VmOutsideGroupDatastores")?.message).toContain("RP3");
  });

  it("turns globs into anchored patterns and escapes the rest", () => {
    expect(globToRegExp("HR-App?").test("HR-App1")).toBe(true);
    expect(globToRegExp("HR-App?").test("HR-App12")).toBe(false);
    expect(globToRegExp("a.b").test("axb")).toBe(false);
  });
});

describe("shadow layout", () => {
  const layout = { rootFolder: "DR-virtual machines", resourcePool: "p", folderNameMapping: { prefix: "Site1-", rules: [{ from: "Database", to: "DB" }] } };
  it("maps the group folder tree below the shadow root with rules first, then the prefix", () => {
    expect(shadowName("Application", layout.folderNameMapping)).toBe("Site1-Application");
    expect(shadowName("Database", layout.folderNameMapping)).toBe("DB");
    expect(shadowFolderPath("Protection Group 2/Database", "Protection Group 2", layout)).toBe("DR-virtual machines/Site1-Protection Group 2/DB");
    expect(shadowFolderPath("Elsewhere/Web", "Protection Group 2", layout)).toBe("DR-virtual machines/Site1-Web");
    expect(shadowSubtree("Protection Group 2", layout)).toBe("DR-virtual machines/Site1-Protection Group 2");
  });
  it("detects overlapping subtrees but not siblings", () => {
    expect(overlaps("DR/Site1-HR", "DR/Site1-HR")).toBe(true);
    expect(overlaps("DR", "DR/Site1-HR")).toBe(true);
    expect(overlaps("DR/Site1-HR", "DR/Site1-HRX")).toBe(false);
  });
});

describe("storage identities and record shards", () => {
  it("derives NetApp NAA names from LUN serial numbers", () => {
    expect(naaOfSerial("wf0Iq+N4uck3")).toBe("naa.600a098077663049712b4e3475636b33");
    expect(naaOfSerial("ABC")).toBe("naa.600a0980414243");
  });
  it("spreads records over every shard", () => {
    const used = new Set(Array.from({ length: 2000 }, (_, i) => shardOf(`uuid-${i}`)));
    expect(used.size).toBe(SHARDS);
  });
});

describe("pre-registration waiting for replication", () => {
  const rr = (name: string, volume: string, newest?: string): ReplicationRelationship => ({
    metadata: { namespace: "dr", name },
    spec: { source: { siteRef: "site1", volume: volume.replace(/_SM$/, "") }, destination: { siteRef: "site2", volume }, rpo: "1h" },
    ...(newest ? { status: { newestSnapshot: { name: newest } } } : {}),
  });
  const cloned = new Map([["RG1FV1_SM", "snap.0900"], ["RG1FV2_SM", "snap.0900"]]);

  it("keeps waiting while every relationship is still at the snapshot its clone was made from", () => {
    expect(replicasUnchanged({ relationships: [rr("a", "RG1FV1_SM", "snap.0900"), rr("b", "RG1FV2_SM", "snap.0900")] }, cloned)).toBe(true);
  });

  it("stops waiting once any relationship reports a newer snapshot, even one that finished during the batch", () => {
    expect(replicasUnchanged({ relationships: [rr("a", "RG1FV1_SM", "snap.0900"), rr("b", "RG1FV2_SM", "snap.1000")] }, cloned)).toBe(false);
  });

  it("ignores relationships whose volumes the batch did not clone", () => {
    expect(replicasUnchanged({ relationships: [rr("a", "RG1FV1_SM", "snap.0900"), rr("c", "RG1FV9_SM", "snap.1234")] }, cloned)).toBe(true);
  });
});

describe("deletionPolicy Remove and the resource pools a group created", () => {
  const cluster = ref("ClusterComputeResource", "c-1");
  const root = ref("ResourcePool", "rp-root");
  const pool = (id: string, name: string, parent: MoRef): InventoryObject => ({ kind: "ResourcePool", info: { ref: ref("ResourcePool", id), name, parent, owner: cluster } });
  const vmIn = (name: string, rp: string): InventoryObject => ({
    kind: "VirtualMachine",
    info: { ref: ref("VirtualMachine", `vm-${name}`), name, resourcePool: ref("ResourcePool", rp), datastores: [], networks: [], template: false },
  });
  // Site 2: Site1-Finance (made by the group) with Tier1 and Tier2 below it.
  const base = [
    { kind: "ComputeResource", info: { ref: cluster, name: "Site2-BCDR", resourcePool: root, hosts: [] } } as InventoryObject,
    pool("rp-root", "Resources", cluster),
    pool("rp-fin", "Site1-Finance", root),
    pool("rp-t1", "Tier1", ref("ResourcePool", "rp-fin")),
    pool("rp-t2", "Tier2", ref("ResourcePool", "rp-fin")),
  ];
  const group = { spec: { shadow: { resourcePool: "Site1-Finance/Tier1" } } } as unknown as ProtectionGroup;
  async function removeOnce(objects: InventoryObject[], othersUse: string[] = []) {
    const destroyed: string[] = [];
    const client = { destroy: (r: MoRef) => (destroyed.push(r.value), Promise.resolve({ type: "Task", value: "t" })) } as unknown as VcenterClient;
    const outcome = await removeCreatedPools({ pg: group, rec: new InventoryIndex(objects), client, created: "Site1-Finance", othersUse, log: silent, signal: AbortSignal.timeout(1_000) });
    return { outcome, destroyed };
  }

  it("removes its own pool first, then the parent it created once that is empty", async () => {
    const alone = base.filter((o) => o.info.ref.value !== "rp-t2");
    expect(await removeOnce(alone)).toEqual({ outcome: "removing", destroyed: ["rp-t1"] });
    const parentOnly = alone.filter((o) => o.info.ref.value !== "rp-t1");
    expect(await removeOnce(parentOnly)).toEqual({ outcome: "removing", destroyed: ["rp-fin"] });
    expect(await removeOnce(parentOnly.filter((o) => o.info.ref.value !== "rp-fin"))).toEqual({ outcome: "done", destroyed: [] });
  });

  it("never destroys a pool beside its own, with VMs in it, or that another group uses or lives below", async () => {
    // Tier2 appeared below the pool the group created: not the group's; it keeps Site1-Finance alive.
    const afterOwn = base.filter((o) => o.info.ref.value !== "rp-t1");
    expect(await removeOnce(afterOwn)).toEqual({ outcome: { kept: ["Site1-Finance"] }, destroyed: [] });
    const occupied = [...base.filter((o) => o.info.ref.value !== "rp-t2"), vmIn("someone's VM", "rp-t1")];
    expect(await removeOnce(occupied)).toEqual({ outcome: { kept: ["Site1-Finance/Tier1", "Site1-Finance"] }, destroyed: [] });
    const alone = base.filter((o) => o.info.ref.value !== "rp-t2");
    expect(await removeOnce(alone, ["Site1-Finance/Tier1"])).toEqual({ outcome: { kept: ["Site1-Finance/Tier1", "Site1-Finance"] }, destroyed: [] });
    expect(await removeOnce(alone, ["Site1-Finance/Tier3"])).toEqual({ outcome: "removing", destroyed: ["rp-t1"] });
  });
});
