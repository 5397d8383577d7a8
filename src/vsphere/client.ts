import type { About } from "./session.js";
import type { TaskState } from "./tasks.js";
import type { DatacenterInfo, InventoryObject, MoRef, TaskRef } from "./types.js";
import type { GuestCustomization, VmDevices, VmReconfig } from "./vm-specs.js";
import type { HostVolumeMount, ScsiLunInfo, UnresolvedVmfsVolume, VmfsResolution } from "./host-storage.js";

/** The operation already had the requested effect; no task was started. */
export const DONE = "Done" as const;
export type Done = typeof DONE;

export interface RegisterVmRequest {
  readonly folder: MoRef;
  /** "[datastore] folder/name.vmx" */
  readonly vmxPath: string;
  readonly name?: string;
  readonly pool: MoRef;
  readonly host?: MoRef;
}

export interface NasMount {
  /** Datastore name (what ESXi calls the local path). */
  readonly name: string;
  readonly remoteHost: string;
  readonly remotePath: string;
  readonly readOnly?: boolean;
}

export interface PoolLimits {
  readonly cpuMhz: number;
  readonly memoryMB: number;
}

export interface VmToolsScript {
  readonly devices: VmDevices;
  readonly afterPowerOn: boolean;
  readonly value?: string;
}

export interface OptionSetting {
  readonly key: string;
  readonly value: string | number | boolean;
  /** xsd type of the value; real ESXi rejects a wrong one (IntOption needs int, LongOption long). */
  readonly type?: "string" | "int" | "long" | "boolean";
}

/**
 * What the controllers ask of a vCenter: domain verbs over one logged-in session. Every method is
 * bounded by a timeout and `signal`; methods that start a vCenter task return its TaskRef and never
 * wait for it (persist it, poll with getTasks on a later pass). Creating methods are idempotent:
 * creating what already exists returns the existing object.
 */
export interface VsphereClient {
  readonly about: About;

  findDatacenter(name: string, signal?: AbortSignal): Promise<DatacenterInfo | undefined>;
  /** Every object the operator follows under `root`, read in pages through a ContainerView. */
  readInventory(root: MoRef, signal?: AbortSignal, pageSize?: number): Promise<InventoryObject[]>;

  findByInventoryPath(path: string, signal?: AbortSignal): Promise<MoRef | undefined>;
  findVmByInstanceUuid(uuid: string, datacenter?: MoRef, signal?: AbortSignal): Promise<MoRef | undefined>;
  /** Creates a child folder; returns the existing one when a folder of that name is already there. */
  createFolder(parent: MoRef, name: string, signal?: AbortSignal): Promise<MoRef>;
  /** Creates (or finds) each folder of `path` below `root`; returns the last. */
  ensureFolderPath(root: MoRef, path: readonly string[], signal?: AbortSignal): Promise<MoRef>;
  createResourcePool(parent: MoRef, name: string, signal?: AbortSignal): Promise<MoRef>;
  moveIntoFolder(folder: MoRef, objects: readonly MoRef[], signal?: AbortSignal): Promise<TaskRef>;
  destroy(obj: MoRef, signal?: AbortSignal): Promise<TaskRef>;
  rename(obj: MoRef, name: string, signal?: AbortSignal): Promise<TaskRef>;

  registerVm(r: RegisterVmRequest, signal?: AbortSignal): Promise<TaskRef>;
  unregisterVm(vm: MoRef, signal?: AbortSignal): Promise<void>;
  /** Starts a power-on; DONE when the VM is already on (checked first: vCenter would only fail the task). */
  powerOn(vm: MoRef, signal?: AbortSignal): Promise<TaskRef | Done>;
  /** Answers a pending question (e.g. "moved or copied") with one of its choice keys. */
  answerQuestion(vm: MoRef, questionId: string, choiceKey: string, signal?: AbortSignal): Promise<void>;
  powerOff(vm: MoRef, signal?: AbortSignal): Promise<TaskRef | Done>;
  /** Suspends a running VM; DONE when it is suspended or off already. A power-on resumes it. */
  suspendVm(vm: MoRef, signal?: AbortSignal): Promise<TaskRef | Done>;
  /** A resource pool's CPU (MHz) and memory (MB) limits; -1 is unlimited. */
  getPoolLimits(pool: MoRef, signal?: AbortSignal): Promise<PoolLimits>;
  /** Sets a resource pool's limits (UpdateConfig; what is not given is left as it is). */
  setPoolLimits(pool: MoRef, limits: Partial<PoolLimits>, signal?: AbortSignal): Promise<void>;
  /** Asks the guest to shut down; DONE at once (poll the power state); also DONE when already off. */
  shutdownGuest(vm: MoRef, signal?: AbortSignal): Promise<Done>;
  getVmDevices(vm: MoRef, signal?: AbortSignal): Promise<VmDevices>;
  /**
   * In one round trip: a VM's devices, whether VMware Tools run its power-on scripts
   * (config.tools.afterPowerOn) and one advanced setting (config.extraConfig; absent when unset).
   */
  getVmToolsScript(vm: MoRef, key: string, signal?: AbortSignal): Promise<VmToolsScript>;
  /** The devices of several VMs in one round trip, by managed object id; VMs that are gone are absent. */
  getVmsDevices(vms: readonly MoRef[], signal?: AbortSignal): Promise<Map<string, VmDevices>>;
  /** The IPv4 addresses of a host's VMkernel adapters (what an NFS export must admit). */
  getHostAddresses(host: MoRef, signal?: AbortSignal): Promise<string[]>;
  reconfigureVm(vm: MoRef, devices: VmDevices, change: VmReconfig, signal?: AbortSignal): Promise<TaskRef>;
  customizeVm(vm: MoRef, spec: GuestCustomization, signal?: AbortSignal): Promise<TaskRef>;
  /** The uuid of a distributed switch (NIC backings on distributed portgroups need it). */
  getDvsUuid(dvs: MoRef, signal?: AbortSignal): Promise<string>;

  rescanAllHba(storageSystem: MoRef, signal?: AbortSignal): Promise<void>;
  rescanVmfs(storageSystem: MoRef, signal?: AbortSignal): Promise<void>;
  refreshStorageSystem(storageSystem: MoRef, signal?: AbortSignal): Promise<void>;
  /** Mounts an NFS export on a host; returns the datastore (the existing one when already mounted). */
  createNasDatastore(datastoreSystem: MoRef, m: NasMount, signal?: AbortSignal): Promise<MoRef>;
  /**
   * Block storage the ESXi 7/8 way. A replica or clone LUN is an unresolved VMFS copy after a
   * rescan; it is mounted by resolving it (force-mount keeping its signature, or resignature).
   * Storage is removed in the safe order, each step observed before the next: unmount the VMFS on
   * every host, detach the device on every host, then unmap the LUN on the array.
   */
  /** The unresolved VMFS copies a host found at its last rescan. */
  queryUnresolvedVmfsVolumes(storageSystem: MoRef, signal?: AbortSignal): Promise<UnresolvedVmfsVolume[]>;
  /**
   * Starts resolving copies on one host (ResolveMultipleUnresolvedVmfsVolumesEx_Task); read each
   * copy's outcome with readResolutionResults. Copies that are no longer unresolved are left out;
   * DONE when none is left.
   */
  resolveUnresolvedVmfsVolumes(storageSystem: MoRef, specs: readonly VmfsResolution[], signal?: AbortSignal): Promise<TaskRef | Done>;
  /** Renames a datastore (a resignatured "snap-xxxxxxxx-RP1" back to "RP1"); DONE when it has the name. */
  renameDatastore(datastore: MoRef, name: string, signal?: AbortSignal): Promise<TaskRef | Done>;
  /** The file system volumes a host has, mounted or not. */
  getHostVolumes(storageSystem: MoRef, signal?: AbortSignal): Promise<HostVolumeMount[]>;
  /** The SCSI devices a host sees, with canonical name, uuid and operational state. */
  getHostScsiLuns(storageSystem: MoRef, signal?: AbortSignal): Promise<ScsiLunInfo[]>;
  /** A VMFS datastore's volume UUID (undefined for other types). */
  getDatastoreVmfsUuid(datastore: MoRef, signal?: AbortSignal): Promise<string | undefined>;
  /** Unmounts a VMFS volume on a host (refused with ResourceInUse while VMs are registered on it); DONE when not mounted. */
  unmountVmfsVolume(storageSystem: MoRef, vmfsUuid: string, signal?: AbortSignal): Promise<Done>;
  /** Mounts a VMFS volume the host unmounted; DONE when it is mounted. */
  mountVmfsVolume(storageSystem: MoRef, vmfsUuid: string, signal?: AbortSignal): Promise<Done>;
  /** Detaches a SCSI device (by ScsiLun.uuid) on a host; DONE when detached or no longer seen. */
  detachScsiLun(storageSystem: MoRef, lunUuid: string, signal?: AbortSignal): Promise<Done>;
  /** Attaches a detached SCSI device again; DONE when it is attached. */
  attachScsiLun(storageSystem: MoRef, lunUuid: string, signal?: AbortSignal): Promise<Done>;
  /** Unmounts an NFS datastore from one host (RemoveDatastore); DONE when it is not mounted there. */
  removeNasDatastore(datastoreSystem: MoRef, datastore: MoRef, signal?: AbortSignal): Promise<Done>;

  /** Starts a search of a datastore for *.vmx files; read the result with readSearchResults. */
  searchDatastoreForVmx(browser: MoRef, datastoreName: string, signal?: AbortSignal): Promise<TaskRef>;

  queryOptions(optionManager: MoRef, prefix: string, signal?: AbortSignal): Promise<{ key: string; value: string }[]>;
  updateOptions(optionManager: MoRef, settings: readonly OptionSetting[], signal?: AbortSignal): Promise<void>;

  /** The states of several tasks in one round trip. */
  getTasks(tasks: readonly MoRef[], signal?: AbortSignal): Promise<TaskState[]>;
}
