import { each, el, ref, text, typedText } from "./soap/builder.js";
import type { Xml } from "./soap/builder.js";
import { child, childrenNamed, textAt } from "./soap/xml.js";
import type { XNode } from "./soap/xml.js";
import { VimFault, VsphereProtocolError, classifyVsphereError, faultOf, isFault } from "./errors.js";
import { readDatacenter, INVENTORY_PROPERTIES, INVENTORY_VIEW_TYPES, readInventoryObject } from "./inventory.js";
import { filterSpec, readRef, readRetrieveResult } from "./property-collector.js";
import type { ObjectContent, PropertySpec } from "./property-collector.js";
import type { About, VsphereSession } from "./session.js";
import { TASK_PROPERTIES, readTaskState } from "./tasks.js";
import type { TaskState } from "./tasks.js";
import type { DatacenterInfo, InventoryObject, MoRef, TaskRef } from "./types.js";
import { customizationSpec, defaultResourceSpec, readDevices, reconfigSpec } from "./vm-specs.js";
import type { GuestCustomization, VmDevices, VmReconfig } from "./vm-specs.js";
import { DONE } from "./client.js";
import { readScsiLuns, readUnresolved, readVolumeMounts, resolutionSpecs } from "./host-storage.js";
import type { HostVolumeMount, ScsiLunInfo, UnresolvedVmfsVolume, VmfsResolution } from "./host-storage.js";
import type { Done, NasMount, OptionSetting, PoolLimits, RegisterVmRequest, VmToolsScript, VsphereClient } from "./client.js";

type Opts = { signal?: AbortSignal; operation?: string };

/** VsphereClient over one VsphereSession (the real implementation; tests use the lab). */
export class VcenterClient implements VsphereClient {
  constructor(private readonly session: VsphereSession) {}

  get about(): About {
    return this.session.about;
  }

  private get pc(): MoRef {
    return this.session.content.propertyCollector;
  }

  /**
   * Every call of the client goes through here, and every failure leaves it classified (STYLE
   * §2.7), once, at the boundary: the caller gets a Transient, Permanent or Wait OperatorError whose
   * reason says what happened (VCenterUnreachable, InvalidCredentials, the fault type) and whose
   * cause is the VimFault or transport error (isFault and faultOf look through it).
   */
  private async call(method: string, self: MoRef, params: readonly Xml[], o: Opts = {}): Promise<XNode> {
    try {
      return await this.session.call(method, self, params, o);
    } catch (err) {
      throw classifyVsphereError(err, `${o.operation ?? method} ${self.value}`);
    }
  }

  private async returnRef(method: string, self: MoRef, params: readonly Xml[], o: Opts): Promise<MoRef> {
    const res = await this.call(method, self, params, o);
    const r = readRef(child(res, "returnval"));
    if (!r) throw classifyVsphereError(new VsphereProtocolError(`${method}: response has no object reference`), method);
    return r;
  }

  private async task(method: string, self: MoRef, params: readonly Xml[], o: Opts): Promise<TaskRef> {
    const r = await this.returnRef(method, self, params, o);
    return { task: r };
  }

  /** RetrievePropertiesEx with continuation, over explicit objects or a ContainerView. */
  async retrieve(propSets: readonly PropertySpec[], objects: readonly { obj: MoRef; viaView: boolean }[], signal?: AbortSignal, pageSize = 500): Promise<ObjectContent[]> {
    const out: ObjectContent[] = [];
    await this.retrieveEach(propSets, objects, (page) => out.push(...page), signal, pageSize);
    return out;
  }

  /**
   * Like retrieve, but hands each page to onPage as it arrives, so a caller that converts objects
   * to something smaller never holds the whole inventory as XML.
   */
  async retrieveEach(
    propSets: readonly PropertySpec[],
    objects: readonly { obj: MoRef; viaView: boolean }[],
    onPage: (objects: ObjectContent[]) => void,
    signal?: AbortSignal,
    pageSize = 500,
  ): Promise<void> {
    const first = await this.call("RetrievePropertiesEx", this.pc, [filterSpec("specSet", propSets, objects), el("options", [text("maxObjects", pageSize)])], {
      signal,
      operation: "RetrieveProperties",
    });
    let page = readRetrieveResult(child(first, "returnval"));
    onPage(page.objects);
    while (page.token) {
      const next = await this.call("ContinueRetrievePropertiesEx", this.pc, [text("token", page.token)], { signal, operation: "RetrieveProperties" });
      page = readRetrieveResult(child(next, "returnval"));
      onPage(page.objects);
    }
  }

  /** Creates a ContainerView (session-scoped); the caller must destroy it. */
  async createContainerView(container: MoRef, types: readonly string[], signal?: AbortSignal): Promise<MoRef> {
    return this.returnRef(
      "CreateContainerView",
      this.session.content.viewManager,
      [ref("container", container), each(types, (t) => text("type", t)), text("recursive", true)],
      { signal, operation: "CreateContainerView" },
    );
  }

  async destroyView(view: MoRef): Promise<void> {
    try {
      await this.call("DestroyView", view, [], { operation: "DestroyView", signal: AbortSignal.timeout(10_000) });
    } catch {
      /* session-scoped: it dies with the session anyway */
    }
  }

  async findDatacenter(name: string, signal?: AbortSignal): Promise<DatacenterInfo | undefined> {
    const view = await this.createContainerView(this.session.content.rootFolder, ["Datacenter"], signal);
    try {
      const objs = await this.retrieve(INVENTORY_PROPERTIES.filter((p) => p.type === "Datacenter"), [{ obj: view, viaView: true }], signal);
      return objs.map(readDatacenter).find((d) => d.name === name);
    } finally {
      await this.destroyView(view);
    }
  }

  async readInventory(root: MoRef, signal?: AbortSignal, pageSize = 500): Promise<InventoryObject[]> {
    const view = await this.createContainerView(root, INVENTORY_VIEW_TYPES, signal);
    try {
      const out: InventoryObject[] = [];
      await this.retrieveEach(
        INVENTORY_PROPERTIES,
        [{ obj: view, viaView: true }],
        (page) => {
          for (const c of page) {
            const o = readInventoryObject(c);
            if (o) out.push(o);
          }
        },
        signal,
        pageSize,
      );
      return out;
    } finally {
      await this.destroyView(view);
    }
  }

  async findByInventoryPath(path: string, signal?: AbortSignal): Promise<MoRef | undefined> {
    const res = await this.call("FindByInventoryPath", this.session.content.searchIndex, [text("inventoryPath", path)], { signal, operation: "FindByInventoryPath" });
    return readRef(child(res, "returnval"));
  }

  async findVmByInstanceUuid(uuid: string, datacenter?: MoRef, signal?: AbortSignal): Promise<MoRef | undefined> {
    const res = await this.call(
      "FindByUuid",
      this.session.content.searchIndex,
      [ref("datacenter", datacenter), text("uuid", uuid), text("vmSearch", true), text("instanceUuid", true)],
      { signal, operation: "FindByUuid" },
    );
    return readRef(child(res, "returnval"));
  }

  async createFolder(parent: MoRef, name: string, signal?: AbortSignal): Promise<MoRef> {
    try {
      return await this.returnRef("CreateFolder", parent, [text("name", name)], { signal, operation: "CreateFolder" });
    } catch (err) {
      if (!isFault(err, "DuplicateName")) throw err;
      const existing = await this.findChild(parent, "Folder", name, signal);
      if (!existing) throw err;
      return existing;
    }
  }

  async ensureFolderPath(root: MoRef, path: readonly string[], signal?: AbortSignal): Promise<MoRef> {
    let cur = root;
    for (const name of path) cur = (await this.findChild(cur, "Folder", name, signal)) ?? (await this.createFolder(cur, name, signal));
    return cur;
  }

  async createResourcePool(parent: MoRef, name: string, signal?: AbortSignal): Promise<MoRef> {
    try {
      return await this.returnRef("CreateResourcePool", parent, [text("name", name), defaultResourceSpec()], { signal, operation: "CreateResourcePool" });
    } catch (err) {
      if (!isFault(err, "DuplicateName")) throw err;
      const existing = await this.findChild(parent, "ResourcePool", name, signal);
      if (!existing) throw err;
      return existing;
    }
  }

  /** A direct child of `parent` of the given type and name (folders: childEntity; pools: resourcePool). */
  private async findChild(parent: MoRef, type: "Folder" | "ResourcePool", name: string, signal?: AbortSignal): Promise<MoRef | undefined> {
    const prop = parent.type === "ResourcePool" ? "resourcePool" : "childEntity";
    const [p] = await this.retrieve([{ type: parent.type, pathSet: [prop] }], [{ obj: parent, viaView: false }], signal);
    const kids = childrenNamed(p?.props.get(prop), "ManagedObjectReference")
      .map(readRef)
      .filter((r): r is MoRef => r?.type === type);
    if (kids.length === 0) return undefined;
    const named = await this.retrieve([{ type, pathSet: ["name"] }], kids.map((k) => ({ obj: k, viaView: false })), signal);
    return named.find((o) => o.props.get("name")?.text === name)?.obj;
  }

  moveIntoFolder(folder: MoRef, objects: readonly MoRef[], signal?: AbortSignal): Promise<TaskRef> {
    return this.task("MoveIntoFolder_Task", folder, [each(objects, (o) => ref("list", o))], { signal, operation: "MoveIntoFolder" });
  }

  destroy(obj: MoRef, signal?: AbortSignal): Promise<TaskRef> {
    return this.task("Destroy_Task", obj, [], { signal, operation: "Destroy" });
  }

  rename(obj: MoRef, name: string, signal?: AbortSignal): Promise<TaskRef> {
    return this.task("Rename_Task", obj, [text("newName", name)], { signal, operation: "Rename" });
  }

  registerVm(r: RegisterVmRequest, signal?: AbortSignal): Promise<TaskRef> {
    return this.task(
      "RegisterVM_Task",
      r.folder,
      [text("path", r.vmxPath), text("name", r.name), text("asTemplate", false), ref("pool", r.pool), ref("host", r.host)],
      { signal, operation: "RegisterVM" },
    );
  }

  async unregisterVm(vm: MoRef, signal?: AbortSignal): Promise<void> {
    await this.call("UnregisterVM", vm, [], { signal, operation: "UnregisterVM" });
  }

  async powerOn(vm: MoRef, signal?: AbortSignal): Promise<TaskRef | Done> {
    // vCenter reports "already on" only as a failed task; observe first so a repeat is a no-op.
    if ((await this.powerState(vm, signal)) === "poweredOn") return DONE;
    try {
      return await this.task("PowerOnVM_Task", vm, [], { signal, operation: "PowerOnVM" });
    } catch (err) {
      if (isAlreadyPowerState(err, "poweredOn")) return DONE;
      throw err;
    }
  }

  private async powerState(vm: MoRef, signal?: AbortSignal): Promise<string | undefined> {
    const [o] = await this.retrieve([{ type: "VirtualMachine", pathSet: ["runtime.powerState"] }], [{ obj: vm, viaView: false }], signal);
    return o?.props.get("runtime.powerState")?.text;
  }

  async answerQuestion(vm: MoRef, questionId: string, choiceKey: string, signal?: AbortSignal): Promise<void> {
    await this.call("AnswerVM", vm, [text("questionId", questionId), text("answerChoice", choiceKey)], { signal, operation: "AnswerVM" });
  }

  async powerOff(vm: MoRef, signal?: AbortSignal): Promise<TaskRef | Done> {
    if ((await this.powerState(vm, signal)) === "poweredOff") return DONE;
    try {
      return await this.task("PowerOffVM_Task", vm, [], { signal, operation: "PowerOffVM" });
    } catch (err) {
      if (isAlreadyPowerState(err, "poweredOff")) return DONE;
      throw err;
    }
  }

  async suspendVm(vm: MoRef, signal?: AbortSignal): Promise<TaskRef | Done> {
    const state = await this.powerState(vm, signal);
    if (state === "suspended" || state === "poweredOff") return DONE;
    try {
      return await this.task("SuspendVM_Task", vm, [], { signal, operation: "SuspendVM" });
    } catch (err) {
      if (isAlreadyPowerState(err, "poweredOff") || faultOf(err)?.field("existingState") === "suspended") return DONE;
      throw err;
    }
  }

  async getPoolLimits(pool: MoRef, signal?: AbortSignal): Promise<PoolLimits> {
    const paths = ["config.cpuAllocation.limit", "config.memoryAllocation.limit"];
    const [o] = await this.retrieve([{ type: pool.type, pathSet: paths }], [{ obj: pool, viaView: false }], signal);
    if (!o) throw classifyVsphereError(new VsphereProtocolError(`resource pool ${pool.value} returned no configuration`), "read resource pool");
    const limit = (path: string): number => Number(o.props.get(path)?.text ?? -1);
    return { cpuMhz: limit(paths[0]!), memoryMB: limit(paths[1]!) };
  }

  async setPoolLimits(pool: MoRef, limits: Partial<PoolLimits>, signal?: AbortSignal): Promise<void> {
    const allocation = (name: string, limit: number | undefined): Xml => el(name, limit === undefined ? [] : [text("limit", Math.round(limit))]);
    await this.call("UpdateConfig", pool, [el("config", [allocation("cpuAllocation", limits.cpuMhz), allocation("memoryAllocation", limits.memoryMB)])], { signal, operation: "UpdateConfig" });
  }

  async shutdownGuest(vm: MoRef, signal?: AbortSignal): Promise<Done> {
    try {
      await this.call("ShutdownGuest", vm, [], { signal, operation: "ShutdownGuest" });
    } catch (err) {
      if (!isAlreadyPowerState(err, "poweredOff")) throw err;
    }
    return DONE;
  }

  async getVmDevices(vm: MoRef, signal?: AbortSignal): Promise<VmDevices> {
    const [o] = await this.retrieve([{ type: "VirtualMachine", pathSet: ["config.hardware.device"] }], [{ obj: vm, viaView: false }], signal);
    return readDevices(o?.props.get("config.hardware.device"));
  }

  async getVmToolsScript(vm: MoRef, key: string, signal?: AbortSignal): Promise<VmToolsScript> {
    const [o] = await this.retrieve([{ type: "VirtualMachine", pathSet: ["config.hardware.device", "config.tools.afterPowerOn", "config.extraConfig"] }], [{ obj: vm, viaView: false }], signal);
    // An unset afterPowerOn is VMware Tools' default, which runs the scripts.
    const afterPowerOn = o?.props.get("config.tools.afterPowerOn")?.text !== "false";
    const option = childrenNamed(o?.props.get("config.extraConfig"), "OptionValue").find((x) => textAt(x, "key")?.toLowerCase() === key.toLowerCase());
    const value = option ? (textAt(option, "value") ?? "") : undefined;
    return { devices: readDevices(o?.props.get("config.hardware.device")), afterPowerOn, ...(value !== undefined && value !== "" ? { value } : {}) };
  }

  async getVmsDevices(vms: readonly MoRef[], signal?: AbortSignal): Promise<Map<string, VmDevices>> {
    const out = new Map<string, VmDevices>();
    if (vms.length === 0) return out;
    const spec = [{ type: "VirtualMachine", pathSet: ["config.hardware.device"] }];
    let objs: ObjectContent[];
    try {
      objs = await this.retrieve(spec, vms.map((v) => ({ obj: v, viaView: false })), signal);
    } catch (err) {
      // RetrievePropertiesEx fails the whole read when one object is gone: read them one by one
      // and leave out the VMs that no longer exist.
      if (!isFault(err, "ManagedObjectNotFound")) throw err;
      objs = [];
      for (const v of vms.length > 1 ? vms : []) {
        try {
          objs.push(...(await this.retrieve(spec, [{ obj: v, viaView: false }], signal)));
        } catch (e) {
          if (!isFault(e, "ManagedObjectNotFound")) throw e;
        }
      }
    }
    for (const o of objs) out.set(o.obj.value, readDevices(o.props.get("config.hardware.device")));
    return out;
  }

  async getHostAddresses(host: MoRef, signal?: AbortSignal): Promise<string[]> {
    const [o] = await this.retrieve([{ type: "HostSystem", pathSet: ["config.network.vnic"] }], [{ obj: host, viaView: false }], signal);
    return childrenNamed(o?.props.get("config.network.vnic"), "HostVirtualNic")
      .map((n) => textAt(n, "spec.ip.ipAddress") ?? "")
      .filter((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip));
  }

  reconfigureVm(vm: MoRef, devices: VmDevices, change: VmReconfig, signal?: AbortSignal): Promise<TaskRef> {
    // A change the devices cannot take (a NIC key the VM does not have) is refused before anything is sent, as a rejection.
    return Promise.resolve().then(() => this.task("ReconfigVM_Task", vm, [reconfigSpec(devices, change)], { signal, operation: "ReconfigVM" }));
  }

  customizeVm(vm: MoRef, spec: GuestCustomization, signal?: AbortSignal): Promise<TaskRef> {
    return this.task("CustomizeVM_Task", vm, [customizationSpec(spec)], { signal, operation: "CustomizeVM" });
  }

  async getDvsUuid(dvs: MoRef, signal?: AbortSignal): Promise<string> {
    const [o] = await this.retrieve([{ type: dvs.type, pathSet: ["uuid"] }], [{ obj: dvs, viaView: false }], signal);
    const uuid = o?.props.get("uuid")?.text;
    if (!uuid) throw classifyVsphereError(new VsphereProtocolError(`distributed switch ${dvs.value} has no uuid`), "read distributed switch");
    return uuid;
  }

  async rescanAllHba(storageSystem: MoRef, signal?: AbortSignal): Promise<void> {
    await this.call("RescanAllHba", storageSystem, [], { signal, operation: "RescanAllHba" });
  }

  async rescanVmfs(storageSystem: MoRef, signal?: AbortSignal): Promise<void> {
    await this.call("RescanVmfs", storageSystem, [], { signal, operation: "RescanVmfs" });
  }

  async refreshStorageSystem(storageSystem: MoRef, signal?: AbortSignal): Promise<void> {
    await this.call("RefreshStorageSystem", storageSystem, [], { signal, operation: "RefreshStorageSystem" });
  }

  async createNasDatastore(datastoreSystem: MoRef, m: NasMount, signal?: AbortSignal): Promise<MoRef> {
    try {
      return await this.returnRef(
        "CreateNasDatastore",
        datastoreSystem,
        [
          el("spec", [
            text("remoteHost", m.remoteHost),
            text("remotePath", m.remotePath),
            text("localPath", m.name),
            text("accessMode", m.readOnly ? "readOnly" : "readWrite"),
            text("type", "NFS"),
          ]),
        ],
        { signal, operation: "CreateNasDatastore" },
      );
    } catch (err) {
      if (!isFault(err, "AlreadyExists", "DuplicateName")) throw err;
      const [sys] = await this.retrieve([{ type: "HostDatastoreSystem", pathSet: ["datastore"] }], [{ obj: datastoreSystem, viaView: false }], signal);
      const dss = childrenNamed(sys?.props.get("datastore"), "ManagedObjectReference").map(readRef).filter((r): r is MoRef => r !== undefined);
      const named = dss.length ? await this.retrieve([{ type: "Datastore", pathSet: ["name"] }], dss.map((d) => ({ obj: d, viaView: false })), signal) : [];
      const existing = named.find((o) => o.props.get("name")?.text === m.name)?.obj;
      if (!existing) throw err;
      return existing;
    }
  }

  async queryUnresolvedVmfsVolumes(storageSystem: MoRef, signal?: AbortSignal): Promise<UnresolvedVmfsVolume[]> {
    const res = await this.call("QueryUnresolvedVmfsVolume", storageSystem, [], { signal, operation: "QueryUnresolvedVmfsVolume" });
    return readUnresolved(childrenNamed(res, "returnval"));
  }

  async resolveUnresolvedVmfsVolumes(storageSystem: MoRef, specs: readonly VmfsResolution[], signal?: AbortSignal): Promise<TaskRef | Done> {
    // Observe first: resolving a copy that is already mounted would only fail inside the task.
    const pending = new Set((await this.queryUnresolvedVmfsVolumes(storageSystem, signal)).flatMap((v) => v.extents.map((e) => e.devicePath)));
    const todo = specs.filter((s) => pending.has(s.devicePath));
    if (todo.length === 0) return DONE;
    return this.task("ResolveMultipleUnresolvedVmfsVolumesEx_Task", storageSystem, [resolutionSpecs(todo)], { signal, operation: "ResolveUnresolvedVmfsVolumes" });
  }

  async renameDatastore(datastore: MoRef, name: string, signal?: AbortSignal): Promise<TaskRef | Done> {
    const [o] = await this.retrieve([{ type: "Datastore", pathSet: ["name"] }], [{ obj: datastore, viaView: false }], signal);
    if (o?.props.get("name")?.text === name) return DONE;
    return this.task("Rename_Task", datastore, [text("newName", name)], { signal, operation: "RenameDatastore" });
  }

  async getHostVolumes(storageSystem: MoRef, signal?: AbortSignal): Promise<HostVolumeMount[]> {
    const [o] = await this.retrieve([{ type: "HostStorageSystem", pathSet: ["fileSystemVolumeInfo.mountInfo"] }], [{ obj: storageSystem, viaView: false }], signal);
    return readVolumeMounts(o?.props.get("fileSystemVolumeInfo.mountInfo"));
  }

  async getHostScsiLuns(storageSystem: MoRef, signal?: AbortSignal): Promise<ScsiLunInfo[]> {
    const [o] = await this.retrieve([{ type: "HostStorageSystem", pathSet: ["storageDeviceInfo.scsiLun"] }], [{ obj: storageSystem, viaView: false }], signal);
    return readScsiLuns(o?.props.get("storageDeviceInfo.scsiLun"));
  }

  async getDatastoreVmfsUuid(datastore: MoRef, signal?: AbortSignal): Promise<string | undefined> {
    const [o] = await this.retrieve([{ type: "Datastore", pathSet: ["info"] }], [{ obj: datastore, viaView: false }], signal);
    return textAt(o?.props.get("info"), "vmfs.uuid");
  }

  async unmountVmfsVolume(storageSystem: MoRef, vmfsUuid: string, signal?: AbortSignal): Promise<Done> {
    const mounted = async (): Promise<boolean> => (await this.getHostVolumes(storageSystem, signal)).some((v) => v.vmfsUuid === vmfsUuid && v.mounted);
    if (!(await mounted())) return DONE;
    try {
      await this.call("UnmountVmfsVolume", storageSystem, [text("vmfsUuid", vmfsUuid)], { signal, operation: "UnmountVmfsVolume" });
    } catch (err) {
      // Already unmounted (a repeat) is done; inaccessible or in use is the caller's to handle.
      if (!isFault(err, "InvalidState", "NotFound") || (await mounted())) throw err;
    }
    return DONE;
  }

  async mountVmfsVolume(storageSystem: MoRef, vmfsUuid: string, signal?: AbortSignal): Promise<Done> {
    const mounted = async (): Promise<boolean> => (await this.getHostVolumes(storageSystem, signal)).some((v) => v.vmfsUuid === vmfsUuid && v.mounted);
    if (await mounted()) return DONE;
    try {
      await this.call("MountVmfsVolume", storageSystem, [text("vmfsUuid", vmfsUuid)], { signal, operation: "MountVmfsVolume" });
    } catch (err) {
      if (!isFault(err, "InvalidState") || !(await mounted())) throw err;
    }
    return DONE;
  }

  async detachScsiLun(storageSystem: MoRef, lunUuid: string, signal?: AbortSignal): Promise<Done> {
    const state = async (): Promise<readonly string[] | undefined> => (await this.getHostScsiLuns(storageSystem, signal)).find((l) => l.uuid === lunUuid)?.operationalState;
    const before = await state();
    if (!before || before.includes("off")) return DONE;
    try {
      await this.call("DetachScsiLun", storageSystem, [text("lunUuid", lunUuid)], { signal, operation: "DetachScsiLun" });
    } catch (err) {
      const now = await state();
      if (!isFault(err, "InvalidState", "NotFound") || (now && !now.includes("off"))) throw err;
    }
    return DONE;
  }

  async attachScsiLun(storageSystem: MoRef, lunUuid: string, signal?: AbortSignal): Promise<Done> {
    const state = async (): Promise<readonly string[] | undefined> => (await this.getHostScsiLuns(storageSystem, signal)).find((l) => l.uuid === lunUuid)?.operationalState;
    const before = await state();
    if (before && !before.includes("off")) return DONE;
    try {
      await this.call("AttachScsiLun", storageSystem, [text("lunUuid", lunUuid)], { signal, operation: "AttachScsiLun" });
    } catch (err) {
      const now = await state();
      if (!isFault(err, "InvalidState") || !now || now.includes("off")) throw err;
    }
    return DONE;
  }

  async removeNasDatastore(datastoreSystem: MoRef, datastore: MoRef, signal?: AbortSignal): Promise<Done> {
    try {
      await this.call("RemoveDatastore", datastoreSystem, [ref("datastore", datastore)], { signal, operation: "RemoveDatastore" });
    } catch (err) {
      // Not mounted on this host, or gone altogether: nothing to remove.
      if (!isFault(err, "NotFound", "ManagedObjectNotFound")) throw err;
    }
    return DONE;
  }

  searchDatastoreForVmx(browser: MoRef, datastoreName: string, signal?: AbortSignal): Promise<TaskRef> {
    return this.task(
      "SearchDatastoreSubFolders_Task",
      browser,
      [
        text("datastorePath", `[${datastoreName}]`),
        el("searchSpec", [
          el("query", [], "VmConfigFileQuery"),
          el("details", [text("fileType", true), text("fileSize", false), text("modification", false), text("fileOwner", false)]),
          text("matchPattern", "*.vmx"),
        ]),
      ],
      { signal, operation: "SearchDatastore" },
    );
  }

  async queryOptions(optionManager: MoRef, prefix: string, signal?: AbortSignal): Promise<{ key: string; value: string }[]> {
    try {
      const res = await this.call("QueryOptions", optionManager, [text("name", prefix)], { signal, operation: "QueryOptions" });
      return childrenNamed(res, "returnval").map((o) => ({ key: child(o, "key")?.text ?? "", value: child(o, "value")?.text ?? "" }));
    } catch (err) {
      if (isFault(err, "InvalidName")) return [];
      throw err;
    }
  }

  async updateOptions(optionManager: MoRef, settings: readonly OptionSetting[], signal?: AbortSignal): Promise<void> {
    const xsd = (s: OptionSetting): string => `xsd:${s.type ?? (typeof s.value === "number" ? "int" : typeof s.value === "boolean" ? "boolean" : "string")}`;
    await this.call(
      "UpdateOptions",
      optionManager,
      [each(settings, (s) => el("changedValue", [text("key", s.key), typedText("value", xsd(s), s.value)]))],
      { signal, operation: "UpdateOptions" },
    );
  }

  async getTasks(tasks: readonly MoRef[], signal?: AbortSignal): Promise<TaskState[]> {
    if (tasks.length === 0) return [];
    const objs = await this.retrieve([{ type: "Task", pathSet: TASK_PROPERTIES }], tasks.map((t) => ({ obj: t, viaView: false })), signal);
    const byId = new Map(objs.map((o) => [o.obj.value, readTaskState(o)]));
    return tasks.map((t) => {
      const s = byId.get(t.value);
      if (!s) throw classifyVsphereError(new VimFault("ManagedObjectNotFound", `ManagedObjectNotFound: task ${t.value} no longer exists`), "read tasks");
      return s;
    });
  }
}

/** InvalidPowerState whose existing state is already the one we want: the operation is done. */
export function isAlreadyPowerState(err: unknown, state: "poweredOn" | "poweredOff"): boolean {
  const f = faultOf(err);
  return f !== undefined && f.faultType === "InvalidPowerState" && f.field("existingState") === state;
}
