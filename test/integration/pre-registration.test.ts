import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProtectionGroupType, ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import { eventually, NamespaceType } from "../harness/kube.js";
import { vcenterClient } from "../harness/vsphere.js";
import { World } from "../harness/world.js";

let w: World;
const ns = "dr";
beforeAll(async () => {
  w = await World.start();
  await w.kube.create(NamespaceType, { metadata: { name: ns } });
  await w.applySites();
  for (const vol of ["RG2FV1", "RG2FV2", "RG2FV3"]) {
    await w.kube.create(ReplicationRelationshipType, {
      metadata: { namespace: ns, name: vol.toLowerCase() },
      spec: { source: { siteRef: "site1", volume: vol }, destination: { siteRef: "site2", volume: `${vol}_SM` }, rpo: "2h" },
    });
  }
  w.startOperator();
});
afterAll(async () => {
  await w?.stop();
});

interface VmTruth {
  name: string;
  folder: string;
  instanceUuid: string;
  connectionState: string;
  datastores: string[];
}
const site2Vms = async (): Promise<VmTruth[]> => (await w.lab.control<{ vms: VmTruth[] }>("GET", "/truth/sites/site2/vcenter")).vms;
const clones = async (): Promise<string[]> =>
  (await w.lab.control<{ clusters: { site: string; volumes: { name: string }[] }[] }>("GET", "/truth/storage")).clusters
    .find((c) => c.site === "site2")!
    .volumes.map((v) => v.name)
    .filter((n) => n.startsWith("vmdr_"));
const pg = () => w.kube.get(ProtectionGroupType, { namespace: ns, name: "finance" });

describe("placeholder pre-registration (VMbook ch. 11) against the lab", () => {
  it("registers the Finance VMs on VMFS at Site 2 from FlexClones, removes the clones, and survives a crash mid-batch", async () => {
    await w.kube.create(ProtectionGroupType, {
      metadata: { namespace: ns, name: "finance" },
      spec: {
        protectedSiteRef: "site1",
        recoverySiteRef: "site2",
        replicationRefs: ["rg2fv1", "rg2fv2", "rg2fv3"],
        vms: { folder: "Protection Group 2" },
        shadow: { rootFolder: "DR", folderNameMapping: { prefix: "Site1-" }, resourcePool: "Site1-FinanceServers", preRegister: true, preRegisterDebounce: "1s", removalGracePeriod: "5s" },
      },
    });
    // Kill the operator once the batch is under way; the next one must finish it without duplicates.
    const running = async (): Promise<string | undefined> => (await pg())?.status?.preRegistration?.steps.find((x) => x.state === "Running")?.name;
    await eventually(async () => (["PresentClones", "RescanHosts", "MountDatastores", "FindVms", "RegisterVms"].includes((await running()) ?? "") ? true : undefined), 60_000, "the batch to be presenting, mounting or registering");
    await w.killOperator();
    w.startOperator();
    await eventually(async () => {
      const s = (await pg())?.status;
      return findCondition(s?.conditions, "ShadowInSync")?.status === "True" && !s?.preRegistration ? s : undefined;
    }, 90_000, "the batch to finish");

    const finance = (await w.lab.control<{ vms: VmTruth[] }>("GET", "/truth/sites/site1/vcenter")).vms.filter((v) => v.folder.startsWith("Protection Group 2"));
    const onVmfs = finance.filter((v) => !v.datastores.includes("RP5"));
    const placeholders = (await site2Vms()).filter((v) => v.folder.startsWith("DR/"));
    expect(placeholders.map((p) => p.name).sort()).toEqual(onVmfs.map((v) => v.name).sort());
    for (const p of placeholders) {
      const source = finance.find((f) => f.name === p.name)!;
      expect(p.instanceUuid).toBe(source.instanceUuid);
      expect(p.folder).toBe(`DR/Site1-Protection Group 2/Site1-${source.folder.split("/")[1]}`);
      expect(p.connectionState).toBe("inaccessible"); // the clone is gone; the replica is still read-only
    }
    expect(new Set(placeholders.map((p) => p.name)).size).toBe(placeholders.length); // no duplicate registrations
    expect(await clones()).toEqual([]);
    const s = (await pg())!.status!;
    expect(s.counts?.placeholders).toBe(onVmfs.length);
    // The clones went in the safe order wherever ESXi allows it; only hosts where the new
    // placeholders are registered (powered off) kept their volume until the device went.
    const faults = (await w.lab.control<{ storageFaults: { vms: string[]; running?: string[] }[] }>("GET", "/truth/sites/site2/vcenter")).storageFaults;
    for (const f of faults) {
      expect(f.running ?? []).toEqual([]);
      expect(f.vms.every((v) => onVmfs.some((x) => x.name === v))).toBe(true);
    }
  });

  it("waits for the next SnapMirror transfer before pre-registering a VM created after the last one", async () => {
    await w.lab.addVm("site1", { name: "Finance-Late", folder: "Protection Group 2/Database", datastore: "RP3", resourcePool: "FinanceServers", portgroup: "Site1-LAN" });
    const waiting = await eventually(async () => {
      const c = findCondition((await pg())?.status?.conditions, "ShadowInSync");
      return c?.reason === "AwaitingReplication" ? c : undefined;
    }, 60_000, "the group to wait for replication");
    expect(waiting.status).toBe("False");
    expect(waiting.message).toMatch(/1 VM\(s\) are newer than the replica/);
    expect((await site2Vms()).some((v) => v.name === "Finance-Late")).toBe(false);
    expect(await clones()).toEqual([]);

    await w.lab.advance("1h"); // the hourly transfer carries the new VM's files to RP3's replica
    await eventually(async () => ((await site2Vms()).some((v) => v.name === "Finance-Late" && v.folder.startsWith("DR/")) ? true : undefined), 90_000, "the late VM's placeholder");
    await eventually(async () => (findCondition((await pg())?.status?.conditions, "ShadowInSync")?.status === "True" ? true : undefined), 60_000, "the shadow to be in sync");
  });

  it("renames a placeholder when its VM is renamed at the protected site", async () => {
    const target = (await site2Vms()).find((v) => v.folder.endsWith("Site1-Database"))!;
    const { session, client } = await vcenterClient(w.lab, "site1");
    try {
      const vm = (await client.findByInventoryPath(`Site 1/vm/Protection Group 2/Database/${target.name}`))!;
      await client.rename(vm, `${target.name}-renamed`);
    } finally {
      await session.close();
    }
    await eventually(async () => ((await site2Vms()).find((v) => v.instanceUuid === target.instanceUuid)?.name === `${target.name}-renamed` ? true : undefined), 30_000, "the placeholder rename");
  });

  it("removes a placeholder after the grace period once its VM is gone from the protected site", async () => {
    const victim = (await site2Vms()).find((v) => v.folder.endsWith("Site1-Application"))!.name;
    const { session, client } = await vcenterClient(w.lab, "site1");
    try {
      const vm = (await client.findByInventoryPath(`Site 1/vm/Protection Group 2/Application/${victim}`))!;
      const off = await client.powerOff(vm);
      if (off !== "Done") await eventually(async () => ((await client.getTasks([off.task]))[0]?.state === "success" ? true : undefined));
      const t = await client.destroy(vm);
      await eventually(async () => ((await client.getTasks([t.task]))[0]?.state === "success" ? true : undefined));
    } finally {
      await session.close();
    }
    expect((await site2Vms()).some((v) => v.name === victim)).toBe(true); // kept during the grace period
    await eventually(async () => ((await site2Vms()).some((v) => v.name === victim) ? undefined : true), 30_000, "the placeholder to go");
  });

  it("with deletionPolicy Remove, deleting the group waits for Site 2's vCenter, then removes its placeholders, shadow folders and the pool it made", async () => {
    const poolPath = "Site 2/host/Site2-BCDR/Resources/Site1-FinanceServers";
    await w.kube.mergePatch(ProtectionGroupType, { namespace: ns, name: "finance" }, { spec: { shadow: { deletionPolicy: "Remove" } } });
    await eventually(async () => ((await pg())?.status?.observedGeneration === 2 ? true : undefined), 20_000, "the policy change to be seen");
    expect((await pg())?.status?.createdPool).toBe("Site1-FinanceServers");
    const { session, client } = await vcenterClient(w.lab, "site2");
    try {
      expect(await client.findByInventoryPath(poolPath)).toBeDefined();
      // The operator restarts while Site 2's vCenter is down: it cannot see the shadow objects, so
      // the deletion is held (not skipped) until it can.
      await w.killOperator();
      await w.lab.vcenterDown("site2", "reset");
      w.startOperator();
      await w.kube.delete(ProtectionGroupType, { namespace: ns, name: "finance" });
      const held = await eventually(async () => {
        const c = findCondition((await pg())?.status?.conditions, "Ready");
        return c?.reason === "WaitingForInventory" && c.message.includes("deletionPolicy Remove") ? c : undefined;
      }, 30_000, "the deletion to wait");
      expect(held.message).toContain("site2");
      expect(await pg()).toBeDefined();
      await w.lab.vcenterDown("site2", "up");
      await eventually(async () => ((await pg()) === undefined ? true : undefined), 90_000, "the group to be deleted");
      expect((await site2Vms()).filter((v) => v.folder.startsWith("DR/"))).toEqual([]);
      expect(await client.findByInventoryPath("Site 2/vm/DR/Site1-Protection Group 2")).toBeUndefined();
      expect(await client.findByInventoryPath(poolPath)).toBeUndefined();
    } finally {
      await session.close();
    }
  });
});
