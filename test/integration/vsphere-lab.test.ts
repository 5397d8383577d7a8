import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { noExternalMetrics } from "../../src/metrics/external.js";
import { systemClock } from "../../src/util/clock.js";
import { createOntapClient } from "../../src/ontap/rest.js";
import type { OntapClient } from "../../src/ontap/client.js";
import { isJobRef } from "../../src/ontap/jobs.js";
import { classifyVsphereError, faultOf, isFault, VimFault } from "../../src/vsphere/errors.js";
import { TransportError } from "../../src/net/http.js";
import { SessionCache, VsphereSession } from "../../src/vsphere/session.js";
import { readSearchResults, resultRef } from "../../src/vsphere/tasks.js";
import { readResolutionResults } from "../../src/vsphere/host-storage.js";
import type { TaskState } from "../../src/vsphere/tasks.js";
import { DONE } from "../../src/vsphere/client.js";
import type { VcenterClient } from "../../src/vsphere/vcenter.js";
import type { DatastoreInfo, HostInfo, InventoryObject, NetworkInfo, TaskRef } from "../../src/vsphere/types.js";
import { PermanentError, TransientError } from "../../src/runtime/errors.js";
import { Lab } from "../harness/lab.js";
import { eventually } from "../harness/kube.js";
import { capturingLogger } from "../harness/logs.js";
import { vcenterClient, vcenterOptions } from "../harness/vsphere.js";

let lab: Lab;
beforeAll(async () => {
  lab = await Lab.start();
});
afterAll(async () => {
  await lab.stop();
});

type InfoOf<K extends InventoryObject["kind"]> = Extract<InventoryObject, { kind: K }>["info"];
const byKind = <K extends InventoryObject["kind"]>(objs: InventoryObject[], kind: K): InfoOf<K>[] =>
  objs.filter((o) => o.kind === kind).map((o) => o.info as InfoOf<K>);

/** Polls tasks until they end (tests may wait; reconcilers never do). */
async function finish(client: VcenterClient, t: TaskRef | typeof DONE, advance?: () => Promise<unknown>): Promise<TaskState | undefined> {
  if (t === DONE) return undefined;
  return eventually(async () => {
    const [s] = await client.getTasks([t.task]);
    if (s && (s.state === "success" || s.state === "error")) return s;
    await advance?.();
    return undefined;
  }, 30_000, `task ${t.task.value}`);
}

describe("VsphereClient against the lab's vCenter", () => {
  it("hands every failure over classified, with the vCenter fault kept as its cause", async () => {
    const { session, client } = await vcenterClient(lab, "site1");
    try {
      const err = await client.unregisterVm({ type: "VirtualMachine", value: "vm-no-such" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError); // a stale moref: look again, do not give up
      expect((err as TransientError).reason).toBe("ManagedObjectNotFound");
      expect(isFault(err, "ManagedObjectNotFound")).toBe(true);
      expect(faultOf(err)).toBeInstanceOf(VimFault);
    } finally {
      await session.close();
    }
  });

  it("connects, identifies the vCenter and finds its datacenter", async () => {
    const { session, client } = await vcenterClient(lab, "site1");
    try {
      expect(session.about.instanceUuid).toBe(lab.site("site1").vcenter.instanceUuid);
      expect(session.about.version).toMatch(/^\d+\.\d+/);
      const dc = await client.findDatacenter("Site 1");
      expect(dc?.vmFolder).toBeDefined();
      expect(await client.findDatacenter("Site 9")).toBeUndefined();
    } finally {
      await session.close();
    }
  });

  it("reads the inventory the controllers follow, in pages", async () => {
    const { session, client } = await vcenterClient(lab, "site1");
    try {
      const dc = (await client.findDatacenter("Site 1"))!;
      const objs = await client.readInventory(dc.ref, undefined, 7);
      const vms = byKind(objs, "VirtualMachine");
      expect(vms.map((v) => v.name)).toEqual(expect.arrayContaining(["HR Database", "HR - Entry System", "HR-App1", "Finance Database", "Desktop-01"]));
      const hrDb = vms.find((v) => v.name === "HR Database")!;
      expect(hrDb.instanceUuid).toMatch(/^[0-9a-f-]{36}$/);
      expect(hrDb.powerState).toBe("poweredOn");
      expect(hrDb.vmPathName).toBe("[RP1] HR Database/HR Database.vmx");
      expect(hrDb.datastores).toHaveLength(1);
      const folders = byKind(objs, "Folder");
      const db = folders.find((f) => f.name === "Database" && f.parent && folders.find((p) => p.ref.value === f.parent!.value)?.name === "Protection Group 1");
      expect(db).toBeDefined();
      expect(hrDb.parent).toEqual(db!.ref);
      const datastores = byKind(objs, "Datastore");
      const rp1 = datastores.find((d) => d.name === "RP1")!;
      expect(rp1.type).toBe("VMFS");
      expect(rp1.vmfsExtents[0]).toMatch(/^naa\.600a0980/);
      const rp5 = datastores.find((d) => d.name === "RP5")!;
      expect(rp5.nas).toEqual({ remoteHost: "20.1.1.50", remotePath: "/RG2FV3" });
      expect(byKind(objs, "HostSystem")).toHaveLength(4);
      expect(byKind(objs, "Network").map((n) => n.name)).toContain("Site1-LAN");
      expect(await client.findVmByInstanceUuid(hrDb.instanceUuid!)).toEqual(hrDb.ref);
      expect(await client.findVmByInstanceUuid("00000000-0000-0000-0000-000000000000")).toBeUndefined();
      expect(await client.findByInventoryPath("Site 1/vm/Protection Group 1/Database/HR Database")).toEqual(hrDb.ref);
      expect(await client.findByInventoryPath("Site 1/vm/Nope")).toBeUndefined();
    } finally {
      await session.close();
    }
  });

  it("creates folder trees and resource pools idempotently", async () => {
    const { session, client } = await vcenterClient(lab, "site2");
    try {
      const dc = (await client.findDatacenter("Site 2"))!;
      const a = await client.ensureFolderPath(dc.vmFolder!, ["DR", "Site1-HR", "Site1-Database"]);
      const b = await client.ensureFolderPath(dc.vmFolder!, ["DR", "Site1-HR", "Site1-Database"]);
      expect(b).toEqual(a);
      expect(await client.findByInventoryPath("Site 2/vm/DR/Site1-HR/Site1-Database")).toEqual(a);
      const again = await client.createFolder((await client.findByInventoryPath("Site 2/vm/DR/Site1-HR"))!, "Site1-Database");
      expect(again).toEqual(a);
      const root = (await client.findByInventoryPath("Site 2/host/Site2-BCDR/Resources"))!;
      const p1 = await client.createResourcePool(root, "Site1-HRServers");
      expect(await client.createResourcePool(root, "Site1-HRServers")).toEqual(p1);
    } finally {
      await session.close();
    }
  });

  it("recovers an HR VM the VMbook way: break, rescan, register, remap, power on answering 'moved'", async () => {
    const ontapSite = lab.site("site2").ontap;
    const ontap: OntapClient = createOntapClient({ url: ontapSite.url, username: ontapSite.username, password: ontapSite.password, tls: { caBundle: lab.caPem() } }, { log: pino({ level: "silent" }) });
    const { session, client } = await vcenterClient(lab, "site2");
    try {
      const sig = () => AbortSignal.timeout(30_000);
      const rel = (await ontap.findRelationship({ svm: "svm2", volume: "RG1FV1_SM" }, sig()))!;
      for (const step of [() => ontap.quiesce(rel.uuid, sig()), () => ontap.breakOff(rel.uuid, sig())]) {
        const ref = await step();
        if (isJobRef(ref)) await eventually(async () => ((await ontap.getJob(ref, sig())).state === "success" ? true : undefined));
      }
      const dc = (await client.findDatacenter("Site 2"))!;
      let objs = await client.readInventory(dc.ref);
      const bcdrHosts = byKind(objs, "HostSystem").filter((h: HostInfo) => h.name.startsWith("bcdr"));
      for (const h of bcdrHosts) {
        await client.rescanAllHba(h.storageSystem!);
        await client.rescanVmfs(h.storageSystem!);
      }
      // ESXi 7/8: the broken-off replica is an unresolved VMFS copy until it is force-mounted.
      expect(byKind(await client.readInventory(dc.ref), "Datastore").some((d) => d.name === "RP1")).toBe(false);
      for (const h of bcdrHosts) {
        const copies = await client.queryUnresolvedVmfsVolumes(h.storageSystem!);
        const rp1Copy = copies.find((c) => c.label === "RP1")!;
        expect(rp1Copy.resolvable).toBe(true);
        const t = await client.resolveUnresolvedVmfsVolumes(h.storageSystem!, [{ devicePath: rp1Copy.extents[0]!.devicePath, mode: "forceMount" }]);
        const results = readResolutionResults((await finish(client, t))!);
        expect(results).toEqual([expect.objectContaining({ vmfsUuid: rp1Copy.vmfsUuid, error: undefined })]);
        expect(await client.resolveUnresolvedVmfsVolumes(h.storageSystem!, [{ devicePath: rp1Copy.extents[0]!.devicePath, mode: "forceMount" }])).toBe(DONE);
      }
      objs = await client.readInventory(dc.ref);
      const rp1 = byKind(objs, "Datastore").find((d: DatastoreInfo) => d.name === "RP1")!;
      expect(rp1).toBeDefined();
      expect(rp1.accessible).toBe(true);

      const search = await finish(client, await client.searchDatastoreForVmx(rp1.browser!, "RP1"));
      const vmxs = readSearchResults(search!);
      expect(vmxs).toContain("[RP1] HR Database/HR Database.vmx");

      const folder = await client.ensureFolderPath(dc.vmFolder!, ["Recovered"]);
      const pool = (await client.findByInventoryPath("Site 2/host/Site2-BCDR/Resources"))!;
      const reg = await finish(client, await client.registerVm({ folder, vmxPath: "[RP1] HR Database/HR Database.vmx", name: "HR Database", pool }));
      expect(reg?.state).toBe("success");
      const vm = resultRef(reg!)!;
      const devices = await client.getVmDevices(vm);
      // The NIC still points at Site 1's network, which does not exist here (as on a real vCenter).
      const site1 = await vcenterClient(lab, "site1");
      const site1Lan = byKind(await site1.client.readInventory((await site1.client.findDatacenter("Site 1"))!.ref), "Network").find((n) => n.name === "Site1-LAN")!;
      await site1.session.close();
      expect(devices.nics[0]?.portgroupKey ?? devices.nics[0]?.networkName).toBe(site1Lan.portgroupKey ?? "Site1-LAN");
      expect(devices.nics[0]?.macAddress).toMatch(/^00:50:56/);

      const lan = byKind(objs, "Network").find((n: NetworkInfo) => n.name === "Site2-LAN")!;
      const target = lan.portgroupKey
        ? { kind: "distributed" as const, portgroupKey: lan.portgroupKey, switchUuid: await client.getDvsUuid(lan.dvSwitch!) }
        : { kind: "standard" as const, name: lan.name, network: lan.ref };
      const reconf = await finish(client, await client.reconfigureVm(vm, devices, { nics: [{ key: devices.nics[0]!.key, target, startConnected: true }], disconnectMedia: true, toolsAfterPowerOn: false }));
      expect(reconf?.state).toBe("success");
      const remapped = await client.getVmDevices(vm);
      expect(remapped.nics[0]?.portgroupKey ?? remapped.nics[0]?.networkName).toBe(lan.portgroupKey ?? "Site2-LAN");
      expect(remapped.media.every((m) => !m.startConnected)).toBe(true);

      const sourceUuid = (await lab.vm<{ instanceUuid: string }>("site1", "HR Database")).instanceUuid;
      const powerOn = await client.powerOn(vm);
      expect(powerOn).not.toBe(DONE);
      const question = await eventually(async () => {
        const info = (await client.readInventory(folder)).find((o) => o.kind === "VirtualMachine")?.info;
        return info?.question;
      }, 10_000, "the moved-or-copied question");
      const moved = question.choices.find((c) => /moved/i.test(c.label))!;
      await client.answerQuestion(vm, question.id, moved.key);
      expect((await finish(client, powerOn))?.state).toBe("success");
      const truth = await lab.vm<{ instanceUuid: string; powerState: string }>("site2", "HR Database");
      expect(truth.instanceUuid).toBe(sourceUuid);
      expect(truth.powerState).toBe("poweredOn");
      expect(await client.powerOn(vm)).toBe(DONE);
    } finally {
      ontap.close();
      await session.close();
    }
  });

  it("presents a clone resignatured and renamed back, then removes it in the safe order: unmount, detach, unmap, delete", async () => {
    const ontapSite = lab.site("site2").ontap;
    const ontap: OntapClient = createOntapClient({ url: ontapSite.url, username: ontapSite.username, password: ontapSite.password, tls: { caBundle: lab.caPem() } }, { log: pino({ level: "silent" }) });
    const { session, client } = await vcenterClient(lab, "site2");
    const sig = () => AbortSignal.timeout(30_000);
    const job = async (r: Awaited<ReturnType<OntapClient["deleteClone"]>>) => {
      if (isJobRef(r)) await eventually(async () => ((await ontap.getJob(r, sig())).state === "success" ? true : undefined));
    };
    try {
      const vol = { svm: "svm2", name: "vmdr_test_RG1FV2_SM" };
      const snap = (await ontap.findNewestSnapMirrorSnapshot({ svm: "svm2", name: "RG1FV2_SM" }, sig()))!;
      await job(await ontap.createFlexClone({ ...vol, parentVolume: "RG1FV2_SM", parentSnapshot: snap.name }, sig()));
      const [lun] = await ontap.listLuns(vol, sig());
      await ontap.mapLun({ svm: "svm2", igroup: "site2_bcdr", lun: lun!.name }, sig());
      const naa = `naa.600a0980${Buffer.from(lun!.serialNumber).toString("hex")}`;
      const dc = (await client.findDatacenter("Site 2"))!;
      const hosts = byKind(await client.readInventory(dc.ref), "HostSystem").filter((h: HostInfo) => h.name.startsWith("bcdr"));
      for (const h of hosts) await client.rescanAllHba(h.storageSystem!);

      // Resignature on one host: every host that sees the LUN mounts the snap- datastore.
      const [copy] = (await client.queryUnresolvedVmfsVolumes(hosts[0]!.storageSystem!)).filter((c) => c.extents[0]?.device === naa);
      expect(copy?.label).toBe("RP2");
      const resolved = readResolutionResults((await finish(client, await client.resolveUnresolvedVmfsVolumes(hosts[0]!.storageSystem!, [{ devicePath: copy!.extents[0]!.devicePath, mode: "resignature" }])))!);
      expect(resolved[0]?.error).toBeUndefined();
      expect(resolved[0]?.label).toMatch(/^snap-[0-9a-f]{8}-RP2$/);
      const newUuid = resolved[0]!.vmfsUuid!;
      expect(newUuid).not.toBe(copy!.vmfsUuid);
      let ds = byKind(await client.readInventory(dc.ref), "Datastore").find((d) => d.vmfsExtents.includes(naa))!;
      expect(ds.hosts.filter((m) => m.mounted && m.accessible)).toHaveLength(2);
      expect(ds.url).toBe(`ds:///vmfs/volumes/${newUuid}/`);
      expect(await client.getDatastoreVmfsUuid(ds.ref)).toBe(newUuid);
      expect((await finish(client, await client.renameDatastore(ds.ref, "RP2")))?.state).toBe("success");
      expect(await client.renameDatastore(ds.ref, "RP2")).toBe(DONE);

      // Unmount on every host (a repeat is done), detach on every host, then unmap and delete.
      for (const h of hosts) {
        expect(await client.unmountVmfsVolume(h.storageSystem!, newUuid)).toBe(DONE);
        expect(await client.unmountVmfsVolume(h.storageSystem!, newUuid)).toBe(DONE);
        expect((await client.getHostVolumes(h.storageSystem!)).find((v) => v.vmfsUuid === newUuid)?.mounted).toBe(false);
      }
      ds = byKind(await client.readInventory(dc.ref), "Datastore").find((d) => d.vmfsExtents.includes(naa))!;
      expect(ds.accessible).toBe(false);
      const lunUuid = (await client.getHostScsiLuns(hosts[0]!.storageSystem!)).find((l) => l.canonicalName === naa)!.uuid;
      for (const h of hosts) {
        expect(await client.detachScsiLun(h.storageSystem!, lunUuid)).toBe(DONE);
        expect(await client.detachScsiLun(h.storageSystem!, lunUuid)).toBe(DONE);
        expect((await client.getHostScsiLuns(h.storageSystem!)).find((l) => l.uuid === lunUuid)?.operationalState).toEqual(["off"]);
      }
      expect(await client.attachScsiLun(hosts[1]!.storageSystem!, lunUuid)).toBe(DONE);
      expect(await client.attachScsiLun(hosts[1]!.storageSystem!, lunUuid)).toBe(DONE);
      expect(await client.detachScsiLun(hosts[1]!.storageSystem!, lunUuid)).toBe(DONE);
      for (const m of (await ontap.listLuns(vol, sig()))[0]!.maps) await ontap.unmapLun(lun!.uuid, m.igroupUuid, sig());
      await job(await ontap.deleteClone(vol, sig()));
      await job(await ontap.deleteClone(vol, sig()));
      for (const h of hosts) await client.rescanAllHba(h.storageSystem!);
      expect(byKind(await client.readInventory(dc.ref), "Datastore").some((d) => d.vmfsExtents.includes(naa))).toBe(false);
      const truth = await lab.control<{ storageFaults: unknown[] }>("GET", "/truth/sites/site2/vcenter");
      expect(truth.storageFaults).toEqual([]);
    } finally {
      ontap.close();
      await session.close();
    }
  });

  it("unmounts an NFS datastore from a host, and refuses while VMs of that host are on it", async () => {
    const { session, client } = await vcenterClient(lab, "site1");
    try {
      const dc = (await client.findDatacenter("Site 1"))!;
      const objs = await client.readInventory(dc.ref);
      const rp5 = byKind(objs, "Datastore").find((d) => d.name === "RP5")!;
      const hosts = byKind(objs, "HostSystem");
      const vms = byKind(objs, "VirtualMachine").filter((v) => v.datastores.some((d) => d.value === rp5.ref.value));
      const busy = hosts.find((h) => vms.some((v) => v.host?.value === h.ref.value))!;
      const idle = hosts.find((h) => !vms.some((v) => v.host?.value === h.ref.value))!;
      const refused = await client.removeNasDatastore(busy.datastoreSystem!, rp5.ref).catch((e: unknown) => e);
      expect(faultOf(refused)?.faultType).toBe("ResourceInUse");
      expect((refused as Error).message).toContain("The resource 'RP5' is in use");
      expect(await client.removeNasDatastore(idle.datastoreSystem!, rp5.ref)).toBe(DONE);
      expect(await client.removeNasDatastore(idle.datastoreSystem!, rp5.ref)).toBe(DONE);
      const after = byKind(await client.readInventory(dc.ref), "Datastore").find((d) => d.name === "RP5")!;
      expect(after.hosts.map((m) => m.host.value)).not.toContain(idle.ref.value);
      await client.createNasDatastore(idle.datastoreSystem!, { name: "RP5", remoteHost: rp5.nas!.remoteHost, remotePath: rp5.nas!.remotePath });
    } finally {
      await session.close();
    }
  });

  it("reports a task failure as a typed fault", async () => {
    const { session, client } = await vcenterClient(lab, "site1");
    try {
      const vm = (await client.findByInventoryPath("Site 1/vm/Desktops/Desktop-01"))!;
      await lab.failNextTask("site1", "PowerOffVM_Task", "InvalidState");
      const s = await finish(client, await client.powerOff(vm));
      expect(s?.state).toBe("error");
      expect(s?.error).toBeInstanceOf(VimFault);
      expect(s?.error?.faultType).toBe("InvalidState");
    } finally {
      await session.close();
    }
  });

  it("logs in again once after the vCenter restarted and the session was lost", async () => {
    const { log, lines } = capturingLogger();
    const session = await VsphereSession.open(vcenterOptions(lab, "site1"), { clock: systemClock, metrics: noExternalMetrics, log });
    try {
      await lab.restartVcenter("site1", "200ms");
      const { VcenterClient: C } = await import("../../src/vsphere/vcenter.js");
      const dc = await new C(session).findDatacenter("Site 1");
      expect(dc).toBeDefined();
      expect(lines().filter((l) => l.msg === "Logged in to vCenter")).toHaveLength(2);
    } finally {
      await session.close();
    }
  });
});

describe("vSphere connection failures", () => {
  it("reports a wrong password as InvalidCredentials, and never logs the password or cookie", async () => {
    const { log, lines } = capturingLogger();
    const err = await VsphereSession.open(vcenterOptions(lab, "site1", { password: "Wr0ng-pa55" }), { clock: systemClock, metrics: noExternalMetrics, log }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VimFault);
    const c = classifyVsphereError(err, "log in");
    expect(c).toBeInstanceOf(PermanentError);
    expect(c.reason).toBe("InvalidCredentials");
    const ok = await VsphereSession.open(vcenterOptions(lab, "site1"), { clock: systemClock, metrics: noExternalMetrics, log });
    const cookie = ok.transport.cookie!;
    await ok.close();
    const text = JSON.stringify(lines()) + String((err as Error).message);
    for (const secret of ["Wr0ng-pa55", lab.site("site1").vcenter.password, cookie.split("=")[1]!]) expect(text).not.toContain(secret);
  });

  it("refuses a certificate from an unknown CA unless this connection opts out", async () => {
    const deps = { clock: systemClock, metrics: noExternalMetrics, log: pino({ level: "silent" }) };
    const err = await VsphereSession.open(vcenterOptions(lab, "site1", { tls: { caBundle: lab.untrustedCaPem() } }), deps).catch((e: unknown) => e);
    expect(classifyVsphereError(err, "connect").reason).toBe("TLSVerificationFailed");
    expect(classifyVsphereError(err, "connect")).toBeInstanceOf(PermanentError);
    const s = await VsphereSession.open(vcenterOptions(lab, "site1", { tls: { insecureSkipVerify: true } }), deps);
    await s.close();
  });

  it("reports an unreachable vCenter as transient, within the call timeout", async () => {
    await lab.vcenterDown("site1", "hang");
    try {
      const err = await VsphereSession.open(vcenterOptions(lab, "site1", { timeoutMs: 1_000 }), { clock: systemClock, metrics: noExternalMetrics, log: pino({ level: "silent" }) }).catch((e: unknown) => e);
      // The call's own timeout ended it (a hung server never answers): not a reset, not a refusal.
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).failure).toBe("timeout");
      const c = classifyVsphereError(err, "connect");
      expect(c).toBeInstanceOf(TransientError);
      expect(c.reason).toBe("VCenterUnreachable");
    } finally {
      await lab.vcenterDown("site1", "up");
    }
  });

  it("shares one session per vCenter and user, and opens a new one for a changed password", async () => {
    const cache = new SessionCache({ clock: systemClock, metrics: noExternalMetrics, log: pino({ level: "silent" }) });
    try {
      const [a, b] = await Promise.all([cache.get(vcenterOptions(lab, "site1")), cache.get(vcenterOptions(lab, "site1"))]);
      expect(a).toBe(b);
      const other = await cache.get(vcenterOptions(lab, "site2"));
      expect(other).not.toBe(a);
      const wrong = await cache.get(vcenterOptions(lab, "site1", { password: "nope" })).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(VimFault);
    } finally {
      await cache.closeAll();
    }
  });
});

