import { describe, expect, it } from "vitest";
import { naaOfSerial } from "../../../src/controllers/protection-group/datastores.js";
import { PermanentError, TransientError } from "../../../src/runtime/errors.js";
import { DONE } from "../../../src/vsphere/client.js";
import { isFault } from "../../../src/vsphere/errors.js";
import type { TaskRef } from "../../../src/vsphere/types.js";
import { VMBOOK_SITE2, vsphereContract } from "../../contract/vsphere.contract.js";
import { vmbookSite2 } from "../../fakes/vsphere.js";
import type { FakeVsphere, FakeVmxSpec } from "../../fakes/vsphere.js";

const names = VMBOOK_SITE2;

const BCDR = names.hosts.map((h) => h.name);
/** What Site 1's VMs carry: a distributed port of Site 1's switch, which does not resolve at Site 2. */
const site1Nic = { portgroup: "Site1-LAN", switchUuid: "4b010eea-1471-5652-989e-a828266d1fe4", portgroupKey: "dvportgroup-51" };
const fromSite1 = (name: string): FakeVmxSpec => ({ name, nics: [site1Nic], copied: true });

describe("FakeVsphere honours the VsphereClient contract", () => {
  vsphereContract(names, () => {
    const w = vmbookSite2();
    let copies = 0;
    let exports = 0;
    return Promise.resolve({
      client: w.client(),
      presentCopy: () => {
        const device = naaOfSerial(`contract${String(++copies).padStart(4, "0")}`);
        w.addUnresolvedCopy({ label: "RP1", device, hosts: BCDR, vms: ["HR Database", "HR-App1", "HR-App3"].map(fromSite1) });
        return Promise.resolve(device);
      },
      nfsExport: () => {
        const remotePath = `/vmdr_contract_nfs${++exports}`;
        w.addNfsExport("30.1.1.50", remotePath, { hosts: BCDR, vms: ["Finance-App1", "Finance-App4"].map(fromSite1) });
        return Promise.resolve({ remoteHost: "30.1.1.50", remotePath });
      },
      failNextTask: (method, fault) => Promise.resolve(void w.failNextTask(method, fault)),
      holdTasks: (method) => Promise.resolve(void w.holdTasks(method)),
      releaseTasks: () => Promise.resolve(void w.releaseTasks()),
      setReachable: (reachable) => Promise.resolve(void w.setReachable(reachable)),
      tick: () => Promise.resolve(void w.tick()),
    });
  });
});

describe("FakeVsphere's controls for step tests", () => {
  const dev3 = async (w: FakeVsphere) => (await w.client().findByInventoryPath("Site 2/vm/Development/Dev-03"))!;

  it("runs tasks by their timing: on the first poll, at once, or when told", async () => {
    for (const [timing, states] of [["onPoll", ["success"]], ["immediate", ["success"]], ["manual", ["running", "running", "success"]]] as const) {
      const w = vmbookSite2({ taskTiming: timing });
      const c = w.client();
      const t = (await c.powerOn(await dev3(w))) as TaskRef;
      const seen = [(await c.getTasks([t.task]))[0]!.state, ...(timing === "manual" ? [(await c.getTasks([t.task]))[0]!.state] : [])];
      if (timing === "manual") w.completeTasks();
      if (timing === "manual") seen.push((await c.getTasks([t.task]))[0]!.state);
      expect([timing, seen]).toEqual([timing, states]);
      expect(w.tasks()).toEqual([expect.objectContaining({ ref: t.task, name: "PowerOnVM_Task", state: "success" })]);
    }
  });

  it("holds the tasks of a method until released, whatever the timing", async () => {
    const w = vmbookSite2({ taskTiming: "immediate" }).holdTasks("PowerOnVM_Task");
    const c = w.client();
    const t = (await c.powerOn(await dev3(w))) as TaskRef;
    expect((await c.getTasks([t.task]))[0]!.state).toBe("running");
    expect(w.index().vms.find((v) => v.name === "Dev-03")?.powerState).toBe("poweredOff");
    w.releaseTasks("PowerOnVM_Task");
    expect((await c.getTasks([t.task]))[0]!.state).toBe("success");
    expect(w.index().vms.find((v) => v.name === "Dev-03")?.powerState).toBe("poweredOn");
  });

  it("fails the next call of a method with a fault, classified as the real client classifies it, once", async () => {
    const w = vmbookSite2().failNextCall("rescanAllHba", "HostConfigFault").failNextCall("powerOn", "NoPermission");
    const c = w.client();
    const ss = w.index().hosts.values().next().value!.storageSystem!;
    const rescan = await c.rescanAllHba(ss).catch((e: unknown) => e);
    expect(rescan).toBeInstanceOf(TransientError);
    expect(isFault(rescan, "HostConfigFault")).toBe(true);
    await c.rescanAllHba(ss);
    const on = await c.powerOn(await dev3(w)).catch((e: unknown) => e);
    expect(on).toBeInstanceOf(PermanentError);
    expect((on as PermanentError).reason).toBe("NoPermission");
    expect(w.callCount("rescanAllHba")).toBe(2);
    expect(w.callCount("powerOn")).toBe(1);
    expect(w.mutations.filter((m) => m.startsWith("PowerOn"))).toEqual([]);
  });

  it("fails the next task of a method on one entity only, without doing its work", async () => {
    const w = vmbookSite2().failNextTask("PowerOnVM_Task", "InvalidState", { entity: "Dev-04" });
    const c = w.client();
    const on3 = (await c.powerOn(await dev3(w))) as TaskRef;
    const on4 = (await c.powerOn((await c.findByInventoryPath("Site 2/vm/Development/Dev-04"))!)) as TaskRef;
    const [s3, s4] = await c.getTasks([on3.task, on4.task]);
    expect([s3!.state, s4!.state, s4!.error?.faultType]).toEqual(["success", "error", "InvalidState"]);
    expect(w.index().vms.filter((v) => v.powerState === "poweredOn").map((v) => v.name).sort()).toEqual(["Dev-01", "Dev-02", "Dev-03", "Site2-DC1", "Site2-DNS1"]);
  });

  it("mounts a copy by label at a rescan on a host with LVM.DisallowSnapshotLun=0, as ESX 3 did", async () => {
    const device = naaOfSerial("bylabel0001");
    const w = vmbookSite2().addUnresolvedCopy({ label: "RP1", device, hosts: BCDR });
    const c = w.client();
    const [h1, h2] = [...w.index().hosts.values()].filter((h) => BCDR.includes(h.name)).sort((a, b) => a.name.localeCompare(b.name));
    await c.updateOptions(h1!.advancedOption!, [{ key: "LVM.DisallowSnapshotLun", value: 0, type: "long" }]);
    await c.rescanAllHba(h1!.storageSystem!);
    await c.rescanAllHba(h2!.storageSystem!);
    expect((await c.getHostVolumes(h1!.storageSystem!)).find((v) => v.extents.includes(device))).toMatchObject({ name: "RP1", mounted: true });
    expect((await c.queryUnresolvedVmfsVolumes(h2!.storageSystem!)).map((u) => u.extents[0]?.device)).toEqual([device]);
  });

  it("builds an InventoryIndex a RunWorld can hand to the steps, and counts calls per method", async () => {
    const w = vmbookSite2();
    const idx = w.index();
    expect(idx.datacenter?.name).toBe("Site 2");
    expect(idx.folderByPath("Development")).toBeDefined();
    expect(idx.poolPath(idx.vms.find((v) => v.name === "Dev-01")?.resourcePool)).toBe("Development");
    const c = w.client();
    expect(await c.powerOff(await dev3(w))).toBe(DONE);
    expect(await c.powerOff(await dev3(w))).toBe(DONE);
    expect([w.callCount("powerOff"), w.callCount("findByInventoryPath"), w.callCount("powerOn")]).toEqual([2, 2, 0]);
    w.setReachable(false);
    const err = await c.findDatacenter("Site 2").catch((e: unknown) => e);
    expect((err as TransientError).reason).toBe("VCenterUnreachable");
  });

  it("refuses an int for a long host option, as ESXi does (the lab takes it)", async () => {
    const w = vmbookSite2();
    const c = w.client();
    const om = w.index().hosts.values().next().value!.advancedOption!;
    const err = await c.updateOptions(om, [{ key: "LVM.DisallowSnapshotLun", value: 0 }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).reason).toBe("InvalidArgument");
    expect(await c.queryOptions(om, "LVM.DisallowSnapshotLun")).toEqual([{ key: "LVM.DisallowSnapshotLun", value: "1" }]);
  });

  it("leaves a VM on a read-only copy neither mounted nor unresolved (a mirror destination), and resolvable once writable", async () => {
    const device = naaOfSerial("readonly001");
    const w = vmbookSite2().addUnresolvedCopy({ label: "RP1", device, hosts: BCDR, readOnly: true });
    const c = w.client();
    const h = [...w.index().hosts.values()].find((x) => x.name === BCDR[0])!;
    await c.rescanAllHba(h.storageSystem!);
    expect((await c.getHostScsiLuns(h.storageSystem!)).map((l) => l.canonicalName)).toContain(device);
    expect(await c.queryUnresolvedVmfsVolumes(h.storageSystem!)).toEqual([]);
    w.setReadOnly(device, false);
    await c.rescanAllHba(h.storageSystem!);
    expect((await c.queryUnresolvedVmfsVolumes(h.storageSystem!)).map((u) => u.label)).toEqual(["RP1"]);
  });
});
