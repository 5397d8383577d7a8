import { expect, it } from "vitest";
import { OperatorError, PermanentError, TransientError } from "../../src/runtime/errors.js";
import { InventoryIndex } from "../../src/sites/inventory-index.js";
import { DONE } from "../../src/vsphere/client.js";
import type { Done, VsphereClient } from "../../src/vsphere/client.js";
import { classifyVsphereError, faultOf, isFault, VimFault } from "../../src/vsphere/errors.js";
import { readResolutionResults } from "../../src/vsphere/host-storage.js";
import type { UnresolvedVmfsVolume, VmfsResolution } from "../../src/vsphere/host-storage.js";
import { child, textAt } from "../../src/vsphere/soap/xml.js";
import { isTerminal, readSearchResults, resultRef } from "../../src/vsphere/tasks.js";
import type { TaskState } from "../../src/vsphere/tasks.js";
import { refKey } from "../../src/vsphere/types.js";
import type { DatacenterInfo, DatastoreInfo, HostInfo, MoRef, NetworkInfo, TaskRef, VmInfo, VmQuestion } from "../../src/vsphere/types.js";
import type { NicInfo, NicTarget, VmDevices } from "../../src/vsphere/vm-specs.js";

/** The objects the suite works on, as the backend's topology names them. */
export interface VsphereContractNames {
  readonly datacenter: string;
  /** The cluster the world presents copies and exports to, and its hosts with their VMkernel addresses. */
  readonly cluster: string;
  readonly hosts: readonly { readonly name: string; readonly address: string }[];
  /** A VM folder (path below the vm folder) holding a powered-on VM, by name, whose VMware Tools run. */
  readonly folder: string;
  readonly runningVm: string;
  /** A powered-off VM (its path below the vm folder) and its .vmx, on a VMFS datastore every host of the cluster mounts. */
  readonly stoppedVm: { readonly path: string; readonly vmx: string };
  /** The portgroup the stopped VM's NIC is on, and another portgroup to move it to. */
  readonly portgroup: string;
  readonly otherPortgroup: string;
  /** What presentCopy presents: a copy of the VMFS labelled `label`, with the .vmx `vmx` on it. */
  readonly copy: { readonly label: string; readonly vmx: string };
  /** What nfsExport exports: the datastore name to mount it under and a .vmx on it. */
  readonly nfs: { readonly name: string; readonly vmx: string };
}

/** One fresh vCenter per test, and what only the backend can do. */
export interface VsphereContractWorld {
  readonly client: VsphereClient;
  /**
   * Presents one more copy of names.copy's VMFS (a FlexClone LUN of its replica) to every host of
   * names.cluster; returns its device (naa.…). The hosts see it at their next rescan.
   */
  presentCopy(): Promise<string>;
  /** A new NFS export holding names.nfs's files that every host of names.cluster may mount read-write. */
  nfsExport(): Promise<{ remoteHost: string; remotePath: string }>;
  /** The next task of `method` (a vSphere task method: "PowerOffVM_Task") ends in `fault` without doing its work. */
  failNextTask(method: string, fault: string): Promise<void>;
  /** Tasks of `method` stay running until releaseTasks(). */
  holdTasks(method: string): Promise<void>;
  releaseTasks(): Promise<void>;
  /** Takes the vCenter off the network (false) and back (true); its state is kept. */
  setReachable(reachable: boolean): Promise<void>;
  /** Lets backend time pass between two polls (lab clock; guest time of the fake). */
  tick(): Promise<void>;
}

const MAX_POLLS = 300;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const signal = (): AbortSignal => AbortSignal.timeout(30_000);

/** Polls a task to its end; fails the test when it never ends. */
export async function settle(w: VsphereContractWorld, ref: TaskRef | Done): Promise<TaskState> {
  expect(ref).not.toBe(DONE);
  const task = (ref as TaskRef).task;
  for (let i = 0; i < MAX_POLLS; i++) {
    const [s] = await w.client.getTasks([task], signal());
    expect(s?.task).toEqual(task);
    if (s && isTerminal(s)) return s;
    await w.tick();
  }
  throw new Error(`task ${task.value} did not finish`);
}

/** A task that must succeed; undefined for DONE. */
async function succeed(w: VsphereContractWorld, ref: TaskRef | Done): Promise<TaskState | undefined> {
  if (ref === DONE) return undefined;
  const s = await settle(w, ref);
  if (s.state !== "success") throw new Error(`task ${s.task.value} failed: ${s.error?.message ?? "?"}`);
  return s;
}

async function until<T>(w: VsphereContractWorld, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < MAX_POLLS; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await w.tick();
  }
  throw new Error("condition never held");
}

/** The classified error a call was refused with. */
async function refusal(p: Promise<unknown>): Promise<OperatorError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OperatorError);
  return err as OperatorError;
}

/** A refusal of the given class whose reason (and vCenter fault) is `fault`. */
async function refusedWith(p: Promise<unknown>, cls: typeof PermanentError | typeof TransientError, fault: string): Promise<OperatorError> {
  const err = await refusal(p);
  expect(err).toBeInstanceOf(cls);
  expect(err.reason).toBe(fault);
  expect(isFault(err, fault)).toBe(true);
  expect(faultOf(err)).toBeInstanceOf(VimFault);
  return err;
}

const datastoreOfVmx = (vmx: string): string => /^\[([^\]]+)\]/.exec(vmx)![1]!;
const devicePathOf = (u: UnresolvedVmfsVolume): string => u.extents[0]!.devicePath;

/**
 * What every VsphereClient must do for the failover steps, run against the in-memory fake (unit
 * tier) and against the lab's vCenter through the real client (integration tier), so the fake
 * cannot drift from the real behaviour.
 */
/** The lab's VMbook names for Site 2 (hack/lab/internal/topology/vmbook.go): the unit tier builds the fake with the same, so both run this suite. */
export const VMBOOK_SITE2: VsphereContractNames = {
  datacenter: "Site 2",
  cluster: "Site2-BCDR",
  hosts: [
    { name: "bcdr1.site2.vmbook.lab", address: "30.1.1.11" },
    { name: "bcdr2.site2.vmbook.lab", address: "30.1.1.12" },
  ],
  folder: "Infrastructure",
  runningVm: "Site2-DC1",
  stoppedVm: { path: "Development/Dev-03", vmx: "[DEV2] Dev-03/Dev-03.vmx" },
  portgroup: "Site2-LAN",
  otherPortgroup: "Site2-Test-Isolated",
  copy: { label: "RP1", vmx: "[RP1] HR Database/HR Database.vmx" },
  nfs: { name: "RP5", vmx: "[RP5] Finance-App1/Finance-App1.vmx" },
};

export function vsphereContract(n: VsphereContractNames, setup: () => Promise<VsphereContractWorld>): void {
  async function datacenter(w: VsphereContractWorld): Promise<DatacenterInfo> {
    const dc = await w.client.findDatacenter(n.datacenter, signal());
    expect(dc?.vmFolder).toBeDefined();
    return dc!;
  }

  async function index(w: VsphereContractWorld): Promise<InventoryIndex> {
    const dc = await datacenter(w);
    const idx = new InventoryIndex(await w.client.readInventory(dc.ref, signal()));
    idx.datacenter = dc;
    return idx;
  }

  /** The cluster's hosts, by name. */
  async function hosts(w: VsphereContractWorld): Promise<(HostInfo & { storageSystem: MoRef; datastoreSystem: MoRef; advancedOption: MoRef })[]> {
    const idx = await index(w);
    const hs = (idx.compute(n.cluster)?.hosts ?? []).map((h) => idx.hosts.get(refKey(h))!).sort((a, b) => a.name.localeCompare(b.name));
    expect(hs.length).toBeGreaterThanOrEqual(2);
    for (const h of hs) expect(h.storageSystem && h.datastoreSystem && h.advancedOption).toBeDefined();
    return hs as (HostInfo & { storageSystem: MoRef; datastoreSystem: MoRef; advancedOption: MoRef })[];
  }

  async function vmAt(w: VsphereContractWorld, path: string): Promise<MoRef> {
    const vm = await w.client.findByInventoryPath(`${n.datacenter}/vm/${path}`, signal());
    expect(vm?.type).toBe("VirtualMachine");
    return vm!;
  }

  async function vmInfo(w: VsphereContractWorld, vm: MoRef): Promise<VmInfo> {
    const info = (await index(w)).vms.find((v) => v.ref.value === vm.value);
    expect(info).toBeDefined();
    return info!;
  }

  async function rootPool(w: VsphereContractWorld): Promise<MoRef> {
    const p = await w.client.findByInventoryPath(`${n.datacenter}/host/${n.cluster}/Resources`, signal());
    expect(p?.type).toBe("ResourcePool");
    return p!;
  }

  async function unresolvedOn(w: VsphereContractWorld, h: { storageSystem: MoRef }, device: string): Promise<UnresolvedVmfsVolume | undefined> {
    return (await w.client.queryUnresolvedVmfsVolumes(h.storageSystem, signal())).find((u) => u.extents.some((e) => e.device === device));
  }

  async function volumeOn(w: VsphereContractWorld, h: { storageSystem: MoRef }, vmfsUuid: string) {
    return (await w.client.getHostVolumes(h.storageSystem, signal())).find((v) => v.vmfsUuid === vmfsUuid);
  }

  /** A new copy, rescanned on `on`, as that host lists it. */
  async function presented(w: VsphereContractWorld, on: { storageSystem: MoRef }): Promise<{ device: string; copy: UnresolvedVmfsVolume }> {
    const device = await w.presentCopy();
    await w.client.rescanAllHba(on.storageSystem, signal());
    const copy = await unresolvedOn(w, on, device);
    expect(copy).toBeDefined();
    return { device, copy: copy! };
  }

  async function resolve(w: VsphereContractWorld, h: { storageSystem: MoRef }, specs: VmfsResolution[]) {
    const s = await succeed(w, await w.client.resolveUnresolvedVmfsVolumes(h.storageSystem, specs, signal()));
    expect(s).toBeDefined();
    return readResolutionResults(s!);
  }

  /** A copy presented and force-mounted on one host. */
  async function mountedCopy(w: VsphereContractWorld, h: { storageSystem: MoRef }): Promise<{ device: string; copy: UnresolvedVmfsVolume }> {
    const p = await presented(w, h);
    const [r] = await resolve(w, h, [{ devicePath: devicePathOf(p.copy), mode: "forceMount" }]);
    expect(r?.error).toBeUndefined();
    return p;
  }

  async function search(w: VsphereContractWorld, ds: DatastoreInfo): Promise<string[]> {
    return readSearchResults((await succeed(w, await w.client.searchDatastoreForVmx(ds.browser!, ds.name, signal())))!);
  }

  /** Polls a power-on task until the VM asks its question (the task is then still running). */
  async function questionOf(w: VsphereContractWorld, vm: MoRef, task: TaskRef): Promise<VmQuestion> {
    return until(w, async () => {
      const [s] = await w.client.getTasks([task.task], signal());
      expect(s?.state === "success" || s?.state === "error").toBe(false);
      const q = (await vmInfo(w, vm)).question;
      if (q) expect(s?.state).toBe("running");
      return q;
    });
  }

  it("finds its datacenter, and objects by inventory path; nothing for names it does not have", async () => {
    const w = await setup();
    const dc = await datacenter(w);
    expect(dc.name).toBe(n.datacenter);
    const folders = [dc.vmFolder, dc.hostFolder, dc.datastoreFolder, dc.networkFolder];
    expect(new Set(folders.map((f) => f?.value)).size).toBe(4);
    expect(await w.client.findByInventoryPath(n.datacenter, signal())).toEqual(dc.ref);
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm`, signal())).toEqual(dc.vmFolder);
    expect(await w.client.findByInventoryPath(`${n.datacenter}/host`, signal())).toEqual(dc.hostFolder);
    expect((await w.client.findByInventoryPath(`${n.datacenter}/host/${n.cluster}`, signal()))?.type).toBe("ClusterComputeResource");
    expect((await w.client.findByInventoryPath(`${n.datacenter}/host/${n.cluster}/${n.hosts[0]!.name}`, signal()))?.type).toBe("HostSystem");
    expect((await w.client.findByInventoryPath(`${n.datacenter}/datastore/${datastoreOfVmx(n.stoppedVm.vmx)}`, signal()))?.type).toBe("Datastore");
    expect(await w.client.findDatacenter("No Such Datacenter", signal())).toBeUndefined();
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/No such folder`, signal())).toBeUndefined();
    expect(await w.client.findByInventoryPath("No Such Datacenter/vm", signal())).toBeUndefined();
  });

  it("reads the inventory in the shape an InventoryIndex is built from", async () => {
    const w = await setup();
    const dc = await datacenter(w);
    const objs = await w.client.readInventory(dc.ref, signal());
    expect(objs.some((o) => o.kind === "Datacenter")).toBe(false); // a view does not hold its root
    const idx = new InventoryIndex(objs);
    expect(idx.vmFolder).toEqual(dc.vmFolder);
    const cluster = idx.compute(n.cluster)!;
    expect(cluster.ref.type).toBe("ClusterComputeResource");
    const hs = cluster.hosts.map((h) => idx.hosts.get(refKey(h))!);
    expect(hs.map((h) => h.name).sort()).toEqual(n.hosts.map((h) => h.name).sort());
    for (const h of hs) expect(h).toMatchObject({ parent: cluster.ref, connectionState: "connected", inMaintenanceMode: false });
    expect(idx.pools.get(refKey(cluster.resourcePool!))).toMatchObject({ name: "Resources", parent: cluster.ref, owner: cluster.ref });
    expect(idx.poolPath(cluster.resourcePool)).toBe("");

    const folder = idx.folderByPath(n.folder)!;
    expect(folder.childType).toContain("VirtualMachine");
    const vm = idx.vmsIn(folder.ref).find((v) => v.name === n.runningVm)!;
    expect(vm).toMatchObject({ powerState: "poweredOn", connectionState: "connected", template: false, toolsRunningStatus: "guestToolsRunning", guestHeartbeat: "green" });
    expect(vm.instanceUuid).toMatch(UUID);
    expect(vm.biosUuid).toMatch(UUID);
    expect(vm.vmPathName).toMatch(/^\[[^\]]+\] .+\.vmx$/);
    expect(vm.numEthernetCards).toBeGreaterThan(0);
    expect(idx.vmByInstanceUuid(vm.instanceUuid!)?.ref).toEqual(vm.ref);
    expect(idx.hosts.has(refKey(vm.host!))).toBe(true);
    expect(idx.pools.has(refKey(vm.resourcePool!))).toBe(true);

    expect(vm.datastores).toHaveLength(1);
    const ds = idx.datastoreOf(vm.datastores[0]!)!;
    expect(vm.vmPathName!.startsWith(`[${ds.name}] `)).toBe(true);
    expect(ds).toMatchObject({ type: "VMFS", accessible: true });
    expect(ds.vmfsExtents).toEqual([expect.stringMatching(/^naa\.600a0980/)]);
    expect(ds.url).toBe(`ds:///vmfs/volumes/${await w.client.getDatastoreVmfsUuid(ds.ref, signal())}/`);
    expect(ds.browser).toBeDefined();
    expect(ds.nas).toBeUndefined();
    expect(idx.datastoreByDevice(ds.vmfsExtents[0]!)?.ref).toEqual(ds.ref);
    expect(ds.hosts).toContainEqual({ host: vm.host, accessible: true, mounted: true });

    const pg = [...idx.networks.values()].find((x): x is NetworkInfo => x.name === n.portgroup)!;
    expect(vm.networks).toContainEqual(pg.ref);
    expect(pg.portgroupKey === undefined || pg.dvSwitch !== undefined).toBe(true);

    expect(await w.client.findVmByInstanceUuid(vm.instanceUuid!, dc.ref, signal())).toEqual(vm.ref);
    expect(await w.client.findVmByInstanceUuid("00000000-0000-0000-0000-000000000000", dc.ref, signal())).toBeUndefined();
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/${n.folder}/${n.runningVm}`, signal())).toEqual(vm.ref);

    // A view over a folder holds that subtree only.
    const sub = await w.client.readInventory(folder.ref, signal());
    expect(sub.map((o) => o.info.ref)).toContainEqual(vm.ref);
    expect(sub.some((o) => o.info.ref.value === folder.ref.value)).toBe(false);
    expect(sub.every((o) => (o.kind === "VirtualMachine" || o.kind === "Folder") && idx.folderPath(o.info.parent)?.startsWith(n.folder))).toBe(true);
  });

  it("creates a folder path once and finds the same folders again; createFolder answers an existing folder with it", async () => {
    const w = await setup();
    const dc = await datacenter(w);
    const path = ["Contract", "Tier1", "Database"];
    const made = await w.client.ensureFolderPath(dc.vmFolder!, path, signal());
    expect(await w.client.ensureFolderPath(dc.vmFolder!, path, signal())).toEqual(made);
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/${path.join("/")}`, signal())).toEqual(made);
    const tier1 = (await w.client.findByInventoryPath(`${n.datacenter}/vm/Contract/Tier1`, signal()))!;
    expect(await w.client.createFolder(tier1, "Database", signal())).toEqual(made);
    const top = n.folder.split("/")[0]!;
    const existing = await w.client.findByInventoryPath(`${n.datacenter}/vm/${top}`, signal());
    expect(existing?.type).toBe("Folder");
    expect(await w.client.createFolder(dc.vmFolder!, top, signal())).toEqual(existing);
    const idx = await index(w);
    expect([...idx.folders.values()].filter((f) => f.name === "Database" && f.parent?.value === tier1.value)).toHaveLength(1);
    expect([...idx.folders.values()].filter((f) => f.name === "Contract")).toHaveLength(1);
    expect(idx.folderPath(made)).toBe("Contract/Tier1/Database");
    await refusedWith(w.client.createFolder(dc.vmFolder!, "", signal()), PermanentError, "InvalidName");
  });

  it("tells two folders of one name apart by their parents: by inventory path and in the inventory index", async () => {
    const w = await setup();
    const dc = await datacenter(w);
    const finance = await w.client.ensureFolderPath(dc.vmFolder!, ["Finance", "Tier1-VMs"], signal());
    const procurement = await w.client.ensureFolderPath(dc.vmFolder!, ["Procurement", "Tier1-VMs"], signal());
    expect(finance).not.toEqual(procurement);
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/Finance/Tier1-VMs`, signal())).toEqual(finance);
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/Procurement/Tier1-VMs`, signal())).toEqual(procurement);
    const procurementParent = (await w.client.findByInventoryPath(`${n.datacenter}/vm/Procurement`, signal()))!;
    expect(await w.client.createFolder(procurementParent, "Tier1-VMs", signal())).toEqual(procurement);
    const idx = await index(w);
    const named = [...idx.folders.values()].filter((f) => f.name === "Tier1-VMs");
    expect(named).toHaveLength(2);
    expect(named[0]!.parent).not.toEqual(named[1]!.parent);
    expect(idx.folderByPath("Finance/Tier1-VMs")?.ref).toEqual(finance);
    expect(idx.folderByPath("Procurement/Tier1-VMs")?.ref).toEqual(procurement);
  });

  it("creates resource pools once, nested ones too, found by inventory path", async () => {
    const w = await setup();
    const root = await rootPool(w);
    const pool = await w.client.createResourcePool(root, "Contract-Pool", signal());
    expect(pool.type).toBe("ResourcePool");
    expect(await w.client.createResourcePool(root, "Contract-Pool", signal())).toEqual(pool);
    const nested = await w.client.createResourcePool(pool, "Child", signal());
    expect(await w.client.createResourcePool(pool, "Child", signal())).toEqual(nested);
    expect(await w.client.findByInventoryPath(`${n.datacenter}/host/${n.cluster}/Resources/Contract-Pool/Child`, signal())).toEqual(nested);
    const idx = await index(w);
    const cluster = idx.compute(n.cluster)!;
    expect(idx.pools.get(refKey(nested))).toMatchObject({ name: "Child", parent: pool, owner: cluster.ref });
    expect(idx.poolPath(nested)).toBe("Contract-Pool/Child");
    expect([...idx.pools.values()].filter((p) => p.name === "Contract-Pool")).toHaveLength(1);
  });

  it("registers a .vmx into a folder and a resource pool: a task whose result is the new VM, found by path and instance UUID", async () => {
    const w = await setup();
    const dc = await datacenter(w);
    const old = await vmAt(w, n.stoppedVm.path);
    const before = await vmInfo(w, old);
    expect(before.vmPathName).toBe(n.stoppedVm.vmx);
    await w.client.unregisterVm(old, signal());
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/${n.stoppedVm.path}`, signal())).toBeUndefined();
    expect(await w.client.findVmByInstanceUuid(before.instanceUuid!, dc.ref, signal())).toBeUndefined();

    const folder = await w.client.ensureFolderPath(dc.vmFolder!, ["Contract", "Registered"], signal());
    const pool = await w.client.createResourcePool(await rootPool(w), "Contract-Registered", signal());
    const s = await succeed(w, await w.client.registerVm({ folder, vmxPath: n.stoppedVm.vmx, name: "Contract VM", pool }, signal()));
    const vm = resultRef(s!)!;
    expect(vm.type).toBe("VirtualMachine");
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/Contract/Registered/Contract VM`, signal())).toEqual(vm);
    expect(await w.client.findVmByInstanceUuid(before.instanceUuid!, dc.ref, signal())).toEqual(vm);
    const info = await vmInfo(w, vm);
    expect(info).toMatchObject({ name: "Contract VM", parent: folder, resourcePool: pool, vmPathName: n.stoppedVm.vmx, powerState: "poweredOff", connectionState: "connected", instanceUuid: before.instanceUuid, biosUuid: before.biosUuid });
    expect((await hosts(w)).map((h) => h.ref.value)).toContain(info.host!.value);
  });

  it("fails a second registration of one .vmx inside its task with AlreadyExists (permanent), and a missing .vmx with FileNotFound", async () => {
    const w = await setup();
    const dc = await datacenter(w);
    const vm = await vmAt(w, n.stoppedVm.path);
    const pool = await rootPool(w);
    const s = await settle(w, await w.client.registerVm({ folder: dc.vmFolder!, vmxPath: n.stoppedVm.vmx, name: "Second registration", pool }, signal()));
    expect(s.state).toBe("error");
    expect(s.error).toBeInstanceOf(VimFault);
    expect(s.error?.faultType).toBe("AlreadyExists");
    const c = classifyVsphereError(s.error, "register");
    expect(c).toBeInstanceOf(PermanentError);
    expect(c.reason).toBe("AlreadyExists");
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/Second registration`, signal())).toBeUndefined();
    expect((await index(w)).vms.filter((v) => v.vmPathName === n.stoppedVm.vmx).map((v) => v.ref)).toEqual([vm]);
    const missing = await settle(w, await w.client.registerVm({ folder: dc.vmFolder!, vmxPath: `[${datastoreOfVmx(n.stoppedVm.vmx)}] No such VM/No such VM.vmx`, pool }, signal()));
    expect(missing.error?.faultType).toBe("FileNotFound");
  });

  it("unregisters a powered-off VM; a running one is refused with InvalidPowerState (permanent), a gone one is ManagedObjectNotFound (transient)", async () => {
    const w = await setup();
    const running = await vmAt(w, `${n.folder}/${n.runningVm}`);
    const err = await refusedWith(w.client.unregisterVm(running, signal()), PermanentError, "InvalidPowerState");
    expect(faultOf(err)?.field("existingState")).toBe("poweredOn");
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/${n.folder}/${n.runningVm}`, signal())).toEqual(running);
    const stopped = await vmAt(w, n.stoppedVm.path);
    await w.client.unregisterVm(stopped, signal());
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/${n.stoppedVm.path}`, signal())).toBeUndefined();
    expect((await index(w)).vms.some((v) => v.ref.value === stopped.value)).toBe(false);
    await refusedWith(w.client.unregisterVm(stopped, signal()), TransientError, "ManagedObjectNotFound");
  });

  it("powers a VM on and off through tasks, and answers DONE when it already is in that state", async () => {
    const w = await setup();
    const vm = await vmAt(w, n.stoppedVm.path);
    expect(await w.client.powerOff(vm, signal())).toBe(DONE);
    expect(await w.client.shutdownGuest(vm, signal())).toBe(DONE);
    const on = await w.client.powerOn(vm, signal());
    expect(on).not.toBe(DONE);
    await succeed(w, on);
    expect((await vmInfo(w, vm)).powerState).toBe("poweredOn");
    expect(await w.client.powerOn(vm, signal())).toBe(DONE);
    const off = await w.client.powerOff(vm, signal());
    expect(off).not.toBe(DONE);
    await succeed(w, off);
    expect((await vmInfo(w, vm)).powerState).toBe("poweredOff");
    expect(await w.client.powerOff(vm, signal())).toBe(DONE);
  });

  it("asks 'moved or copied' at the first power-on of a registered copy, holds the task until answered by choice key, and 'moved' keeps the identity", async () => {
    const w = await setup();
    const [h] = await hosts(w);
    await mountedCopy(w, h!);
    const dc = await datacenter(w);
    const folder = await w.client.ensureFolderPath(dc.vmFolder!, ["Contract", "Recovered"], signal());
    const vm = resultRef((await succeed(w, await w.client.registerVm({ folder, vmxPath: n.copy.vmx, pool: await rootPool(w), host: h!.ref }, signal())))!)!;
    const registered = await vmInfo(w, vm);
    expect(registered.question).toBeUndefined();
    const macs = (await w.client.getVmDevices(vm, signal())).nics.map((x) => x.macAddress);

    const first = (await w.client.powerOn(vm, signal())) as TaskRef;
    const q = await questionOf(w, vm, first);
    expect(q.id).toBeTruthy();
    const moved = q.choices.find((c) => /moved/i.test(c.label))!;
    const cancel = q.choices.find((c) => /cancel/i.test(c.label))!;
    expect(q.choices.some((c) => /copied/i.test(c.label))).toBe(true);
    expect(new Set([moved.key, cancel.key]).size).toBe(2);
    expect((await vmInfo(w, vm)).powerState).toBe("poweredOff");
    // While the question is pending, another power-on fails in its task.
    const second = await w.client.powerOn(vm, signal());
    expect((await settle(w, second)).error?.faultType).toBe("TaskInProgress");
    await refusedWith(w.client.answerQuestion(vm, "no-such-question", moved.key, signal()), PermanentError, "InvalidArgument");
    await refusedWith(w.client.answerQuestion(vm, q.id, "99", signal()), PermanentError, "InvalidArgument");

    // Cancel fails the power-on; the next one asks again.
    await w.client.answerQuestion(vm, q.id, cancel.key, signal());
    expect((await settle(w, first)).state).toBe("error");
    expect((await vmInfo(w, vm)).powerState).toBe("poweredOff");
    const again = (await w.client.powerOn(vm, signal())) as TaskRef;
    const q2 = await questionOf(w, vm, again);
    expect(q2.id).not.toBe(q.id);
    await w.client.answerQuestion(vm, q2.id, moved.key, signal());
    expect((await settle(w, again)).state).toBe("success");
    const after = await vmInfo(w, vm);
    expect(after).toMatchObject({ powerState: "poweredOn", instanceUuid: registered.instanceUuid, biosUuid: registered.biosUuid });
    expect(after.question).toBeUndefined();
    expect((await w.client.getVmDevices(vm, signal())).nics.map((x) => x.macAddress)).toEqual(macs);

    // Answered once: the next power-on asks nothing.
    await succeed(w, await w.client.powerOff(vm, signal()));
    await succeed(w, await w.client.powerOn(vm, signal()));
    expect((await vmInfo(w, vm)).powerState).toBe("poweredOn");
  });

  it("customizes a powered-off VM's guest at its next boot: pending until then, a second customization refused in its task, the new address in guest.net after", async () => {
    const w = await setup();
    const vm = await vmAt(w, n.stoppedVm.path);
    const nics = (await w.client.getVmDevices(vm, signal())).nics;
    const spec = { os: "linux" as const, hostName: "contract01", domain: "vmbook.lab", nics: nics.map((_, i) => (i === 0 ? { ip: "30.1.1.199", subnetMask: "255.255.255.0", gateways: ["30.1.1.254"], dnsServers: ["30.1.1.5"] } : {})) };
    await succeed(w, await w.client.customizeVm(vm, spec, signal()));
    expect((await vmInfo(w, vm)).pendingCustomization).toBe(true);
    expect((await settle(w, await w.client.customizeVm(vm, spec, signal()))).error?.faultType).toBe("CustomizationPending");
    await succeed(w, await w.client.powerOn(vm, signal()));
    const up = await until(w, async () => {
      const info = await vmInfo(w, vm);
      return info.toolsRunningStatus === "guestToolsRunning" && info.guestNics?.length ? info : undefined;
    });
    expect(up.pendingCustomization).toBeUndefined();
    expect(up.guestNics?.[0]).toMatchObject({ connected: expect.any(Boolean), addresses: ["30.1.1.199/24"] });
    expect(up.guestNics?.[0]?.deviceKey).toBe(nics[0]!.key);
    // Only powered off: a running VM is refused (InvalidPowerState, in the task).
    expect((await settle(w, await w.client.customizeVm(vm, spec, signal()))).error?.faultType).toBe("InvalidPowerState");
    await succeed(w, await w.client.powerOff(vm, signal()));
  });

  it("asks a guest whose tools run to shut down (DONE at once, off soon after), and is DONE for a powered-off VM", async () => {
    const w = await setup();
    const vm = await vmAt(w, `${n.folder}/${n.runningVm}`);
    expect(await w.client.shutdownGuest(vm, signal())).toBe(DONE);
    const off = await until(w, async () => {
      const info = await vmInfo(w, vm);
      return info.powerState === "poweredOff" ? info : undefined;
    });
    expect(off.toolsRunningStatus).toBe("guestToolsNotRunning");
    expect(await w.client.shutdownGuest(vm, signal())).toBe(DONE);
  });

  it("reconfigures a NIC onto another portgroup keeping its key, type and MAC, and disconnects CD-ROM and floppy from their backings", async () => {
    const w = await setup();
    const vm = await vmAt(w, n.stoppedVm.path);
    const idx = await index(w);
    const net = (name: string): NetworkInfo => [...idx.networks.values()].find((x) => x.name === name)!;
    const on = (x: NicInfo | undefined, pg: NetworkInfo): boolean => (pg.portgroupKey !== undefined ? x?.portgroupKey === pg.portgroupKey : x?.networkName === pg.name);
    const [pg, other] = [net(n.portgroup), net(n.otherPortgroup)];
    const d = await w.client.getVmDevices(vm, signal());
    const nic = d.nics[0]!;
    expect(on(nic, pg)).toBe(true);
    expect(nic.macAddress).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(d.raw.get(nic.key)).toBeDefined();
    expect(d.media.map((m) => m.kind).sort()).toEqual(["cdrom", "floppy"]);
    const backing = (dev: VmDevices, key: number) => child(dev.raw.get(key), "backing");
    // Before: some drive is backed by a host device or an image (the lab's floppy is /dev/fd0).
    expect(d.media.some((m) => (textAt(backing(d, m.key), "deviceName") ?? textAt(backing(d, m.key), "fileName") ?? "") !== "")).toBe(true);

    let target: NicTarget = { kind: "standard", name: other.name, network: other.ref };
    if (other.portgroupKey !== undefined) {
      const switchUuid = await w.client.getDvsUuid(other.dvSwitch!, signal());
      expect(switchUuid).toBe(textAt(backing(d, nic.key), "port.switchUuid")); // both portgroups are on one switch
      target = { kind: "distributed", portgroupKey: other.portgroupKey, switchUuid };
    }
    await succeed(w, await w.client.reconfigureVm(vm, d, { nics: [{ key: nic.key, target, startConnected: true }], disconnectMedia: true }, signal()));
    const after = await w.client.getVmDevices(vm, signal());
    const moved = after.nics.find((x) => x.key === nic.key);
    expect(moved).toMatchObject({ macAddress: nic.macAddress, deviceType: nic.deviceType, label: nic.label, startConnected: true });
    expect(on(moved, other)).toBe(true);
    expect(after.nics).toHaveLength(d.nics.length);
    for (const m of after.media) {
      expect(m).toMatchObject({ connected: false, startConnected: false });
      expect(backing(after, m.key)?.xsiType).toMatch(/Remote/);
      expect(textAt(backing(after, m.key), "deviceName")).toBe("");
    }
    expect((await vmInfo(w, vm)).networks).toEqual([other.ref]);
    // A NIC the VM does not have is refused before anything is sent.
    await expect(w.client.reconfigureVm(vm, after, { nics: [{ key: 9999, connected: false }] }, signal())).rejects.toThrow(/no NIC with key 9999/);
  });

  it("reads the devices of several VMs in one call, keyed by VM id, leaving out a VM that is gone", async () => {
    const w = await setup();
    const running = await vmAt(w, `${n.folder}/${n.runningVm}`);
    const stopped = await vmAt(w, n.stoppedVm.path);
    const both = await w.client.getVmsDevices([running, stopped], signal());
    expect([...both.keys()].sort()).toEqual([running.value, stopped.value].sort());
    expect(both.get(stopped.value)!.nics.map((x) => x.macAddress)).toEqual((await w.client.getVmDevices(stopped, signal())).nics.map((x) => x.macAddress));
    expect((await w.client.getVmsDevices([], signal())).size).toBe(0);
    await w.client.unregisterVm(stopped, signal());
    expect([...(await w.client.getVmsDevices([running, stopped], signal())).keys()]).toEqual([running.value]);
    expect((await w.client.getVmsDevices([stopped], signal())).size).toBe(0);
  });

  it("reports each host's VMkernel IPv4 addresses", async () => {
    const w = await setup();
    for (const h of await hosts(w)) {
      expect(await w.client.getHostAddresses(h.ref, signal())).toEqual([n.hosts.find((x) => x.name === h.name)!.address]);
    }
  });

  it("round-trips host advanced options with their types; a wrong type or unknown name is refused, and an unknown prefix reads as none", async () => {
    const w = await setup();
    const [h1, h2] = await hosts(w);
    const lvm = await w.client.queryOptions(h1!.advancedOption, "LVM.", signal());
    expect(lvm).toContainEqual({ key: "LVM.DisallowSnapshotLun", value: "1" });
    expect(lvm.every((o) => o.key.startsWith("LVM."))).toBe(true);
    await w.client.updateOptions(h1!.advancedOption, [{ key: "LVM.DisallowSnapshotLun", value: 0, type: "long" }], signal());
    expect(await w.client.queryOptions(h1!.advancedOption, "LVM.DisallowSnapshotLun", signal())).toEqual([{ key: "LVM.DisallowSnapshotLun", value: "0" }]);
    expect(await w.client.queryOptions(h2!.advancedOption, "LVM.DisallowSnapshotLun", signal())).toEqual([{ key: "LVM.DisallowSnapshotLun", value: "1" }]);
    await refusedWith(w.client.updateOptions(h1!.advancedOption, [{ key: "LVM.DisallowSnapshotLun", value: true }], signal()), PermanentError, "InvalidArgument");
    await refusedWith(w.client.updateOptions(h1!.advancedOption, [{ key: "LVM.DisallowSnapshotLun", value: 1, type: "int" }], signal()), PermanentError, "InvalidArgument");
    await refusedWith(w.client.updateOptions(h1!.advancedOption, [{ key: "No.Such.Option", value: 1 }], signal()), PermanentError, "InvalidName");
    expect(await w.client.queryOptions(h1!.advancedOption, "LVM.DisallowSnapshotLun", signal())).toEqual([{ key: "LVM.DisallowSnapshotLun", value: "0" }]);
    expect(await w.client.queryOptions(h1!.advancedOption, "No.Such.", signal())).toEqual([]);
  });

  it("shows a presented VMFS copy as unresolved only after a rescan; a force-mount keeps its label and VMFS UUID, on that host only; DONE when nothing is left", async () => {
    const w = await setup();
    const [h1, h2] = await hosts(w);
    const device = await w.presentCopy();
    expect(await unresolvedOn(w, h1!, device)).toBeUndefined();
    expect((await w.client.getHostScsiLuns(h1!.storageSystem, signal())).some((l) => l.canonicalName === device)).toBe(false);
    await w.client.rescanAllHba(h1!.storageSystem, signal());
    const copy = (await unresolvedOn(w, h1!, device))!;
    expect(copy).toMatchObject({ label: n.copy.label, resolvable: true, multipleCopies: false });
    expect(copy.vmfsUuid).toMatch(UUID);
    expect(copy.extents).toEqual([{ device, devicePath: `/vmfs/devices/disks/${device}:1`, reason: "diskIdMismatch" }]);
    expect((await w.client.getHostScsiLuns(h1!.storageSystem, signal())).find((l) => l.canonicalName === device)?.operationalState).toEqual(["ok"]);
    // A VMFS rescan finds it as well.
    expect(await unresolvedOn(w, h2!, device)).toBeUndefined();
    await w.client.rescanVmfs(h2!.storageSystem, signal());
    expect(await unresolvedOn(w, h2!, device)).toBeDefined();

    const spec = { devicePath: devicePathOf(copy), mode: "forceMount" as const };
    expect(await resolve(w, h1!, [spec])).toEqual([{ devicePath: spec.devicePath, vmfsUuid: copy.vmfsUuid, label: n.copy.label, error: undefined }]);
    expect(await w.client.resolveUnresolvedVmfsVolumes(h1!.storageSystem, [spec], signal())).toBe(DONE);
    expect(await w.client.resolveUnresolvedVmfsVolumes(h1!.storageSystem, [{ devicePath: "/vmfs/devices/disks/naa.600a0980000000000000000000000000:1", mode: "forceMount" }], signal())).toBe(DONE);
    expect(await unresolvedOn(w, h1!, device)).toBeUndefined();
    expect(await volumeOn(w, h1!, copy.vmfsUuid)).toMatchObject({ name: n.copy.label, type: "VMFS", extents: [device], mounted: true, accessible: true });

    const ds = (await index(w)).datastoreByDevice(device)!;
    expect(ds).toMatchObject({ name: n.copy.label, type: "VMFS", accessible: true, vmfsExtents: [device], url: `ds:///vmfs/volumes/${copy.vmfsUuid}/` });
    expect(ds.hosts).toEqual([{ host: h1!.ref, accessible: true, mounted: true }]);
    expect(await w.client.getDatastoreVmfsUuid(ds.ref, signal())).toBe(copy.vmfsUuid);
    expect(await search(w, ds)).toContain(n.copy.vmx);
    // The other host has its own view: still unresolved there until it resolves it.
    expect((await unresolvedOn(w, h2!, device))?.extents[0]?.reason).toBe("diskIdMismatch");
    expect(await volumeOn(w, h2!, copy.vmfsUuid)).toBeUndefined();
  });

  it("resignatures a copy into a snap-xxxxxxxx- datastore every host that sees it mounts, and renames it back (a taken name fails in the task)", async () => {
    const w = await setup();
    const hs = await hosts(w);
    const [h1, h2] = hs;
    const { device, copy } = await presented(w, h1!);
    const [r] = await resolve(w, h1!, [{ devicePath: devicePathOf(copy), mode: "resignature" }]);
    expect(r?.error).toBeUndefined();
    expect(r?.label).toMatch(new RegExp(`^snap-[0-9a-f]{8}-${n.copy.label}$`));
    expect(r?.vmfsUuid).toMatch(UUID);
    expect(r?.vmfsUuid).not.toBe(copy.vmfsUuid);
    let ds = (await index(w)).datastoreByDevice(device)!;
    expect(ds).toMatchObject({ name: r!.label, url: `ds:///vmfs/volumes/${r!.vmfsUuid}/` });
    expect(ds.hosts.filter((m) => m.mounted && m.accessible).map((m) => m.host.value).sort()).toEqual(hs.map((h) => h.ref.value).sort());
    expect(await unresolvedOn(w, h1!, device)).toBeUndefined();
    expect(await unresolvedOn(w, h2!, device)).toBeUndefined();
    expect(await w.client.getDatastoreVmfsUuid(ds.ref, signal())).toBe(r!.vmfsUuid);

    const taken = await settle(w, await w.client.renameDatastore(ds.ref, datastoreOfVmx(n.stoppedVm.vmx), signal()));
    expect(taken.error?.faultType).toBe("DuplicateName");
    await succeed(w, await w.client.renameDatastore(ds.ref, n.copy.label, signal()));
    expect(await w.client.renameDatastore(ds.ref, n.copy.label, signal())).toBe(DONE);
    ds = (await index(w)).datastoreByDevice(device)!;
    expect(ds.name).toBe(n.copy.label);
    expect((await volumeOn(w, h2!, r!.vmfsUuid!))?.name).toBe(n.copy.label);
    expect(await search(w, ds)).toContain(n.copy.vmx);
  });

  it("refuses to force-mount a second copy of a mounted VMFS (VmfsAlreadyMounted in the task's result) and lists it as a uuidConflict", async () => {
    const w = await setup();
    const [h1] = await hosts(w);
    const a = await w.presentCopy();
    const b = await w.presentCopy();
    await w.client.rescanAllHba(h1!.storageSystem, signal());
    const [ua, ub] = [(await unresolvedOn(w, h1!, a))!, (await unresolvedOn(w, h1!, b))!];
    expect(ua.vmfsUuid).toBe(ub.vmfsUuid);
    expect(ua.multipleCopies && ub.multipleCopies).toBe(true);
    await resolve(w, h1!, [{ devicePath: devicePathOf(ua), mode: "forceMount" }]);
    await w.client.rescanAllHba(h1!.storageSystem, signal());
    const still = (await unresolvedOn(w, h1!, b))!;
    expect(still.extents[0]?.reason).toBe("uuidConflict");
    const [r] = await resolve(w, h1!, [{ devicePath: devicePathOf(still), mode: "forceMount" }]);
    expect(r?.error).toBeInstanceOf(VimFault);
    expect(r?.error?.faultType).toBe("VmfsAlreadyMounted");
    expect(r?.vmfsUuid).toBeUndefined();
    const vols = (await w.client.getHostVolumes(h1!.storageSystem, signal())).filter((v) => v.vmfsUuid === ua.vmfsUuid);
    expect(vols).toEqual([expect.objectContaining({ extents: [a], mounted: true })]);
    // A resignature tells it apart: a datastore of its own.
    const [rs] = await resolve(w, h1!, [{ devicePath: devicePathOf(still), mode: "resignature" }]);
    expect(rs?.label).toMatch(/^snap-[0-9a-f]{8}-/);
    expect((await index(w)).datastoreByDevice(b)?.name).toBe(rs?.label);
  });

  it("refuses to unmount a VMFS volume while a VM of that host is registered on it (ResourceInUse), unmounts it once not, is DONE when not mounted, and mounts it again", async () => {
    const w = await setup();
    const [h1] = await hosts(w);
    const { device, copy } = await mountedCopy(w, h1!);
    const dc = await datacenter(w);
    const vm = resultRef((await succeed(w, await w.client.registerVm({ folder: dc.vmFolder!, vmxPath: n.copy.vmx, pool: await rootPool(w), host: h1!.ref }, signal())))!)!;
    const inUse = await refusedWith(w.client.unmountVmfsVolume(h1!.storageSystem, copy.vmfsUuid, signal()), TransientError, "ResourceInUse");
    expect(inUse.message).toContain(`'${n.copy.label}'`);
    expect((await volumeOn(w, h1!, copy.vmfsUuid))?.mounted).toBe(true);
    await w.client.unregisterVm(vm, signal());
    expect(await w.client.unmountVmfsVolume(h1!.storageSystem, copy.vmfsUuid, signal())).toBe(DONE);
    expect(await volumeOn(w, h1!, copy.vmfsUuid)).toMatchObject({ mounted: false, accessible: false, extents: [device] });
    expect(await w.client.unmountVmfsVolume(h1!.storageSystem, copy.vmfsUuid, signal())).toBe(DONE);
    expect(await w.client.unmountVmfsVolume(h1!.storageSystem, "00000000-0000-0000-0000-000000000000", signal())).toBe(DONE);
    const ds = (await index(w)).datastoreByDevice(device)!;
    expect(ds.accessible).toBe(false);
    expect(ds.hosts).toEqual([{ host: h1!.ref, accessible: false, mounted: false }]);
    // The host remembers across a rescan.
    await w.client.rescanAllHba(h1!.storageSystem, signal());
    expect((await volumeOn(w, h1!, copy.vmfsUuid))?.mounted).toBe(false);
    expect(await unresolvedOn(w, h1!, device)).toBeUndefined();
    expect(await w.client.mountVmfsVolume(h1!.storageSystem, copy.vmfsUuid, signal())).toBe(DONE);
    expect(await volumeOn(w, h1!, copy.vmfsUuid)).toMatchObject({ mounted: true, accessible: true });
    expect(await w.client.mountVmfsVolume(h1!.storageSystem, copy.vmfsUuid, signal())).toBe(DONE);
    await refusedWith(w.client.mountVmfsVolume(h1!.storageSystem, "00000000-0000-0000-0000-000000000000", signal()), PermanentError, "NotFound");
  });

  it("detaches and attaches a SCSI device: refused while a volume on it is mounted, DONE when already so or not seen", async () => {
    const w = await setup();
    const [h1] = await hosts(w);
    const { device, copy } = await mountedCopy(w, h1!);
    const lunOf = async () => (await w.client.getHostScsiLuns(h1!.storageSystem, signal())).find((l) => l.canonicalName === device);
    const lun = (await lunOf())!;
    expect(lun.uuid).toBeTruthy();
    expect(lun.operationalState).toEqual(["ok"]);
    await refusedWith(w.client.detachScsiLun(h1!.storageSystem, lun.uuid, signal()), TransientError, "ResourceInUse");
    await w.client.unmountVmfsVolume(h1!.storageSystem, copy.vmfsUuid, signal());
    expect(await w.client.detachScsiLun(h1!.storageSystem, lun.uuid, signal())).toBe(DONE);
    expect((await lunOf())?.operationalState).toEqual(["off"]);
    expect(await volumeOn(w, h1!, copy.vmfsUuid)).toBeUndefined(); // its unmounted volume goes with it
    expect(await w.client.detachScsiLun(h1!.storageSystem, lun.uuid, signal())).toBe(DONE);
    expect(await w.client.detachScsiLun(h1!.storageSystem, "0200000000600a0980000000000000000000000000000000", signal())).toBe(DONE);
    await w.client.rescanAllHba(h1!.storageSystem, signal());
    expect((await lunOf())?.operationalState).toEqual(["off"]);
    expect(await unresolvedOn(w, h1!, device)).toBeUndefined();
    expect(await w.client.attachScsiLun(h1!.storageSystem, lun.uuid, signal())).toBe(DONE);
    expect((await lunOf())?.operationalState).toEqual(["ok"]);
    expect(await volumeOn(w, h1!, copy.vmfsUuid)).toMatchObject({ mounted: false, extents: [device] });
    expect(await w.client.attachScsiLun(h1!.storageSystem, lun.uuid, signal())).toBe(DONE);
    await refusedWith(w.client.attachScsiLun(h1!.storageSystem, "0200000000600a0980000000000000000000000000000000", signal()), PermanentError, "NotFound");
    expect(await w.client.mountVmfsVolume(h1!.storageSystem, copy.vmfsUuid, signal())).toBe(DONE);
    expect((await volumeOn(w, h1!, copy.vmfsUuid))?.mounted).toBe(true);
  });

  it("mounts an NFS export under its name on each host (the existing datastore when repeated) and unmounts it per host: refused while a VM of that host is on it, DONE when not mounted", async () => {
    const w = await setup();
    const [h1, h2] = await hosts(w);
    const e = await w.nfsExport();
    const mount = { name: n.nfs.name, ...e };
    const ref = await w.client.createNasDatastore(h1!.datastoreSystem, mount, signal());
    expect(ref.type).toBe("Datastore");
    expect(await w.client.createNasDatastore(h1!.datastoreSystem, mount, signal())).toEqual(ref);
    expect(await w.client.createNasDatastore(h2!.datastoreSystem, mount, signal())).toEqual(ref);
    let ds = (await index(w)).datastoreOf(ref)!;
    expect(ds).toMatchObject({ name: n.nfs.name, type: "NFS", nas: e, accessible: true, vmfsExtents: [] });
    expect(ds.hosts.map((m) => [m.host.value, m.mounted, m.accessible]).sort()).toEqual([h1!, h2!].map((h) => [h.ref.value, true, true]).sort());
    expect(await w.client.getDatastoreVmfsUuid(ref, signal())).toBeUndefined();
    expect(await w.client.getHostVolumes(h1!.storageSystem, signal())).toContainEqual(expect.objectContaining({ name: n.nfs.name, type: "NFS", mounted: true, accessible: true }));
    expect(await search(w, ds)).toContain(n.nfs.vmx);
    await refusedWith(w.client.createNasDatastore(h1!.datastoreSystem, { name: "Contract-NoExport", remoteHost: e.remoteHost, remotePath: "/no/such/export" }, signal()), TransientError, "HostConfigFault");

    const dc = await datacenter(w);
    const vm = resultRef((await succeed(w, await w.client.registerVm({ folder: dc.vmFolder!, vmxPath: n.nfs.vmx, pool: await rootPool(w), host: h1!.ref }, signal())))!)!;
    await refusedWith(w.client.removeNasDatastore(h1!.datastoreSystem, ref, signal()), TransientError, "ResourceInUse");
    await w.client.unregisterVm(vm, signal());
    expect(await w.client.removeNasDatastore(h1!.datastoreSystem, ref, signal())).toBe(DONE);
    expect(await w.client.removeNasDatastore(h1!.datastoreSystem, ref, signal())).toBe(DONE);
    ds = (await index(w)).datastoreOf(ref)!;
    expect(ds.hosts.map((m) => m.host.value)).toEqual([h2!.ref.value]);
    expect((await w.client.getHostVolumes(h1!.storageSystem, signal())).some((v) => v.name === n.nfs.name)).toBe(false);
    expect(await w.client.removeNasDatastore(h2!.datastoreSystem, ref, signal())).toBe(DONE);
    expect((await index(w)).datastoreOf(ref)).toBeUndefined(); // mounted nowhere: gone
    expect(await w.client.removeNasDatastore(h2!.datastoreSystem, ref, signal())).toBe(DONE);
  });

  it("searches a datastore's subfolders for .vmx files, as '[datastore] folder/file.vmx' paths", async () => {
    const w = await setup();
    const ds = (await index(w)).datastoreByName(datastoreOfVmx(n.stoppedVm.vmx))!;
    const paths = await search(w, ds);
    expect(paths).toContain(n.stoppedVm.vmx);
    expect(new Set(paths).size).toBe(paths.length);
    for (const p of paths) expect(p.startsWith(`[${ds.name}] `) && /^\[[^\]]+\] [^/]+\/[^/]+\.vmx$/.test(p)).toBe(true);
  });

  it("reads several tasks in one call in the order asked: running ones, a failed one (the injected fault, its work not done) and succeeded ones", async () => {
    const w = await setup();
    const ds = (await index(w)).datastoreByName(datastoreOfVmx(n.stoppedVm.vmx))!;
    const running = await vmAt(w, `${n.folder}/${n.runningVm}`);
    await w.holdTasks("SearchDatastoreSubFolders_Task");
    const s1 = await w.client.searchDatastoreForVmx(ds.browser!, ds.name, signal());
    await w.failNextTask("PowerOffVM_Task", "InvalidState");
    const off = (await w.client.powerOff(running, signal())) as TaskRef;
    const s2 = await w.client.searchDatastoreForVmx(ds.browser!, ds.name, signal());
    const states = await until(w, async () => {
      const st = await w.client.getTasks([s1.task, off.task, s2.task], signal());
      return st[1]?.state === "error" ? st : undefined;
    });
    expect(states.map((s) => s.task)).toEqual([s1.task, off.task, s2.task]);
    expect(["queued", "running"]).toContain(states[0]!.state);
    expect(["queued", "running"]).toContain(states[2]!.state);
    expect(states[1]!.error).toBeInstanceOf(VimFault);
    expect(states[1]!.error?.faultType).toBe("InvalidState");
    expect(classifyVsphereError(states[1]!.error, "power off")).toBeInstanceOf(PermanentError);
    expect((await vmInfo(w, running)).powerState).toBe("poweredOn");
    await w.releaseTasks();
    const done = await until(w, async () => {
      const st = await w.client.getTasks([s2.task, s1.task], signal());
      return st.every(isTerminal) ? st : undefined;
    });
    expect(done.map((s) => [s.task, s.state])).toEqual([[s2.task, "success"], [s1.task, "success"]]);
    expect(readSearchResults(done[0]!)).toContain(n.stoppedVm.vmx);
    expect(await w.client.getTasks([], signal())).toEqual([]);
  });

  it("moves, renames and destroys inventory objects through tasks; a running VM is not destroyed", async () => {
    const w = await setup();
    const dc = await datacenter(w);
    const vm = await vmAt(w, n.stoppedVm.path);
    const target = await w.client.ensureFolderPath(dc.vmFolder!, ["Contract", "Moved"], signal());
    await succeed(w, await w.client.moveIntoFolder(target, [vm], signal()));
    expect((await vmInfo(w, vm)).parent).toEqual(target);
    await succeed(w, await w.client.rename(vm, "Contract Renamed", signal()));
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/Contract/Moved/Contract Renamed`, signal())).toEqual(vm);
    // A VM's name is unique in its folder.
    const running = await vmAt(w, `${n.folder}/${n.runningVm}`);
    await succeed(w, await w.client.moveIntoFolder((await vmInfo(w, running)).parent!, [vm], signal()));
    expect((await settle(w, await w.client.rename(vm, n.runningVm, signal()))).error?.faultType).toBe("DuplicateName");
    expect((await vmInfo(w, vm)).name).toBe("Contract Renamed");
    const a = await w.client.ensureFolderPath(dc.vmFolder!, ["Contract", "A"], signal());
    const b = await w.client.ensureFolderPath(dc.vmFolder!, ["Contract", "B"], signal());
    await succeed(w, await w.client.destroy(a, signal()));
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/Contract/A`, signal())).toBeUndefined();
    expect(await w.client.findByInventoryPath(`${n.datacenter}/vm/Contract/B`, signal())).toEqual(b);
    const refused = await settle(w, await w.client.destroy(running, signal()));
    expect(refused.error?.faultType).toBe("InvalidPowerState");
    expect((await vmInfo(w, running)).powerState).toBe("poweredOn");
  });

  it("sets and removes an advanced setting and turns the power-on scripts on and off, and reads them back with the devices in one call", async () => {
    const w = await setup();
    const vm = await vmAt(w, n.stoppedVm.path);
    const key = "guestinfo.vmdr.contract";
    const before = await w.client.getVmToolsScript(vm, key, signal());
    expect(before.value).toBeUndefined();
    const nic = before.devices.nics[0]!;
    await succeed(w, await w.client.reconfigureVm(vm, before.devices, { nics: [{ key: nic.key, connected: false, startConnected: false }], toolsAfterPowerOn: true, extraConfig: [{ key, value: '{"nics":[]}' }] }, signal()));
    const set = await w.client.getVmToolsScript(vm, key, signal());
    expect(set).toMatchObject({ afterPowerOn: true, value: '{"nics":[]}' });
    expect(set.devices.nics.find((x) => x.key === nic.key)).toMatchObject({ connected: false, startConnected: false, macAddress: nic.macAddress });
    // An empty value removes the setting.
    await succeed(w, await w.client.reconfigureVm(vm, set.devices, { toolsAfterPowerOn: false, extraConfig: [{ key, value: "" }] }, signal()));
    const cleared = await w.client.getVmToolsScript(vm, key, signal());
    expect(cleared.afterPowerOn).toBe(false);
    expect(cleared.value).toBeUndefined();
    expect((await vmInfo(w, vm)).toolsAfterPowerOn).toBe(false);
  });

  it("classifies a missing object as transient ManagedObjectNotFound, whatever the verb", async () => {
    const w = await setup();
    const vm: MoRef = { type: "VirtualMachine", value: "vm-999999" };
    const calls: [string, () => Promise<unknown>][] = [
      ["unregisterVm", () => w.client.unregisterVm(vm, signal())],
      ["powerOn", () => w.client.powerOn(vm, signal())],
      ["powerOff", () => w.client.powerOff(vm, signal())],
      ["getVmDevices", () => w.client.getVmDevices(vm, signal())],
      ["getVmToolsScript", () => w.client.getVmToolsScript(vm, "guestinfo.x", signal())],
      ["answerQuestion", () => w.client.answerQuestion(vm, "_vmx1", "1", signal())],
      ["getHostAddresses", () => w.client.getHostAddresses({ type: "HostSystem", value: "host-999999" }, signal())],
      ["getDvsUuid", () => w.client.getDvsUuid({ type: "DistributedVirtualSwitch", value: "dvs-999999" }, signal())],
      ["getDatastoreVmfsUuid", () => w.client.getDatastoreVmfsUuid({ type: "Datastore", value: "datastore-999999" }, signal())],
      ["createFolder", () => w.client.createFolder({ type: "Folder", value: "group-999999" }, "X", signal())],
      ["createResourcePool", () => w.client.createResourcePool({ type: "ResourcePool", value: "resgroup-999999" }, "X", signal())],
      ["destroy", () => w.client.destroy({ type: "Folder", value: "group-999999" }, signal())],
      ["getTasks", () => w.client.getTasks([{ type: "Task", value: "task-999999" }], signal())],
    ];
    for (const [what, call] of calls) {
      const err = await refusal(call());
      expect([what, err.constructor.name, err.reason]).toEqual([what, "TransientError", "ManagedObjectNotFound"]);
      expect(isFault(err, "ManagedObjectNotFound")).toBe(true);
    }
  });

  it("fails calls as transient VCenterUnreachable while the vCenter cannot be reached, and the same client works again once it is back", async () => {
    const w = await setup();
    const dc = await datacenter(w);
    await w.setReachable(false);
    try {
      const err = await refusal(w.client.findByInventoryPath(n.datacenter, signal()));
      expect(err).toBeInstanceOf(TransientError);
      expect(err.reason).toBe("VCenterUnreachable");
      expect(faultOf(err)).toBeUndefined();
    } finally {
      await w.setReachable(true);
    }
    expect(await w.client.findByInventoryPath(n.datacenter, signal())).toEqual(dc.ref);
  });
}
