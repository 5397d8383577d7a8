import { TransportError } from "../../src/net/http.js";
import { InventoryIndex } from "../../src/sites/inventory-index.js";
import { DONE } from "../../src/vsphere/client.js";
import type { Done, NasMount, OptionSetting, PoolLimits, RegisterVmRequest, VmToolsScript, VsphereClient } from "../../src/vsphere/client.js";
import { VimFault, classifyVsphereError, isFault } from "../../src/vsphere/errors.js";
import type { HostVolumeMount, ScsiLunInfo, UnresolvedVmfsVolume, VmfsResolution } from "../../src/vsphere/host-storage.js";
import type { About } from "../../src/vsphere/session.js";
import { child, childrenNamed, node, parseXml, textAt, XSI_NS } from "../../src/vsphere/soap/xml.js";
import type { XNode } from "../../src/vsphere/soap/xml.js";
import type { TaskState } from "../../src/vsphere/tasks.js";
import type { DatacenterInfo, InventoryObject, MoRef, PowerState, TaskRef, TaskStateName, VmQuestion } from "../../src/vsphere/types.js";
import { customizationSpec, readDevices, reconfigSpec } from "../../src/vsphere/vm-specs.js";
import type { GuestCustomization, VmDevices, VmReconfig } from "../../src/vsphere/vm-specs.js";
import type { Clock } from "../../src/util/clock.js";

/**
 * When a task does its work:
 *  - "onPoll" (default): it is queued until a getTasks asks for it, which runs it and reports its end
 *    (as the ONTAP fake runs a job when it is first polled);
 *  - "immediate": when it is created (getTasks only ever sees it ended);
 *  - "manual": getTasks reports it queued, then running, until completeTasks() runs it.
 * Held tasks (holdTasks) wait for releaseTasks() whatever the timing; a power-on waits for the
 * answer to its question.
 */
export type TaskTiming = "onPoll" | "immediate" | "manual";

export interface FakeVsphereOptions {
  /** The datacenter's name ("Site 2"). */
  readonly datacenter?: string;
  /** Seeds the deterministic identities (UUIDs) of what is created here. */
  readonly site?: string;
  readonly instanceUuid?: string;
  readonly taskTiming?: TaskTiming;
  /** Stamps task start and end times (default: the system clock). */
  readonly clock?: Clock;
  /** When false, VMware Tools come up at the tick() after a power-on rather than with it (default true). */
  readonly toolsOnPowerOn?: boolean;
}

/** A NIC of a .vmx: on a portgroup of this vCenter (by name), or a backing of another one's. */
export interface FakeNicSpec {
  readonly portgroup: string;
  readonly mac?: string;
  /** A distributed port elsewhere (a VM from the other site): kept as written, attached to nothing here. */
  readonly switchUuid?: string;
  readonly portgroupKey?: string;
  readonly deviceType?: string;
  readonly startConnected?: boolean;
}

export interface FakeMediaSpec {
  /** An ISO (CD-ROM) or image (floppy) datastore path; otherwise a remote/host device. */
  readonly file?: string;
  readonly startConnected?: boolean;
}

/** A .vmx file as the fake keeps it: what RegisterVM_Task reads. */
export interface FakeVmxSpec {
  readonly name: string;
  /** Path inside the datastore; default "<name>/<name>.vmx". */
  readonly path?: string;
  readonly instanceUuid?: string;
  readonly biosUuid?: string;
  /** Default: one vmxnet3 NIC on the first portgroup added. */
  readonly nics?: readonly FakeNicSpec[];
  /** Default: a disconnected remote CD-ROM; false: none. */
  readonly cdrom?: FakeMediaSpec | false;
  /** Default: a disconnected floppy on /dev/fd0; false: none. */
  readonly floppy?: FakeMediaSpec | false;
  /** What the guest reports once its tools run. */
  readonly guestIp?: string;
  /** Whether the guest has VMware Tools (default true). */
  readonly tools?: boolean;
  /** Written at another site or path: its first power-on here asks "moved or copied". */
  readonly copied?: boolean;
}

export interface FakeVmSpec extends FakeVmxSpec {
  /** The datastore holding the .vmx. */
  readonly datastore: string;
  /** Folder path below the vm folder ("Protection Group 1/Database"); "" (default) is the vm folder. */
  readonly folder?: string;
  /** Default: the first cluster. */
  readonly cluster?: string;
  /** Pool path below the cluster's root pool; "" (default) is the root pool. */
  readonly pool?: string;
  /** Default: the cluster's first host that mounts the datastore. */
  readonly host?: string;
  readonly powerState?: PowerState;
}

export interface FakeCopySpec {
  /** The VMFS label ("RP1"); the datastore's name once force-mounted. */
  readonly label: string;
  /** The copy's device (canonical name); default a new naa.600a0980… name. */
  readonly device?: string;
  /** The VMFS UUID its header carries (the original's); default derived from the label, so two copies of one label share it. */
  readonly vmfsUuid?: string;
  /** Hosts it is presented to; default every host. */
  readonly hosts?: readonly string[];
  /** The .vmx files on it (copied from elsewhere: each asks "moved or copied" on its first power-on). */
  readonly vms?: readonly FakeVmxSpec[];
  /** A mirror destination: seen as a device, neither mounted nor listed unresolved. */
  readonly readOnly?: boolean;
}

interface VmxFile {
  name: string;
  instanceUuid: string;
  biosUuid: string;
  devices: XNode[];
  /** Written at another site or path (a copy): the next power-on asks "moved or copied". */
  asks: boolean;
  guestIp?: string;
  /** The prefix length of guestIp (default 24). */
  guestPrefix?: number;
  tools: boolean;
  toolsAfterPowerOn: boolean;
  /** Advanced settings (config.extraConfig), by key. */
  extraConfig: Map<string, string>;
}

interface Files {
  /** Path inside the datastore → file. */
  readonly vmx: Map<string, VmxFile>;
}

interface Vmfs {
  uuid: string;
  label: string;
  /** The device the header was written on: on any other device it is a copy. */
  formattedOn: string;
}

interface Lun {
  readonly device: string;
  readonly uuid: string;
  hosts: Set<string>;
  vmfs?: Vmfs;
  files: Files;
  readOnly: boolean;
}

interface NfsExport {
  readonly remoteHost: string;
  readonly remotePath: string;
  hosts: Set<string> | undefined;
  readonly files: Files;
}

interface Base {
  readonly ref: MoRef;
  name: string;
  parent: MoRef;
}
interface FFolder extends Base { readonly kind: "Folder"; readonly childType: readonly string[] }
interface FDatacenter extends Base { readonly kind: "Datacenter"; readonly vmFolder: MoRef; readonly hostFolder: MoRef; readonly datastoreFolder: MoRef; readonly networkFolder: MoRef }
interface FCluster extends Base { readonly kind: "Cluster"; readonly rootPool: MoRef; readonly hosts: MoRef[] }
interface FPool extends Base { readonly kind: "Pool"; readonly owner: MoRef; limits?: { cpuMhz: number; memoryMB: number } }
interface FSwitch extends Base { readonly kind: "Switch"; readonly uuid: string }
interface FNetwork extends Base { readonly kind: "Network"; readonly dvSwitch?: MoRef }
interface FHost extends Base {
  readonly kind: "Host";
  readonly storageSystem: MoRef;
  readonly datastoreSystem: MoRef;
  readonly optionManager: MoRef;
  readonly ips: string[];
  readonly options: Map<string, { value: string | number | boolean; type: "string" | "int" | "long" | "boolean" }>;
  /** Devices found at the last rescan. */
  seen: Set<string>;
  /** Remembered across rescans, as ESXi does. */
  readonly detached: Set<string>;
  readonly unmounted: Set<string>;
  /** Device → VMFS UUID force-mounted on it. */
  readonly forceMounted: Map<string, string>;
  /** NFS datastores (ref values) mounted here. */
  readonly nfs: Set<string>;
}
interface FDatastore extends Base {
  readonly kind: "Datastore";
  readonly type: "VMFS" | "NFS";
  readonly vmfsUuid?: string;
  readonly nas?: NfsExport;
  readonly browser: MoRef;
  readonly url: string;
}
interface FVm extends Base {
  readonly kind: "VM";
  pool: MoRef;
  host: MoRef;
  vmxPath: string;
  file: VmxFile;
  powerState: PowerState;
  question?: { id: string; task: FTask };
  busy: boolean;
  toolsRunning: boolean;
  customization?: GuestCustomization;
}
type Entity = FFolder | FDatacenter | FCluster | FPool | FSwitch | FNetwork | FHost | FDatastore | FVm;

interface FTask {
  readonly ref: MoRef;
  readonly name: string;
  readonly entity: MoRef;
  readonly entityName: string;
  state: TaskStateName;
  held: boolean;
  /** Does the work; returns the result, or "wait" (the task stays running until finish is called). */
  readonly work: () => XNode | undefined | "wait";
  injected?: VimFault;
  result?: XNode;
  error?: VimFault;
  readonly startTime: string;
  completeTime?: string;
}

/** A task as tests inspect it. */
export interface FakeTaskView {
  readonly ref: MoRef;
  readonly name: string;
  readonly entity: MoRef;
  readonly entityName: string;
  readonly state: TaskStateName;
  readonly error?: VimFault;
}

// ---- XML the way vCenter shapes it ------------------------------------------------------------

const t = (name: string, v: string | number | boolean): XNode => node(name, [], { text: String(v) });
const refNode = (name: string, r: MoRef): XNode => node(name, [], { text: r.value, attrs: { type: r.type } });

/** vCenter's wording of the faults the fake raises (as the lab words them). */
const MESSAGES: Readonly<Record<string, string>> = {
  InvalidState: "The operation is not allowed in the current state.",
  NotSupported: "The operation is not supported on the object.",
  TaskInProgress: "The object is busy completing another operation.",
  ToolsUnavailable: "Cannot complete operation because VMware Tools is not running in this virtual machine.",
  SystemError: "A general system error occurred: injected failure",
  NotAuthenticated: "The session is not authenticated.",
};

function vimFault(type: string, message: string | undefined, fields: readonly XNode[], name: string): VimFault {
  return new VimFault(type, `${type}: ${message ?? MESSAGES[type] ?? `injected ${type}`}`, node(name, [...fields], { xsiType: type }));
}
/** A fault as a SOAP call returns it (detail element "<Type>Fault"). */
const callFault = (type: string, message?: string, fields: readonly XNode[] = []): VimFault => vimFault(type, message, fields, `${type}Fault`);
/** A fault as a task's info.error carries it. */
const taskFault = (type: string, message?: string, fields: readonly XNode[] = []): VimFault => vimFault(type, message, fields, "fault");

const notFound = (r: MoRef): VimFault =>
  callFault("ManagedObjectNotFound", `The object 'vim.${r.type}:${r.value}' has already been deleted or has not been completely created`, [refNode("obj", r)]);
const powerFault = (requested: PowerState, existing: PowerState, f = taskFault): VimFault =>
  f("InvalidPowerState", `The attempted operation cannot be performed in the current state (${existing === "poweredOn" ? "Powered on" : existing === "poweredOff" ? "Powered off" : "Suspended"}).`, [t("requestedState", requested), t("existingState", existing)]);
const duplicateName = (name: string, obj: MoRef, f = taskFault): VimFault => f("DuplicateName", `The name '${name}' already exists.`, [t("name", name), refNode("object", obj)]);
const invalidArgument = (prop: string, f = taskFault): VimFault => f("InvalidArgument", `A specified parameter was not correct: ${prop}`, [t("invalidProperty", prop)]);

const QUESTION_TEXT =
  "This virtual machine might have been moved or copied.\nIn order to configure certain management and networking features, VMware ESX needs to know if this virtual machine was moved or copied.\n\nIf you don't know, answer \"I Copied It\".\n";
const CHOICES = [
  { key: "0", label: "button.uuid.cancel" },
  { key: "1", label: "button.uuid.movedTheVM" },
  { key: "2", label: "button.uuid.copiedTheVM" },
] as const;

/** Names as vCenter stores them ("a/b" is "a%2fb"). */
const escapeName = (n: string): string => n.replace(/%/g, "%25").replace(/\//g, "%2f").replace(/\\/g, "%5c");

const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0").slice(-width);

function uuidOf(seed: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (const c of seed) {
    h1 = Math.imul(h1 ^ c.charCodeAt(0), 16777619) >>> 0;
    h2 = Math.imul(h2 ^ c.charCodeAt(0), 2246822507) >>> 0;
  }
  const a = hex(h1, 8);
  const b = hex(h2, 8);
  const c = hex(Math.imul(h1, 31) ^ h2, 8);
  const d = hex(Math.imul(h2, 17) ^ h1, 8);
  return `${a}-${b.slice(0, 4)}-5${b.slice(5, 8)}-9${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

const MEDIA_DEFAULT: FakeMediaSpec = {};

/**
 * An in-memory vCenter with one datacenter, for unit tests of controllers and steps: folders,
 * clusters with resource pools, hosts with their storage (the SCSI devices presented to them,
 * VMFS volumes mounted, copies unresolved until force-mounted or resignatured, devices detached,
 * volumes unmounted — remembered across rescans as ESXi does), NFS exports and datastores, VMs
 * registered from .vmx files with NICs, CD-ROM and floppy, power state, the "moved or copied"
 * question, guest tools, and tasks. It behaves as the lab's vCenter does (hack/lab), which the
 * contract suite (test/contract/vsphere.contract.ts) holds it to.
 *
 * Seed it with the builder methods, hand out client(), steer it with holdTasks/completeTasks/tick,
 * and inject faults with failNextTask/failNextCall/setReachable. `calls` counts the client's calls
 * per method; `mutations` lists the changes clients made, one line per change.
 */
export class FakeVsphere {
  private readonly objs = new Map<string, Entity>();
  private readonly bySystem = new Map<string, FHost>();
  private readonly byBrowser = new Map<string, FDatastore>();
  private readonly luns = new Map<string, Lun>();
  private readonly exports: NfsExport[] = [];
  private readonly taskMap = new Map<string, FTask>();
  private readonly taskFaults: { method: string; entity?: string; fault: VimFault }[] = [];
  private readonly callFaults: { method: string; fault: VimFault }[] = [];
  private readonly heldMethods = new Set<string>();
  private readonly guestPending: (() => void)[] = [];
  private seq = 0;
  private macSeq = 0;
  private questionSeq = 0;
  private reachable = true;
  private readonly rootFolder: MoRef;
  private readonly dc: FDatacenter;
  private readonly site: string;
  private readonly timing: TaskTiming;
  private readonly clock?: Clock;
  private readonly toolsOnPowerOn: boolean;

  readonly about: About;
  /** Calls of the client per VsphereClient method name. */
  readonly calls = new Map<string, number>();
  /** Changes clients made ("RegisterVM [LP1] a/a.vmx", "PowerOn vm-12", "ResolveVmfs host-3 /vmfs/devices/disks/naa…:1"). */
  readonly mutations: string[] = [];

  constructor(o: FakeVsphereOptions = {}) {
    this.site = o.site ?? "fake";
    this.timing = o.taskTiming ?? "onPoll";
    this.clock = o.clock;
    this.toolsOnPowerOn = o.toolsOnPowerOn ?? true;
    this.about = { fullName: "VMware vCenter Server 8.0.3 build-24322831 (fake)", version: "8.0.3", apiVersion: "8.0.3.0", instanceUuid: o.instanceUuid ?? uuidOf(`vcenter/${this.site}`) };
    this.rootFolder = { type: "Folder", value: "group-d1" };
    const name = o.datacenter ?? "Datacenter";
    const dcRef = this.newRef("Datacenter", "datacenter");
    const folder = (n: string, childType: string[]): MoRef => {
      const f: FFolder = { kind: "Folder", ref: this.newRef("Folder", "group"), name: n, parent: dcRef, childType };
      this.objs.set(f.ref.value, f);
      return f.ref;
    };
    this.dc = {
      kind: "Datacenter", ref: dcRef, name, parent: this.rootFolder,
      vmFolder: folder("vm", ["VirtualMachine", "VirtualApp", "Folder"]),
      hostFolder: folder("host", ["ComputeResource", "Folder"]),
      datastoreFolder: folder("datastore", ["Datastore", "StoragePod", "Folder"]),
      networkFolder: folder("network", ["Network", "DistributedVirtualSwitch", "Folder"]),
    };
    this.objs.set(dcRef.value, this.dc);
  }

  // ---- Builder ------------------------------------------------------------------------------

  addCluster(name: string): this {
    const ref = this.newRef("ClusterComputeResource", "domain-c");
    const pool: FPool = { kind: "Pool", ref: this.newRef("ResourcePool", "resgroup"), name: "Resources", parent: ref, owner: ref };
    this.objs.set(ref.value, { kind: "Cluster", ref, name: escapeName(name), parent: this.dc.hostFolder, rootPool: pool.ref, hosts: [] });
    this.objs.set(pool.ref.value, pool);
    return this;
  }

  /** A connected host in a cluster, with its VMkernel address(es) and the advanced options ESXi has by default. */
  addHost(cluster: string, name: string, o: { ip?: string; ips?: readonly string[] } = {}): this {
    const c = this.mustCluster(cluster);
    const h: FHost = {
      kind: "Host", ref: this.newRef("HostSystem", "host"), name, parent: c.ref,
      storageSystem: this.newRef("HostStorageSystem", "hoststoragesystem"),
      datastoreSystem: this.newRef("HostDatastoreSystem", "hostdatastoresystem"),
      optionManager: this.newRef("OptionManager", "optionmanager"),
      ips: [...(o.ips ?? (o.ip ? [o.ip] : []))],
      options: new Map([
        ["Config.HostAgent.log.level", { value: "info", type: "string" as const }],
        ["LVM.DisallowSnapshotLun", { value: 1, type: "long" as const }],
        ["LVM.EnableResignature", { value: 0, type: "long" as const }],
        ["Disk.AutoremoveOnPDL", { value: 1, type: "long" as const }],
      ]),
      seen: new Set(), detached: new Set(), unmounted: new Set(), forceMounted: new Map(), nfs: new Set(),
    };
    c.hosts.push(h.ref);
    this.objs.set(h.ref.value, h);
    this.bySystem.set(h.storageSystem.value, h);
    this.bySystem.set(h.datastoreSystem.value, h);
    this.bySystem.set(h.optionManager.value, h);
    return this;
  }

  /** A VM folder path below the vm folder, with its parents ("Protection Group 1/Database"). */
  addFolder(path: string): this {
    this.folderPath(path, true);
    return this;
  }

  /** A resource pool path below a cluster's root pool, with its parents. */
  addResourcePool(cluster: string, path: string): this {
    let parent = this.mustCluster(cluster).rootPool;
    for (const part of path.split("/").filter(Boolean)) parent = this.poolChild(parent, escapeName(part)) ?? this.newPool(parent, escapeName(part));
    return this;
  }

  /** A distributed switch (with its uplinks portgroup, as vCenter makes one). */
  addSwitch(name: string, o: { uuid?: string } = {}): this {
    const s: FSwitch = { kind: "Switch", ref: this.newRef("DistributedVirtualSwitch", "dvs"), name, parent: this.dc.networkFolder, uuid: o.uuid ?? uuidOf(`dvs/${this.site}/${name}`) };
    this.objs.set(s.ref.value, s);
    this.addNetwork(`${name}-DVUplinks-${s.ref.value.replace(/^dvs-/, "")}`, s.ref);
    return this;
  }

  /** A portgroup: distributed on `switch` (added first), else a standard network. */
  addPortgroup(name: string, o: { switch?: string } = {}): this {
    const s = o.switch === undefined ? undefined : [...this.objs.values()].find((x): x is FSwitch => x.kind === "Switch" && x.name === o.switch);
    if (o.switch !== undefined && !s) throw new Error(`fake vsphere: no switch ${o.switch}`);
    this.addNetwork(name, s?.ref);
    return this;
  }

  /** A VMFS datastore on a LUN of its own, presented to `hosts` (default all) and mounted there. */
  addDatastore(name: string, o: { hosts?: readonly string[]; device?: string; vmfsUuid?: string } = {}): this {
    const device = o.device ?? this.newDevice();
    const lun = this.presentLun(device, o.hosts);
    lun.vmfs = { uuid: o.vmfsUuid ?? uuidOf(`vmfs/${this.site}/${name}`), label: name, formattedOn: device };
    for (const h of this.hosts()) if (lun.hosts.has(h.name)) this.rescanHost(h);
    return this;
  }

  /**
   * An NFS export the named hosts (default: any) may mount read-write, holding the .vmx files of
   * `vms` (set `copied` on those written at another site, as a replica's are).
   */
  addNfsExport(remoteHost: string, remotePath: string, o: { hosts?: readonly string[]; vms?: readonly FakeVmxSpec[] } = {}): this {
    const files: Files = { vmx: new Map() };
    for (const v of o.vms ?? []) {
      const path = v.path ?? `${v.name}/${v.name}.vmx`;
      files.vmx.set(path, this.vmxFile(v, `nfs://${remoteHost}${remotePath}/${path}`));
    }
    this.exports.push({ remoteHost, remotePath, hosts: o.hosts ? new Set(o.hosts) : undefined, files });
    return this;
  }

  /** An NFS datastore: the export (added when missing) mounted on `hosts` (default all) under `name`. */
  addNfsDatastore(name: string, o: { remoteHost: string; remotePath: string; hosts?: readonly string[] }): this {
    if (!this.exportAt(o.remoteHost, o.remotePath)) this.addNfsExport(o.remoteHost, o.remotePath);
    for (const h of this.hosts().filter((x) => !o.hosts || o.hosts.includes(x.name))) this.mountNas(h, { name, remoteHost: o.remoteHost, remotePath: o.remotePath });
    return this;
  }

  /** Writes a .vmx on a datastore (by name) without registering it. */
  addVmxFile(datastore: string, spec: FakeVmxSpec): this {
    const ds = this.datastoreNamed(datastore);
    if (!ds) throw new Error(`fake vsphere: no datastore ${datastore}`);
    const path = spec.path ?? `${spec.name}/${spec.name}.vmx`;
    this.filesOf(ds).vmx.set(path, this.vmxFile(spec, `[${ds.name}] ${path}`));
    return this;
  }

  /** Writes a VM's .vmx on its datastore and registers it, as the lab seeds its VMs. */
  addVm(spec: FakeVmSpec): this {
    this.addVmxFile(spec.datastore, spec);
    const path = `[${spec.datastore}] ${spec.path ?? `${spec.name}/${spec.name}.vmx`}`;
    const cluster = spec.cluster ? this.mustCluster(spec.cluster) : this.clusters()[0];
    if (!cluster) throw new Error("fake vsphere: add a cluster first");
    const pool = this.poolAt(cluster, spec.pool ?? "");
    if (!pool) throw new Error(`fake vsphere: no pool ${spec.pool ?? ""} in ${cluster.name}`);
    const folder = this.folderPath(spec.folder ?? "", true);
    const host = spec.host ? this.mustHost(spec.host).ref : undefined;
    const vm = this.register(folder, path, spec.name, pool.ref, host);
    if (vm instanceof VimFault) throw new Error(`fake vsphere: cannot add VM ${spec.name}: ${vm.message}`);
    if (spec.powerState === "poweredOn") this.powerOnNow(vm, true);
    return this;
  }

  /**
   * Presents a LUN carrying a copy of a VMFS (a SnapMirror replica after the break, a FlexClone):
   * the hosts see it at their next rescan as an unresolved copy until it is force-mounted or
   * resignatured. Its .vmx files come from elsewhere. Two copies of one label share the VMFS UUID.
   */
  addUnresolvedCopy(o: FakeCopySpec): this {
    const device = o.device ?? this.newDevice();
    const lun = this.presentLun(device, o.hosts);
    lun.vmfs = { uuid: o.vmfsUuid ?? uuidOf(`vmfs/elsewhere/${o.label}`), label: o.label, formattedOn: `${device}-original` };
    lun.readOnly = o.readOnly ?? false;
    for (const v of o.vms ?? []) {
      const path = v.path ?? `${v.name}/${v.name}.vmx`;
      lun.files.vmx.set(path, this.vmxFile({ ...v, copied: v.copied ?? true }, `[${o.label}] ${path}`));
    }
    return this;
  }

  /** Makes a LUN read-only (a mirror destination) or writable (broken off). */
  setReadOnly(device: string, readOnly: boolean): this {
    this.mustLun(device).readOnly = readOnly;
    return this;
  }

  /** Presents a known LUN to more hosts (or, hosts omitted, to all). */
  presentTo(device: string, hosts?: readonly string[]): this {
    const lun = this.mustLun(device);
    for (const h of hosts ?? this.hosts().map((x) => x.name)) lun.hosts.add(h);
    return this;
  }

  /** Stops presenting a LUN (an unmap): hosts lose it at their next rescan. */
  withdrawLun(device: string, hosts?: readonly string[]): this {
    const lun = this.mustLun(device);
    for (const h of hosts ?? [...lun.hosts]) lun.hosts.delete(h);
    return this;
  }

  /** Tools of a powered-on VM start (or stop). */
  setTools(vm: string, running: boolean): this {
    this.mustVm(vm).toolsRunning = running;
    return this;
  }

  // ---- Fault injection and time ---------------------------------------------------------------

  /**
   * The next task of `method` (vSphere's task method name, "PowerOnVM_Task", "RegisterVM_Task",
   * "ResolveMultipleUnresolvedVmfsVolumesEx_Task" …), of `entity` only when given (by name), ends in
   * `fault` without doing its work. Calls queue up.
   */
  failNextTask(method: string, fault: string, o: { entity?: string; message?: string } = {}): this {
    this.taskFaults.push({ method, entity: o.entity, fault: taskFault(fault, o.message) });
    return this;
  }

  /** The next call of a VsphereClient method ("powerOn", "rescanAllHba") fails with `fault`, classified as the real client classifies it. */
  failNextCall(method: keyof VsphereClient, fault: string, o: { message?: string } = {}): this {
    this.callFaults.push({ method, fault: callFault(fault, o.message) });
    return this;
  }

  /** Unreachable: every call fails as a refused connection does (Transient, VCenterUnreachable); state is kept. */
  setReachable(reachable: boolean): this {
    this.reachable = reachable;
    return this;
  }

  /** Tasks of `method` (all tasks when omitted) stay running until releaseTasks. */
  holdTasks(method = "*"): this {
    this.heldMethods.add(method);
    for (const task of this.taskMap.values()) if (task.state === "queued" && (method === "*" || task.name === method)) task.held = true;
    return this;
  }

  /** Lets held tasks (of `method`, or all) go: they run as their timing says. */
  releaseTasks(method = "*"): this {
    if (method === "*") this.heldMethods.clear();
    else this.heldMethods.delete(method);
    for (const task of this.taskMap.values()) {
      if (!task.held || (method !== "*" && task.name !== method)) continue;
      task.held = false;
      if (this.timing === "immediate") this.runTask(task);
    }
    return this;
  }

  /** Runs every task that is not held or waiting for a question's answer. */
  completeTasks(): this {
    for (const task of this.taskMap.values()) if (!task.held && (task.state === "queued" || task.state === "running")) this.runTask(task);
    return this;
  }

  /** Guest time passes: pending guest shutdowns complete, tools come up. */
  tick(): this {
    for (const f of this.guestPending.splice(0)) f();
    return this;
  }

  /** Every task the clients started, oldest first. */
  tasks(): FakeTaskView[] {
    return [...this.taskMap.values()].map((x) => ({ ref: x.ref, name: x.name, entity: x.entity, entityName: x.entityName, state: x.state, error: x.error }));
  }

  callCount(method: keyof VsphereClient): number {
    return this.calls.get(method) ?? 0;
  }

  /** The inventory as a watcher would index it (RunWorld.inventory). */
  index(): InventoryIndex {
    const idx = new InventoryIndex(this.inventory(this.dc.ref));
    idx.datacenter = this.dcInfo();
    return idx;
  }

  /** A client of this vCenter. Like the real one, every failure is a rejected promise with a classified error. */
  client(): VsphereClient {
    return new FakeVsphereClient(this);
  }

  // ---- Internals shared with FakeVsphereClient -----------------------------------------------

  /** Runs one client call: counted, subject to injected faults and reachability, failures classified. */
  call<T>(method: string, f: () => T): Promise<T> {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    try {
      if (!this.reachable) throw classifyVsphereError(new TransportError("unreachable", "https://vcenter.fake: connection refused (ECONNREFUSED)", "ECONNREFUSED"), method);
      const i = this.callFaults.findIndex((x) => x.method === method);
      if (i >= 0) {
        const [cf] = this.callFaults.splice(i, 1);
        throw classifyVsphereError(cf!.fault, method);
      }
      return Promise.resolve(f());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Throws a call fault classified as the real client classifies it ("<Operation> <self>: …"). */
  raise(operation: string, self: MoRef, f: VimFault): never {
    throw classifyVsphereError(f, `${operation} ${self.value}`);
  }

  get<K extends Entity["kind"]>(r: MoRef, kind: K, operation: string): Extract<Entity, { kind: K }> {
    const o = this.objs.get(r.value);
    if (!o || o.kind !== kind) this.raise(operation, r, notFound(r));
    return o as Extract<Entity, { kind: K }>;
  }

  hasObj(r: MoRef): boolean {
    return this.objs.has(r.value);
  }

  /** An unregistration: the VM leaves the inventory, its files stay. */
  objsDelete(r: MoRef): void {
    this.objs.delete(r.value);
    this.prune();
  }

  hostBySystem(r: MoRef, operation: string): FHost {
    const h = this.bySystem.get(r.value);
    if (!h) this.raise(operation, r, notFound(r));
    return h;
  }

  newRef(type: string, prefix: string): MoRef {
    return { type, value: `${prefix}${prefix.endsWith("-c") ? "" : "-"}${++this.seq}` };
  }

  private now(): string {
    return new Date(this.clock?.now() ?? Date.now()).toISOString();
  }

  private newDevice(): string {
    const serial = `fake${String(++this.seq).padStart(8, "0")}`;
    return `naa.600a0980${Buffer.from(serial, "utf8").toString("hex")}`;
  }

  private presentLun(device: string, hosts?: readonly string[]): Lun {
    let lun = this.luns.get(device);
    if (!lun) {
      lun = { device, uuid: `02000000${device.replace(/^naa\./, "")}4c554e20432d`, hosts: new Set(), files: { vmx: new Map() }, readOnly: false };
      this.luns.set(device, lun);
    }
    for (const h of hosts ?? this.hosts().map((x) => x.name)) lun.hosts.add(h);
    return lun;
  }

  private mustLun(device: string): Lun {
    const lun = this.luns.get(device);
    if (!lun) throw new Error(`fake vsphere: no LUN ${device}`);
    return lun;
  }

  private addNetwork(name: string, dvSwitch?: MoRef): void {
    const ref = dvSwitch ? this.newRef("DistributedVirtualPortgroup", "dvportgroup") : this.newRef("Network", "network");
    this.objs.set(ref.value, { kind: "Network", ref, name, parent: this.dc.networkFolder, dvSwitch });
  }

  private vmxFile(spec: FakeVmxSpec, path: string): VmxFile {
    const devices: XNode[] = [];
    const firstNet = [...this.objs.values()].find((x): x is FNetwork => x.kind === "Network" && !x.name.includes("-DVUplinks-"));
    const nics = spec.nics ?? (firstNet ? [{ portgroup: firstNet.name }] : []);
    nics.forEach((n, i) => devices.push(this.nicNode(4000 + i, n)));
    if (spec.floppy !== false) devices.push(mediaNode(8000, "floppy", spec.floppy ?? MEDIA_DEFAULT));
    if (spec.cdrom !== false) devices.push(mediaNode(16000, "cdrom", spec.cdrom ?? MEDIA_DEFAULT));
    const id = `${this.site}/${path}`;
    return {
      name: spec.name,
      instanceUuid: spec.instanceUuid ?? uuidOf(`instance/${spec.copied ? "elsewhere/" : ""}${id}`),
      biosUuid: spec.biosUuid ?? uuidOf(`bios/${spec.copied ? "elsewhere/" : ""}${id}`),
      devices,
      asks: spec.copied ?? false,
      guestIp: spec.guestIp,
      tools: spec.tools ?? true,
      toolsAfterPowerOn: true,
      extraConfig: new Map(),
    };
  }

  private nicNode(key: number, n: FakeNicSpec): XNode {
    const net = [...this.objs.values()].find((x): x is FNetwork => x.kind === "Network" && x.name === n.portgroup);
    let backing: XNode;
    if (net?.dvSwitch) {
      const sw = this.objs.get(net.dvSwitch.value) as FSwitch;
      backing = node("backing", [node("port", [t("switchUuid", sw.uuid), t("portgroupKey", net.ref.value)])], { xsiType: "VirtualEthernetCardDistributedVirtualPortBackingInfo" });
    } else if (n.switchUuid && n.portgroupKey) {
      backing = node("backing", [node("port", [t("switchUuid", n.switchUuid), t("portgroupKey", n.portgroupKey)])], { xsiType: "VirtualEthernetCardDistributedVirtualPortBackingInfo" });
    } else {
      backing = node("backing", [t("deviceName", n.portgroup), ...(net ? [refNode("network", net.ref)] : [])], { xsiType: "VirtualEthernetCardNetworkBackingInfo" });
    }
    const mac = n.mac ?? this.nextMac();
    return node("VirtualDevice", [
      t("key", key),
      node("deviceInfo", [t("label", `Network adapter ${key - 3999}`), t("summary", n.portgroup)], { xsiType: "Description" }),
      backing,
      connectable(n.startConnected ?? true, false),
      t("controllerKey", 100),
      t("unitNumber", 7 + key - 4000),
      t("addressType", "assigned"),
      t("macAddress", mac),
    ], { xsiType: n.deviceType ?? "VirtualVmxnet3" });
  }

  private nextMac(): string {
    const n = ++this.macSeq;
    return `00:50:56:a9:${hex(n >> 8, 2)}:${hex(n, 2)}`;
  }

  hosts(): FHost[] {
    return [...this.objs.values()].filter((x): x is FHost => x.kind === "Host");
  }

  private clusters(): FCluster[] {
    return [...this.objs.values()].filter((x): x is FCluster => x.kind === "Cluster");
  }

  private mustCluster(name: string): FCluster {
    const c = this.clusters().find((x) => x.name === escapeName(name));
    if (!c) throw new Error(`fake vsphere: no cluster ${name}`);
    return c;
  }

  private mustHost(name: string): FHost {
    const h = this.hosts().find((x) => x.name === name);
    if (!h) throw new Error(`fake vsphere: no host ${name}`);
    return h;
  }

  private mustVm(name: string): FVm {
    const vm = [...this.objs.values()].find((x): x is FVm => x.kind === "VM" && x.name === escapeName(name));
    if (!vm) throw new Error(`fake vsphere: no VM ${name}`);
    return vm;
  }

  children(parent: MoRef): Entity[] {
    return [...this.objs.values()].filter((x) => x.parent.value === parent.value && x.kind !== "VM");
  }

  /** The entities FindByInventoryPath walks below an object (VMs below folders and pools). */
  private pathChildren(o: Entity): Entity[] {
    if (o.kind === "Pool") return [...this.objs.values()].filter((x) => (x.kind === "Pool" && x.parent.value === o.ref.value) || (x.kind === "VM" && x.pool.value === o.ref.value));
    if (o.kind === "Cluster") return [...o.hosts.map((h) => this.objs.get(h.value)!), this.objs.get(o.rootPool.value)!];
    return [...this.objs.values()].filter((x) => x.parent.value === o.ref.value && x.kind !== "Pool" && x.kind !== "Host");
  }

  findPath(path: string): MoRef | undefined {
    const parts = path.split("/");
    let cur: Entity | undefined = parts[0] === this.dc.name ? this.dc : undefined;
    for (const p of parts.slice(1)) cur = cur && this.pathChildren(cur).find((x) => x.name === p);
    return cur?.ref;
  }

  private folderPath(path: string, create: boolean): MoRef {
    let cur = this.dc.vmFolder;
    for (const part of path.split("/").filter(Boolean)) {
      const name = escapeName(part);
      const next = this.children(cur).find((x) => x.kind === "Folder" && x.name === name);
      if (next) cur = next.ref;
      else if (create) cur = this.newFolder(cur, name).ref;
      else throw new Error(`fake vsphere: no folder ${path}`);
    }
    return cur;
  }

  newFolder(parent: MoRef, name: string): FFolder {
    const p = this.objs.get(parent.value) as FFolder;
    const f: FFolder = { kind: "Folder", ref: this.newRef("Folder", "group"), name, parent, childType: p.childType };
    this.objs.set(f.ref.value, f);
    return f;
  }

  poolChild(parent: MoRef, name: string): MoRef | undefined {
    return [...this.objs.values()].find((x) => x.kind === "Pool" && x.parent.value === parent.value && x.name === name)?.ref;
  }

  newPool(parent: MoRef, name: string): MoRef {
    const p = this.objs.get(parent.value) as FPool;
    const pool: FPool = { kind: "Pool", ref: this.newRef("ResourcePool", "resgroup"), name, parent, owner: p.owner };
    this.objs.set(pool.ref.value, pool);
    return pool.ref;
  }

  private poolAt(c: FCluster, path: string): FPool | undefined {
    let cur: MoRef | undefined = c.rootPool;
    for (const part of path.split("/").filter(Boolean)) cur = cur && this.poolChild(cur, escapeName(part));
    return cur && (this.objs.get(cur.value) as FPool);
  }

  clusterOfPool(pool: FPool): FCluster {
    return this.objs.get(pool.owner.value) as FCluster;
  }

  // ---- Storage -------------------------------------------------------------------------------

  datastores(): FDatastore[] {
    return [...this.objs.values()].filter((x): x is FDatastore => x.kind === "Datastore");
  }

  datastoreNamed(name: string): FDatastore | undefined {
    return this.datastores().find((d) => d.name === name);
  }

  datastoreByBrowser(r: MoRef, operation: string): FDatastore {
    const d = this.byBrowser.get(r.value);
    if (!d || !this.objs.has(d.ref.value)) this.raise(operation, r, notFound(r));
    return d;
  }

  private exportAt(remoteHost: string, remotePath: string): NfsExport | undefined {
    return this.exports.find((e) => e.remoteHost === remoteHost && e.remotePath === remotePath);
  }

  filesOf(ds: FDatastore): Files {
    if (ds.nas) return ds.nas.files;
    const lun = [...this.luns.values()].find((l) => l.vmfs?.uuid === ds.vmfsUuid);
    return lun?.files ?? { vmx: new Map() };
  }

  /** Whether the host has this VMFS as a volume on this device (its own, or a copy it force-mounted). */
  private knows(h: FHost, lun: Lun): boolean {
    return lun.vmfs !== undefined && !lun.readOnly && (lun.vmfs.formattedOn === lun.device || h.forceMounted.get(lun.device) === lun.vmfs.uuid);
  }

  /** The devices a host sees now (attached or not). */
  private visible(h: FHost): Lun[] {
    return [...h.seen].map((d) => this.luns.get(d)).filter((l): l is Lun => l !== undefined);
  }

  /** What the host reports: its VMFS volumes (mounted or not) on attached devices, and its NFS mounts. */
  volumes(h: FHost): HostVolumeMount[] {
    const out: HostVolumeMount[] = [];
    for (const lun of this.visible(h)) {
      if (h.detached.has(lun.device) || !this.knows(h, lun)) continue;
      const ds = this.datastoreOfVmfs(lun.vmfs!.uuid);
      const mounted = !h.unmounted.has(lun.vmfs!.uuid);
      const present = lun.hosts.has(h.name);
      out.push({ name: ds?.name ?? lun.vmfs!.label, type: "VMFS", vmfsUuid: lun.vmfs!.uuid, extents: [lun.device], mounted, accessible: mounted && present, inaccessibleReason: mounted && !present ? "PermanentDeviceLoss" : undefined });
    }
    for (const v of h.nfs) {
      const ds = this.objs.get(v) as FDatastore | undefined;
      if (ds) out.push({ name: ds.name, type: "NFS", vmfsUuid: undefined, extents: [], mounted: true, accessible: true, inaccessibleReason: undefined });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  scsiLuns(h: FHost): ScsiLunInfo[] {
    return this.visible(h)
      .map((l) => ({ canonicalName: l.device, uuid: l.uuid, operationalState: [h.detached.has(l.device) ? "off" : l.hosts.has(h.name) ? "ok" : "lostCommunication"] }))
      .sort((a, b) => a.canonicalName.localeCompare(b.canonicalName));
  }

  /** Mounted (and reachable) elsewhere at the site through another device: the VMFS UUID is taken. */
  private mountedElsewhere(uuid: string, device: string): boolean {
    return this.hosts().some((h) => this.visible(h).some((l) => l.device !== device && l.vmfs?.uuid === uuid && this.knows(h, l) && !h.detached.has(l.device) && !h.unmounted.has(uuid)));
  }

  unresolved(h: FHost): UnresolvedVmfsVolume[] {
    const copies = this.visible(h).filter((l) => l.vmfs && !l.readOnly && !h.detached.has(l.device) && !this.knows(h, l));
    return copies.map((l) => ({
      vmfsUuid: l.vmfs!.uuid,
      label: l.vmfs!.label,
      extents: [{ device: l.device, devicePath: devicePath(l.device), reason: this.mountedElsewhere(l.vmfs!.uuid, l.device) ? "uuidConflict" : "diskIdMismatch" }],
      resolvable: true,
      multipleCopies: copies.filter((c) => c.vmfs!.uuid === l.vmfs!.uuid).length > 1,
    }));
  }

  /** A rescan: the host sees what is presented to it now, and mounts what it knows (copies too, with LVM.DisallowSnapshotLun=0). */
  rescanHost(h: FHost): void {
    const byLabel = h.options.get("LVM.DisallowSnapshotLun")?.value === 0;
    h.seen = new Set([...this.luns.values()].filter((l) => l.hosts.has(h.name)).map((l) => l.device));
    for (const d of [...h.detached]) if (!h.seen.has(d)) h.detached.delete(d);
    for (const lun of this.visible(h)) {
      if (!lun.vmfs || lun.readOnly) continue;
      if (byLabel && !this.knows(h, lun) && !this.mountedElsewhere(lun.vmfs.uuid, lun.device)) h.forceMounted.set(lun.device, lun.vmfs.uuid);
      if (this.knows(h, lun)) this.ensureDatastore(lun.vmfs);
    }
    this.prune();
  }

  private datastoreOfVmfs(uuid: string): FDatastore | undefined {
    return this.datastores().find((d) => d.vmfsUuid === uuid);
  }

  private ensureDatastore(v: Vmfs): FDatastore {
    return this.datastoreOfVmfs(v.uuid) ?? this.newDatastore({ name: v.label, type: "VMFS", vmfsUuid: v.uuid, url: `ds:///vmfs/volumes/${v.uuid}/` });
  }

  private newDatastore(o: { name: string; type: "VMFS" | "NFS"; vmfsUuid?: string; nas?: NfsExport; url: string }): FDatastore {
    const ds: FDatastore = { kind: "Datastore", ref: this.newRef("Datastore", "datastore"), parent: this.dc.datastoreFolder, browser: this.newRef("HostDatastoreBrowser", "hostdatastorebrowser"), ...o };
    this.objs.set(ds.ref.value, ds);
    this.byBrowser.set(ds.browser.value, ds);
    return ds;
  }

  /** The hosts that list a datastore, with their mount state. */
  mountsOf(ds: FDatastore): { host: FHost; mounted: boolean; accessible: boolean }[] {
    const out: { host: FHost; mounted: boolean; accessible: boolean }[] = [];
    for (const h of this.hosts()) {
      if (ds.type === "NFS") {
        if (h.nfs.has(ds.ref.value)) out.push({ host: h, mounted: true, accessible: true });
        continue;
      }
      const v = this.volumes(h).find((m) => m.vmfsUuid === ds.vmfsUuid);
      if (v) out.push({ host: h, mounted: v.mounted, accessible: v.accessible });
    }
    return out;
  }

  /** Datastores no host lists and no VM is registered on leave the inventory. */
  prune(): void {
    for (const ds of this.datastores()) {
      if (this.mountsOf(ds).length === 0 && !this.vms().some((v) => v.vmxPath.startsWith(`[${ds.name}] `))) {
        this.objs.delete(ds.ref.value);
      }
    }
  }

  mountNas(h: FHost, m: NasMount): FDatastore {
    const name = escapeName(m.name);
    const mine = [...h.nfs].map((v) => this.objs.get(v) as FDatastore).find((d) => d?.name === name);
    if (mine) return mine;
    const exp = this.exportAt(m.remoteHost, m.remotePath);
    if (!exp || (exp.hosts && !exp.hosts.has(h.name))) {
      this.raise("CreateNasDatastore", h.datastoreSystem, callFault("HostConfigFault", `NFS mount ${m.remoteHost}:${m.remotePath} failed: The mount request was denied by the NFS server. Check that the export exists and that the client is permitted to mount it.`));
    }
    const existing = this.datastoreNamed(name);
    if (existing && existing.nas !== exp) this.raise("CreateNasDatastore", h.datastoreSystem, duplicateName(name, existing.ref, callFault));
    const ds = existing ?? this.newDatastore({ name, type: "NFS", nas: exp, url: `ds:///vmfs/volumes/${uuidOf(`nfs/${m.remoteHost}:${m.remotePath}`).replace(/-/g, "").slice(0, 8)}-${uuidOf(m.remotePath).replace(/-/g, "").slice(0, 8)}/` });
    h.nfs.add(ds.ref.value);
    return ds;
  }

  /** VMs of a host registered on a datastore: ESXi refuses to unmount it under them. */
  vmsOn(ds: FDatastore, h: FHost): FVm[] {
    return this.vms().filter((v) => v.host.value === h.ref.value && v.vmxPath.startsWith(`[${ds.name}] `));
  }

  // ---- VMs -----------------------------------------------------------------------------------

  vms(): FVm[] {
    return [...this.objs.values()].filter((x): x is FVm => x.kind === "VM");
  }

  /** RegisterVM_Task's work, with the lab's checks in its order. */
  register(folder: MoRef, vmxPath: string, nameIn: string | undefined, poolRef: MoRef, hostRef: MoRef | undefined): FVm | VimFault {
    const m = /^\[([^\]]+)\] (.+)$/.exec(vmxPath);
    if (!m) return taskFault("InvalidDatastorePath", `Invalid datastore path '${vmxPath}'.`, [t("datastorePath", vmxPath)]);
    if (!/\.vmx$/i.test(m[2]!)) return invalidArgument("path");
    const ds = this.datastoreNamed(m[1]!);
    if (!ds) return taskFault("InvalidDatastore", `The datastore '${m[1]!}' is not accessible.`, [t("name", m[1]!)]);
    const f = this.objs.get(folder.value);
    if (f?.kind !== "Folder" || !f.childType.includes("VirtualMachine")) return invalidArgument("_this");
    const pool = this.objs.get(poolRef.value);
    if (pool?.kind !== "Pool") return invalidArgument("pool");
    const cluster = this.clusterOfPool(pool);
    const mountedOn = (h: FHost): boolean => this.mountsOf(ds).some((x) => x.host === h && x.mounted && x.accessible);
    let host: FHost | undefined;
    if (hostRef) {
      host = this.objs.get(hostRef.value) as FHost | undefined;
      if (host?.kind !== "Host" || host.parent.value !== cluster.ref.value) return invalidArgument("host");
      if (!mountedOn(host)) return taskFault("InvalidDatastore", `The datastore '${ds.name}' is not accessible.`, [refNode("datastore", ds.ref), t("name", ds.name)]);
    } else {
      host = cluster.hosts.map((r) => this.objs.get(r.value) as FHost).find(mountedOn);
      if (!host) return taskFault("InvalidDatastore", `The datastore '${ds.name}' is not accessible.`, [refNode("datastore", ds.ref), t("name", ds.name)]);
    }
    const taken = this.vms().find((v) => v.vmxPath === vmxPath);
    if (taken) return taskFault("AlreadyExists", `The specified key, name, or identifier '${taken.ref.value}' already exists.`, [t("name", taken.ref.value)]);
    const file = this.filesOf(ds).vmx.get(m[2]!);
    if (!file) return taskFault("FileNotFound", `File ${vmxPath} was not found`, [t("file", vmxPath)]);
    const name = escapeName(nameIn || file.name);
    if (name.length > 80) return taskFault("InvalidName", `Name '${name}' is invalid.`, [t("name", name)]);
    const dup = this.vms().find((v) => v.parent.value === folder.value && v.name === name);
    if (dup) return duplicateName(name, dup.ref);
    if (this.vms().some((v) => v.file.instanceUuid === file.instanceUuid)) file.instanceUuid = uuidOf(`instance/${vmxPath}/${++this.seq}`);
    const macs = new Set(this.vms().flatMap((v) => v.file.devices.map((d) => textAt(d, "macAddress")).filter(Boolean)));
    file.devices = file.devices.map((d) => {
      const mac = textAt(d, "macAddress");
      return mac !== undefined && macs.has(mac) ? replaceChild(d, t("macAddress", this.nextMac())) : d;
    });
    const vm: FVm = { kind: "VM", ref: this.newRef("VirtualMachine", "vm"), name, parent: folder, pool: pool.ref, host: host.ref, vmxPath, file, powerState: "poweredOff", busy: false, toolsRunning: false };
    this.objs.set(vm.ref.value, vm);
    return vm;
  }

  /** Whether a VM's datastore is reachable from its host. */
  accessible(vm: FVm): boolean {
    const ds = this.datastoreNamed(/^\[([^\]]+)\]/.exec(vm.vmxPath)?.[1] ?? "");
    return ds !== undefined && this.mountsOf(ds).some((m) => m.host.ref.value === vm.host.value && m.mounted && m.accessible);
  }

  powerOnNow(vm: FVm, seeding = false): void {
    vm.powerState = "poweredOn";
    vm.file.devices = vm.file.devices.map((d) => (child(d, "connectable") ? setConnected(d, textAt(d, "connectable.startConnected") === "true") : d));
    // A pending customization is applied at this boot, and is then over (as the guest's own settings).
    if (vm.customization) {
      const first = vm.customization.nics[0];
      vm.file.guestIp = first?.ip;
      vm.file.guestPrefix = first?.subnetMask ? maskLength(first.subnetMask) : undefined;
      vm.customization = undefined;
    }
    if (!vm.file.tools) return;
    if (this.toolsOnPowerOn || seeding) vm.toolsRunning = true;
    else this.guestPending.push(() => void (vm.powerState === "poweredOn" && (vm.toolsRunning = true)));
  }

  powerOffNow(vm: FVm): void {
    vm.powerState = "poweredOff";
    vm.toolsRunning = false;
    vm.file.devices = vm.file.devices.map((d) => (child(d, "connectable") ? setConnected(d, false) : d));
  }

  /** PowerOnVM_Task's work: refused while busy or inaccessible; a .vmx from elsewhere asks first. */
  powerOnWork(vm: FVm, task: FTask): XNode | undefined | "wait" {
    if (!this.objs.has(vm.ref.value)) throw notFound(vm.ref);
    if (vm.powerState === "poweredOn") throw powerFault("poweredOn", "poweredOn");
    if (vm.busy || vm.question) throw taskFault("TaskInProgress", undefined, [refNode("task", vm.ref)]);
    if (!this.accessible(vm)) throw taskFault("InvalidState");
    if (vm.file.asks) {
      vm.question = { id: `_vmx${++this.questionSeq}`, task };
      return "wait";
    }
    this.powerOnNow(vm);
    return undefined;
  }

  /** The answer to a pending question: cancel fails the power-on, copied gives new UUIDs, moved keeps them. */
  answer(vm: FVm, choice: string): void {
    const q = vm.question!;
    vm.question = undefined;
    if (choice === "0") {
      this.finish(q.task, undefined, taskFault("GenericVmConfigFault", "The operation was canceled: the virtual machine's configuration file was moved or copied and the question was answered Cancel.", [t("reason", "The operation was canceled: the virtual machine's configuration file was moved or copied and the question was answered Cancel.")]));
      return;
    }
    if (choice === "2") {
      vm.file.instanceUuid = uuidOf(`instance/copied/${vm.ref.value}/${++this.seq}`);
      vm.file.biosUuid = uuidOf(`bios/copied/${vm.ref.value}/${this.seq}`);
    }
    vm.file.asks = false;
    this.powerOnNow(vm);
    this.finish(q.task, undefined, undefined);
  }

  question(vm: FVm): VmQuestion | undefined {
    return vm.question && { id: vm.question.id, text: QUESTION_TEXT, choices: CHOICES.map((c) => ({ ...c })), defaultKey: "2" };
  }

  guestShutdown(vm: FVm): void {
    this.guestPending.push(() => {
      if (vm.powerState === "poweredOn" && this.objs.has(vm.ref.value)) this.powerOffNow(vm);
    });
  }

  /** Applies a ReconfigVM_Task spec the way vCenter does: each edited device replaces the one with its key. */
  reconfigure(vm: FVm, spec: XNode): void {
    for (const c of childrenNamed(spec, "deviceChange")) {
      const d = child(c, "device");
      const key = textAt(d, "key");
      if (textAt(c, "operation") !== "edit" || !d || key === undefined) throw taskFault("NotSupported");
      const i = vm.file.devices.findIndex((x) => textAt(x, "key") === key);
      if (i < 0) throw taskFault("InvalidDeviceSpec", `Invalid configuration for device '${key}'.`, [t("deviceIndex", 0)]);
      let nd: XNode = { ...d, name: "VirtualDevice" };
      if (vm.powerState !== "poweredOn" && child(nd, "connectable")) nd = setConnected(nd, false);
      vm.file.devices[i] = nd;
    }
    const after = textAt(spec, "tools.afterPowerOn");
    if (after !== undefined) vm.file.toolsAfterPowerOn = after === "true";
    // As vCenter: an empty value removes the setting.
    for (const o of childrenNamed(spec, "extraConfig")) {
      const key = textAt(o, "key") ?? "";
      const value = textAt(o, "value") ?? "";
      if (value === "") vm.file.extraConfig.delete(key);
      else vm.file.extraConfig.set(key, value);
    }
  }

  /** The networks a VM's NICs are attached to (a backing that does not resolve here is attached to nothing). */
  networksOf(vm: FVm): MoRef[] {
    const nets = [...this.objs.values()].filter((x): x is FNetwork => x.kind === "Network");
    const out: MoRef[] = [];
    for (const d of readDevices(node("val", vm.file.devices)).nics) {
      const n = d.portgroupKey !== undefined
        ? nets.find((x) => x.ref.value === d.portgroupKey && x.dvSwitch && (this.objs.get(x.dvSwitch.value) as FSwitch).uuid === textAt(vm.file.devices.find((y) => textAt(y, "key") === String(d.key)), "backing.port.switchUuid"))
        : nets.find((x) => !x.dvSwitch && x.name === d.networkName);
      if (n && !out.some((r) => r.value === n.ref.value)) out.push(n.ref);
    }
    return out;
  }

  // ---- Tasks ---------------------------------------------------------------------------------

  /** Starts a task of `method` on `entity`; `work` runs when the timing says. */
  task(method: string, entity: MoRef, entityName: string, work: (task: FTask) => XNode | undefined | "wait"): TaskRef {
    const ref = this.newRef("Task", "task");
    const held = this.heldMethods.has("*") || this.heldMethods.has(method);
    const task: FTask = { ref, name: method, entity, entityName, state: "queued", held, work: () => work(task), startTime: this.now() };
    const i = this.taskFaults.findIndex((f) => f.method === method && (f.entity === undefined || f.entity === entityName));
    if (i >= 0) task.injected = this.taskFaults.splice(i, 1)[0]!.fault;
    this.taskMap.set(ref.value, task);
    if (this.timing === "immediate" && !held) this.runTask(task);
    return { task: ref };
  }

  private runTask(task: FTask): void {
    if (task.state !== "queued" && !(task.state === "running" && !this.waiting(task))) return;
    task.state = "running";
    if (task.injected) {
      this.finish(task, undefined, task.injected);
      return;
    }
    let out: XNode | undefined | "wait";
    try {
      out = task.work();
    } catch (err) {
      if (!(err instanceof VimFault)) throw err;
      this.finish(task, undefined, err);
      return;
    }
    if (out !== "wait") this.finish(task, out, undefined);
  }

  private waiting(task: FTask): boolean {
    return this.vms().some((v) => v.question?.task === task);
  }

  finish(task: FTask, result: XNode | undefined, error: VimFault | undefined): void {
    task.state = error ? "error" : "success";
    task.result = result;
    task.error = error;
    task.completeTime = this.now();
  }

  taskStates(refs: readonly MoRef[]): TaskState[] {
    const tasks = refs.map((r) => {
      const task = this.taskMap.get(r.value);
      if (!task || r.type !== "Task") this.raise("RetrieveProperties", { type: "PropertyCollector", value: "propertyCollector" }, notFound(r));
      return task;
    });
    for (const task of tasks) {
      if (task.held || this.waiting(task)) {
        if (task.state === "queued") task.state = "running";
      } else if (this.timing === "onPoll") this.runTask(task);
      else if (this.timing === "manual" && task.state === "queued") task.state = "running";
    }
    return tasks.map((x) => ({
      task: x.ref, state: x.state, progress: x.state === "success" ? 100 : 0, error: x.error, result: x.result,
      startTime: x.startTime, completeTime: x.completeTime,
    }));
  }

  // ---- Inventory -----------------------------------------------------------------------------

  dcInfo(): DatacenterInfo {
    const d = this.dc;
    return { ref: d.ref, name: d.name, vmFolder: d.vmFolder, hostFolder: d.hostFolder, datastoreFolder: d.datastoreFolder, networkFolder: d.networkFolder };
  }

  get datacenterName(): string {
    return this.dc.name;
  }

  private within(o: Entity, root: MoRef): boolean {
    if (root.value === this.rootFolder.value) return true;
    if (o.kind === "VM") {
      const pool = this.objs.get(o.pool.value);
      const host = this.objs.get(o.host.value);
      if ((pool && pool.ref.value === root.value) || (pool && this.within(pool, root))) return true;
      if (host?.parent.value === root.value) return true;
    }
    for (let p = this.objs.get(o.parent.value), i = 0; p && i < 64; p = this.objs.get(p.parent.value), i++) if (p.ref.value === root.value) return true;
    return o.parent.value === root.value;
  }

  /** A ContainerView's content: every followed object below `root` (not root itself). */
  inventory(root: MoRef): InventoryObject[] {
    if (root.value !== this.rootFolder.value && !this.objs.has(root.value)) this.raise("CreateContainerView", { type: "ViewManager", value: "ViewManager" }, notFound(root));
    const out: InventoryObject[] = [];
    for (const o of this.objs.values()) {
      if (o.ref.value === root.value || !this.within(o, root)) continue;
      const view = this.view(o);
      if (view) out.push(view);
    }
    return out;
  }

  private view(o: Entity): InventoryObject | undefined {
    switch (o.kind) {
      case "Folder":
        return { kind: "Folder", info: { ref: o.ref, name: o.name, childType: [...o.childType], parent: o.parent } };
      case "Datacenter":
        return { kind: "Datacenter", info: this.dcInfo() };
      case "Cluster":
        // Hosts as the lab sizes them when a test does not make a site small: 32 cores of 2,600 MHz, 512 GB.
        return {
          kind: "ComputeResource",
          info: {
            ref: o.ref, name: o.name, hosts: [...o.hosts], parent: o.parent, resourcePool: o.rootPool,
            effectiveCpuMhz: o.hosts.length * 32 * 2600, totalCpuMhz: o.hosts.length * 32 * 2600, cpuCores: o.hosts.length * 32, effectiveMemoryMB: o.hosts.length * 512 * 1024,
          },
        };
      case "Pool":
        return { kind: "ResourcePool", info: { ref: o.ref, name: o.name, parent: o.parent, owner: o.owner } };
      case "Host":
        return { kind: "HostSystem", info: { ref: o.ref, name: o.name, parent: o.parent, connectionState: "connected", inMaintenanceMode: false, storageSystem: o.storageSystem, datastoreSystem: o.datastoreSystem, advancedOption: o.optionManager } };
      case "Network":
        return { kind: "Network", info: o.dvSwitch ? { ref: o.ref, name: o.name, portgroupKey: o.ref.value, dvSwitch: o.dvSwitch } : { ref: o.ref, name: o.name } };
      case "Datastore": {
        const mounts = this.mountsOf(o);
        const lun = o.vmfsUuid ? this.hosts().flatMap((h) => this.volumes(h)).find((v) => v.vmfsUuid === o.vmfsUuid)?.extents ?? [] : [];
        return {
          kind: "Datastore",
          info: {
            ref: o.ref, name: o.name, accessible: mounts.some((m) => m.mounted && m.accessible), vmfsExtents: [...lun],
            hosts: mounts.map((m) => ({ host: m.host.ref, accessible: m.accessible, mounted: m.mounted })),
            type: o.type, url: o.url, ...(o.nas ? { nas: { remoteHost: o.nas.remoteHost, remotePath: o.nas.remotePath } } : {}), browser: o.browser,
          },
        };
      }
      case "VM": {
        const ds = this.datastoreNamed(/^\[([^\]]+)\]/.exec(o.vmxPath)?.[1] ?? "");
        const devices = readDevices(node("val", o.file.devices));
        const tools = o.toolsRunning && o.powerState === "poweredOn";
        return {
          kind: "VirtualMachine",
          info: {
            ref: o.ref, name: o.name, datastores: ds ? [ds.ref] : [], networks: this.networksOf(o), template: false, parent: o.parent, resourcePool: o.pool, host: o.host,
            powerState: o.powerState, connectionState: this.accessible(o) ? "connected" : "inaccessible", question: this.question(o),
            instanceUuid: o.file.instanceUuid, biosUuid: o.file.biosUuid, vmPathName: o.vmxPath, numEthernetCards: devices.nics.length, numVirtualDisks: 1,
            cpus: 2, memoryMB: 4096, cpuReservationMhz: 0, memoryReservationMB: 0,
            toolsRunningStatus: tools ? "guestToolsRunning" : "guestToolsNotRunning", guestHeartbeat: tools ? "green" : "gray", ...(tools && o.file.guestIp ? { guestIp: o.file.guestIp } : {}),
            ...(tools ? { guestNics: devices.nics.map((n, i) => ({ deviceKey: n.key, connected: n.connected, addresses: i === 0 && o.file.guestIp ? [`${o.file.guestIp}/${o.file.guestPrefix ?? 24}`] : [] })) } : {}),
            ...(o.customization ? { pendingCustomization: true } : {}),
            toolsAfterPowerOn: o.file.toolsAfterPowerOn,
          },
        };
      }
      case "Switch":
        return undefined;
    }
  }

  /** The devices of a VM as config.hardware.device reads. */
  devices(vm: FVm): VmDevices {
    return readDevices(node("val", vm.file.devices));
  }

  /** The datastore search's result: the root folder, then each folder holding .vmx files. */
  search(ds: FDatastore): XNode {
    const dirs = new Map<string, string[]>();
    for (const p of this.filesOf(ds).vmx.keys()) {
      const i = p.lastIndexOf("/");
      const dir = i < 0 ? "" : p.slice(0, i);
      dirs.set(dir, [...(dirs.get(dir) ?? []), p.slice(i + 1)]);
    }
    const entry = (folder: string, files: readonly string[]): XNode =>
      node("HostDatastoreBrowserSearchResults", [refNode("datastore", ds.ref), t("folderPath", folder), ...files.map((f) => node("file", [t("path", f)], { xsiType: "VmConfigFileInfo" }))]);
    const out = [entry(`[${ds.name}]`, dirs.get("") ?? [])];
    for (const [dir, files] of [...dirs].filter(([d]) => d !== "").sort(([a], [b]) => a.localeCompare(b))) out.push(entry(`[${ds.name}] ${dir}/`, files.sort()));
    return node("val", out, { xsiType: "ArrayOfHostDatastoreBrowserSearchResults" });
  }

  /** One resolution of ResolveMultipleUnresolvedVmfsVolumesEx_Task. */
  resolve(h: FHost, s: VmfsResolution): XNode {
    const spec = node("spec", [t("extentDevicePath", s.devicePath), t("uuidResolution", s.mode)]);
    const lun = [...this.luns.values()].find((l) => devicePath(l.device) === s.devicePath);
    const fail = (type: string, message: string, fields: XNode[]): XNode =>
      node("HostUnresolvedVmfsResolutionResult", [spec, node("fault", [node("fault", fields, { xsiType: type }), t("localizedMessage", message)])]);
    if (!lun?.vmfs || !h.seen.has(lun.device) || h.detached.has(lun.device) || this.knows(h, lun) || lun.readOnly) {
      return fail("NotFound", `The unresolved VMFS volume on ${s.devicePath} was not found.`, []);
    }
    if (s.mode === "forceMount") {
      if (this.mountedElsewhere(lun.vmfs.uuid, lun.device)) return fail("VmfsAlreadyMounted", "Cannot mount the VMFS copy keeping its signature: a volume with the same UUID is already mounted.", [t("uuid", lun.vmfs.uuid)]);
      h.forceMounted.set(lun.device, lun.vmfs.uuid);
      h.unmounted.delete(lun.vmfs.uuid);
      this.ensureDatastore(lun.vmfs);
    } else {
      const uuid = uuidOf(`resignature/${lun.device}/${++this.seq}`);
      lun.vmfs = { uuid, label: `snap-${uuid.slice(0, 8)}-${lun.vmfs.label}`, formattedOn: lun.device };
      for (const other of this.hosts()) if (lun.hosts.has(other.name)) this.rescanHost(other);
    }
    this.mutations.push(`ResolveVmfs ${h.ref.value} ${s.devicePath}`);
    const v = lun.vmfs;
    return node("HostUnresolvedVmfsResolutionResult", [
      spec,
      node("vmfs", [t("type", "VMFS"), t("name", this.datastoreOfVmfs(v.uuid)?.name ?? v.label), t("capacity", 1099511627776), t("blockSizeMb", 1), t("majorVersion", 6), t("version", "6.82"), t("uuid", v.uuid), node("extent", [t("diskName", lun.device), t("partition", 1)])]),
    ]);
  }

  /** Renames a datastore: the VMFS label follows, and so do the paths of the VMs on it. */
  renameDatastore(ds: FDatastore, name: string): void {
    const old = ds.name;
    ds.name = name;
    const lun = [...this.luns.values()].find((l) => l.vmfs?.uuid === ds.vmfsUuid);
    if (lun?.vmfs) lun.vmfs.label = name;
    for (const vm of this.vms()) {
      if (!vm.vmxPath.startsWith(`[${old}] `)) continue;
      vm.vmxPath = `[${name}] ${vm.vmxPath.slice(old.length + 3)}`;
    }
  }

  /** Moves an object into a folder (VMs into VM folders, folders into folders of their kind). */
  move(folder: FFolder, r: MoRef): void {
    const o = this.objs.get(r.value);
    if (!o) throw taskFault("ManagedObjectNotFound", undefined, [refNode("obj", r)]);
    const fits = (o.kind === "VM" && folder.childType.includes("VirtualMachine")) || (o.kind === "Folder" && o.childType.join() === folder.childType.join());
    if (!fits) throw taskFault("NotSupported");
    const dup = [...this.objs.values()].find((x) => x !== o && x.parent.value === folder.ref.value && x.name === o.name);
    if (dup) throw duplicateName(o.name, dup.ref);
    o.parent = folder.ref;
  }

  /** Destroy_Task's work: a VM (powered off) with its files, a folder with what it holds, a pool (its VMs go to the parent pool). */
  destroyObj(o: Entity): void {
    if (o.kind === "VM") {
      if (o.powerState !== "poweredOff") throw powerFault("poweredOff", o.powerState);
      this.objs.delete(o.ref.value);
      const ds = this.datastoreNamed(/^\[([^\]]+)\]/.exec(o.vmxPath)?.[1] ?? "");
      if (ds) this.filesOf(ds).vmx.delete(o.vmxPath.replace(/^\[[^\]]+\] /, ""));
      return;
    }
    if (o.kind === "Folder") {
      if (o.ref.value === this.dc.vmFolder.value || o.parent.value === this.dc.ref.value) throw taskFault("NotSupported");
      const inside = [...this.objs.values()].filter((x) => x.kind !== "Pool" && x.kind !== "Host" && this.within(x, o.ref));
      const running = inside.find((x): x is FVm => x.kind === "VM" && x.powerState !== "poweredOff");
      if (running) throw powerFault("poweredOff", running.powerState);
      for (const x of inside) if (x.kind === "VM") this.destroyObj(x);
      for (const x of inside) this.objs.delete(x.ref.value);
      this.objs.delete(o.ref.value);
      return;
    }
    if (o.kind === "Pool") {
      if (o.parent.type !== "ResourcePool") throw taskFault("NotSupported");
      for (const x of this.objs.values()) {
        if (x.kind === "VM" && x.pool.value === o.ref.value) x.pool = o.parent;
        if (x.kind === "Pool" && x.parent.value === o.ref.value) x.parent = o.parent;
      }
      this.objs.delete(o.ref.value);
      return;
    }
    throw taskFault("NotSupported");
  }

  /** Rename_Task's work: DuplicateName when a sibling (or, for datastores, any datastore) has the name. */
  renameObj(o: Entity, name: string): void {
    const n = escapeName(name);
    const clash = o.kind === "Datastore" ? this.datastoreNamed(n) : [...this.objs.values()].find((x) => x.parent.value === o.parent.value && x.name === n);
    if (clash && clash !== o) throw duplicateName(n, clash.ref);
    if (o.kind === "Datastore") this.renameDatastore(o, n);
    else o.name = n;
  }
}

/**
 * Site 2 of the lab's world (hack/lab/internal/topology/vmbook.go) without its replicas: clusters
 * Site2-BCDR (bcdr1, bcdr2: 30.1.1.11, .12) and Site2-Dev (dev1, dev2: .21, .22), the "Site 2
 * DSwitch" with Site2-LAN and Site2-Test-Isolated, folders Infrastructure and Development, pool
 * Site2-Dev/Development, VMFS datastores LP1, LP2, DEV1, DEV2 on every host, and its VMs
 * (Site2-DC1, Site2-DNS1 running on LP1; Dev-01..04 on DEV2/DEV1, 01 and 02 running). Present
 * copies with addUnresolvedCopy and exports with addNfsExport.
 */
export function vmbookSite2(o: FakeVsphereOptions = {}): FakeVsphere {
  const bcdr = ["bcdr1.site2.vmbook.lab", "bcdr2.site2.vmbook.lab"];
  const w = new FakeVsphere({ datacenter: "Site 2", site: "site2", ...o })
    .addCluster("Site2-BCDR")
    .addHost("Site2-BCDR", bcdr[0]!, { ip: "30.1.1.11" })
    .addHost("Site2-BCDR", bcdr[1]!, { ip: "30.1.1.12" })
    .addCluster("Site2-Dev")
    .addHost("Site2-Dev", "dev1.site2.vmbook.lab", { ip: "30.1.1.21" })
    .addHost("Site2-Dev", "dev2.site2.vmbook.lab", { ip: "30.1.1.22" })
    .addSwitch("Site 2 DSwitch")
    .addPortgroup("Site2-LAN", { switch: "Site 2 DSwitch" })
    .addPortgroup("Site2-Test-Isolated", { switch: "Site 2 DSwitch" })
    .addFolder("Infrastructure")
    .addFolder("Development")
    .addResourcePool("Site2-Dev", "Development")
    .addDatastore("LP1")
    .addDatastore("LP2")
    .addDatastore("DEV1")
    .addDatastore("DEV2");
  ["Site2-DC1", "Site2-DNS1"].forEach((name, i) =>
    w.addVm({ name, folder: "Infrastructure", cluster: "Site2-BCDR", host: bcdr[i % 2], datastore: "LP1", powerState: "poweredOn", guestIp: `30.1.1.${5 + i}` }),
  );
  for (let i = 1; i <= 4; i++) {
    w.addVm({
      name: `Dev-0${i}`, folder: "Development", cluster: "Site2-Dev", pool: "Development", host: `dev${(i % 2) + 1}.site2.vmbook.lab`,
      datastore: i % 2 ? "DEV2" : "DEV1", powerState: i <= 2 ? "poweredOn" : "poweredOff", guestIp: `30.1.1.${100 + i}`,
    });
  }
  return w;
}

const devicePath = (device: string): string => `/vmfs/devices/disks/${device}:1`;

function connectable(startConnected: boolean, connected: boolean): XNode {
  return node("connectable", [t("startConnected", startConnected), t("allowGuestControl", true), t("connected", connected), t("status", "untried")]);
}

function replaceChild(n: XNode, c: XNode): XNode {
  return { ...n, children: n.children.map((x) => (x.name === c.name ? c : x)) };
}

function setConnected(d: XNode, connected: boolean): XNode {
  const c = child(d, "connectable")!;
  return replaceChild(d, { ...c, children: c.children.map((x) => (x.name === "connected" ? t("connected", connected) : x)) });
}

function mediaNode(key: number, kind: "cdrom" | "floppy", m: FakeMediaSpec): XNode {
  const cd = kind === "cdrom";
  const backing = m.file
    ? node("backing", [t("fileName", m.file)], { xsiType: cd ? "VirtualCdromIsoBackingInfo" : "VirtualFloppyImageBackingInfo" })
    : cd
      ? node("backing", [t("deviceName", ""), t("useAutoDetect", false), t("exclusive", false)], { xsiType: "VirtualCdromRemotePassthroughBackingInfo" })
      : node("backing", [t("deviceName", "/dev/fd0"), t("useAutoDetect", false)], { xsiType: "VirtualFloppyDeviceBackingInfo" });
  return node("VirtualDevice", [
    t("key", key),
    node("deviceInfo", [t("label", cd ? "CD/DVD drive 1" : "Floppy drive 1"), t("summary", m.file ?? (cd ? "Remote device" : "Floppy /dev/fd0"))], { xsiType: "Description" }),
    backing,
    connectable(m.startConnected ?? false, false),
    t("controllerKey", cd ? 15000 : 400),
    t("unitNumber", 0),
  ], { xsiType: cd ? "VirtualCdrom" : "VirtualFloppy" });
}

/** The spec XML the real client would send, read back as the server reads it. */
function parseSpec(xml: string): XNode {
  return parseXml(`<spec xmlns:xsi="${XSI_NS}">${xml}</spec>`).children[0]!;
}

/** VsphereClient over a FakeVsphere, with VcenterClient's semantics (DONE answers, idempotent creates, the same faults). */
class FakeVsphereClient implements VsphereClient {
  constructor(private readonly w: FakeVsphere) {}

  get about(): About {
    return this.w.about;
  }

  findDatacenter(name: string): Promise<DatacenterInfo | undefined> {
    return this.w.call("findDatacenter", () => (this.w.datacenterName === name ? this.w.dcInfo() : undefined));
  }

  readInventory(root: MoRef): Promise<InventoryObject[]> {
    return this.w.call("readInventory", () => this.w.inventory(root));
  }

  findByInventoryPath(path: string): Promise<MoRef | undefined> {
    return this.w.call("findByInventoryPath", () => this.w.findPath(path));
  }

  findVmByInstanceUuid(uuid: string): Promise<MoRef | undefined> {
    return this.w.call("findVmByInstanceUuid", () => this.w.vms().find((v) => v.file.instanceUuid === uuid)?.ref);
  }

  createFolder(parent: MoRef, name: string): Promise<MoRef> {
    return this.w.call("createFolder", () => this.folder(parent, name));
  }

  private folder(parent: MoRef, nameIn: string): MoRef {
    const op = "CreateFolder";
    const p = this.w.get(parent, "Folder", op);
    const name = escapeName(nameIn);
    if (name === "" || name.length > 80) this.w.raise(op, parent, callFault("InvalidName", `Name '${name}' is invalid.`, [t("name", name)]));
    const same = [...this.w.children(parent), ...this.w.vms().filter((v) => v.parent.value === parent.value)].find((x) => x.name === name);
    if (same?.kind === "Folder") return same.ref;
    if (same) this.w.raise(op, parent, duplicateName(name, same.ref, callFault));
    this.w.mutations.push(`CreateFolder ${p.ref.value}/${name}`);
    return this.w.newFolder(parent, name).ref;
  }

  ensureFolderPath(root: MoRef, path: readonly string[]): Promise<MoRef> {
    return this.w.call("ensureFolderPath", () => path.reduce((cur, name) => this.folder(cur, name), root));
  }

  createResourcePool(parent: MoRef, nameIn: string): Promise<MoRef> {
    return this.w.call("createResourcePool", () => {
      const op = "CreateResourcePool";
      this.w.get(parent, "Pool", op);
      const name = escapeName(nameIn);
      if (name === "" || name.length > 80) this.w.raise(op, parent, callFault("InvalidName", `Name '${name}' is invalid.`, [t("name", name)]));
      const existing = this.w.poolChild(parent, name);
      if (existing) return existing;
      this.w.mutations.push(`CreateResourcePool ${parent.value}/${name}`);
      return this.w.newPool(parent, name);
    });
  }

  moveIntoFolder(folder: MoRef, objects: readonly MoRef[]): Promise<TaskRef> {
    return this.w.call("moveIntoFolder", () => {
      const f = this.w.get(folder, "Folder", "MoveIntoFolder");
      return this.w.task("MoveIntoFolder_Task", folder, f.name, () => {
        for (const o of objects) this.w.move(this.w.get(folder, "Folder", "MoveIntoFolder"), o);
        this.w.mutations.push(`MoveIntoFolder ${folder.value} ${objects.map((o) => o.value).join(",")}`);
        return undefined;
      });
    });
  }

  destroy(obj: MoRef): Promise<TaskRef> {
    return this.w.call("destroy", () => {
      const o = this.entity(obj, "Destroy");
      return this.w.task("Destroy_Task", obj, o.name, () => {
        const now = this.entity(obj, "Destroy");
        this.w.destroyObj(now);
        this.w.mutations.push(`Destroy ${obj.value}`);
        return undefined;
      });
    });
  }

  rename(obj: MoRef, name: string): Promise<TaskRef> {
    return this.w.call("rename", () => {
      const o = this.entity(obj, "Rename");
      return this.w.task("Rename_Task", obj, o.name, () => {
        this.w.renameObj(this.entity(obj, "Rename"), name);
        this.w.mutations.push(`Rename ${obj.value} ${name}`);
        return undefined;
      });
    });
  }

  private entity(r: MoRef, op: string): Entity {
    const kinds: Record<string, Entity["kind"]> = { Folder: "Folder", VirtualMachine: "VM", ResourcePool: "Pool", Datastore: "Datastore", HostSystem: "Host", ClusterComputeResource: "Cluster", Datacenter: "Datacenter" };
    const kind = kinds[r.type];
    if (!kind) this.w.raise(op, r, notFound(r));
    return this.w.get(r, kind, op);
  }

  registerVm(r: RegisterVmRequest): Promise<TaskRef> {
    return this.w.call("registerVm", () => {
      const f = this.w.get(r.folder, "Folder", "RegisterVM");
      return this.w.task("RegisterVM_Task", r.folder, f.name, () => {
        const vm = this.w.register(r.folder, r.vmxPath, r.name, r.pool, r.host);
        if (vm instanceof VimFault) throw vm;
        this.w.mutations.push(`RegisterVM ${r.vmxPath}`);
        return node("val", [], { xsiType: "ManagedObjectReference", attrs: { type: "VirtualMachine" }, text: vm.ref.value });
      });
    });
  }

  unregisterVm(vm: MoRef): Promise<void> {
    return this.w.call("unregisterVm", () => {
      const op = "UnregisterVM";
      const v = this.w.get(vm, "VM", op);
      if (v.powerState !== "poweredOff") this.w.raise(op, vm, powerFault("poweredOff", v.powerState, callFault));
      if (v.question || v.busy) this.w.raise(op, vm, callFault("InvalidState"));
      this.w.mutations.push(`UnregisterVM ${vm.value}`);
      this.w.objsDelete(vm);
    });
  }

  powerOn(vm: MoRef): Promise<TaskRef | Done> {
    return this.w.call("powerOn", () => {
      const v = this.w.get(vm, "VM", "RetrieveProperties");
      if (v.powerState === "poweredOn") return DONE;
      return this.w.task("PowerOnVM_Task", vm, v.name, (task) => {
        const out = this.w.powerOnWork(v, task);
        this.w.mutations.push(`PowerOn ${vm.value}`);
        return out;
      });
    });
  }

  answerQuestion(vm: MoRef, questionId: string, choiceKey: string): Promise<void> {
    return this.w.call("answerQuestion", () => {
      const op = "AnswerVM";
      const v = this.w.get(vm, "VM", op);
      if (!v.question || v.question.id !== questionId) this.w.raise(op, vm, invalidArgument("questionId", callFault));
      if (!CHOICES.some((c) => c.key === choiceKey)) this.w.raise(op, vm, invalidArgument("answerChoice", callFault));
      this.w.mutations.push(`AnswerVM ${vm.value}`);
      this.w.answer(v, choiceKey);
    });
  }

  powerOff(vm: MoRef): Promise<TaskRef | Done> {
    return this.w.call("powerOff", () => {
      const v = this.w.get(vm, "VM", "RetrieveProperties");
      if (v.powerState === "poweredOff") return DONE;
      return this.w.task("PowerOffVM_Task", vm, v.name, () => {
        if (!this.w.hasObj(vm)) throw notFound(vm);
        if (v.powerState === "poweredOff") throw powerFault("poweredOff", "poweredOff");
        this.w.powerOffNow(v);
        this.w.mutations.push(`PowerOff ${vm.value}`);
        return undefined;
      });
    });
  }

  suspendVm(vm: MoRef): Promise<TaskRef | Done> {
    return this.w.call("suspendVm", () => {
      const v = this.w.get(vm, "VM", "RetrieveProperties");
      if (v.powerState !== "poweredOn") return DONE;
      return this.w.task("SuspendVM_Task", vm, v.name, () => {
        if (v.powerState !== "poweredOn") throw powerFault("poweredOn", v.powerState);
        v.powerState = "suspended";
        v.toolsRunning = false;
        this.w.mutations.push(`Suspend ${vm.value}`);
        return undefined;
      });
    });
  }

  getPoolLimits(pool: MoRef): Promise<PoolLimits> {
    return this.w.call("getPoolLimits", () => ({ ...(this.w.get(pool, "Pool", "RetrieveProperties").limits ?? { cpuMhz: -1, memoryMB: -1 }) }));
  }

  setPoolLimits(pool: MoRef, limits: Partial<PoolLimits>): Promise<void> {
    return this.w.call("setPoolLimits", () => {
      const p = this.w.get(pool, "Pool", "UpdateConfig");
      p.limits = { ...(p.limits ?? { cpuMhz: -1, memoryMB: -1 }), ...limits };
      this.w.mutations.push(`UpdateConfig ${pool.value}`);
    });
  }

  shutdownGuest(vm: MoRef): Promise<Done> {
    return this.w.call("shutdownGuest", () => {
      const op = "ShutdownGuest";
      const v = this.w.get(vm, "VM", op);
      if (v.powerState === "poweredOff") return DONE;
      if (v.powerState !== "poweredOn") this.w.raise(op, vm, powerFault("poweredOn", v.powerState, callFault));
      if (!v.toolsRunning) this.w.raise(op, vm, callFault("ToolsUnavailable"));
      this.w.mutations.push(`ShutdownGuest ${vm.value}`);
      this.w.guestShutdown(v);
      return DONE;
    });
  }

  getVmDevices(vm: MoRef): Promise<VmDevices> {
    return this.w.call("getVmDevices", () => this.w.devices(this.w.get(vm, "VM", "RetrieveProperties")));
  }

  getVmToolsScript(vm: MoRef, key: string): Promise<VmToolsScript> {
    return this.w.call("getVmToolsScript", () => {
      const v = this.w.get(vm, "VM", "RetrieveProperties");
      const value = v.file.extraConfig.get(key);
      return { devices: this.w.devices(v), afterPowerOn: v.file.toolsAfterPowerOn, ...(value !== undefined ? { value } : {}) };
    });
  }

  getVmsDevices(vms: readonly MoRef[]): Promise<Map<string, VmDevices>> {
    return this.w.call("getVmsDevices", () => {
      // As the real client: VMs that no longer exist are left out.
      const found = vms.flatMap((r) => {
        try {
          return [this.w.get(r, "VM", "RetrieveProperties")];
        } catch (err) {
          if (isFault(err, "ManagedObjectNotFound")) return [];
          throw err;
        }
      });
      return new Map(found.map((v) => [v.ref.value, this.w.devices(v)]));
    });
  }

  getHostAddresses(host: MoRef): Promise<string[]> {
    return this.w.call("getHostAddresses", () => [...this.w.get(host, "Host", "RetrieveProperties").ips]);
  }

  reconfigureVm(vm: MoRef, devices: VmDevices, change: VmReconfig): Promise<TaskRef> {
    // The real client builds the spec before it calls, and rejects a NIC the VM does not have.
    let spec: ReturnType<typeof parseSpec>;
    try {
      spec = parseSpec(reconfigSpec(devices, change));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return this.w.call("reconfigureVm", () => {
      const v = this.w.get(vm, "VM", "ReconfigVM");
      return this.w.task("ReconfigVM_Task", vm, v.name, () => {
        if (!this.w.hasObj(vm)) throw notFound(vm);
        this.w.reconfigure(v, spec);
        this.w.mutations.push(`ReconfigVM ${vm.value}`);
        return undefined;
      });
    });
  }

  customizeVm(vm: MoRef, spec: GuestCustomization): Promise<TaskRef> {
    parseSpec(customizationSpec(spec));
    return this.w.call("customizeVm", () => {
      const v = this.w.get(vm, "VM", "CustomizeVM");
      return this.w.task("CustomizeVM_Task", vm, v.name, () => {
        if (v.powerState !== "poweredOff") throw powerFault("poweredOff", v.powerState);
        if (v.customization) throw taskFault("CustomizationPending", "Customization operation is already pending for the virtual machine.");
        if (spec.nics.length !== this.w.devices(v).nics.length) throw taskFault("NicSettingMismatch", `The number of network adapter settings in the customization specification: ${spec.nics.length} does not match the number of network adapters present in the virtual machine: ${this.w.devices(v).nics.length}.`, [t("numberOfNicsInSpec", spec.nics.length), t("numberOfNicsInVM", this.w.devices(v).nics.length)]);
        v.customization = spec;
        this.w.mutations.push(`CustomizeVM ${vm.value}`);
        return undefined;
      });
    });
  }

  getDvsUuid(dvs: MoRef): Promise<string> {
    return this.w.call("getDvsUuid", () => this.w.get(dvs, "Switch", "RetrieveProperties").uuid);
  }

  private rescan(method: string, ss: MoRef): Promise<void> {
    return this.w.call(method, () => this.w.rescanHost(this.w.hostBySystem(ss, method === "rescanAllHba" ? "RescanAllHba" : method === "rescanVmfs" ? "RescanVmfs" : "RefreshStorageSystem")));
  }

  rescanAllHba(storageSystem: MoRef): Promise<void> {
    return this.rescan("rescanAllHba", storageSystem);
  }

  rescanVmfs(storageSystem: MoRef): Promise<void> {
    return this.rescan("rescanVmfs", storageSystem);
  }

  refreshStorageSystem(storageSystem: MoRef): Promise<void> {
    return this.rescan("refreshStorageSystem", storageSystem);
  }

  createNasDatastore(datastoreSystem: MoRef, m: NasMount): Promise<MoRef> {
    return this.w.call("createNasDatastore", () => {
      const h = this.w.hostBySystem(datastoreSystem, "CreateNasDatastore");
      const had = h.nfs.size;
      const ds = this.w.mountNas(h, m);
      if (h.nfs.size !== had) this.w.mutations.push(`CreateNasDatastore ${h.ref.value} ${m.name}`);
      return ds.ref;
    });
  }

  queryUnresolvedVmfsVolumes(storageSystem: MoRef): Promise<UnresolvedVmfsVolume[]> {
    return this.w.call("queryUnresolvedVmfsVolumes", () => this.w.unresolved(this.w.hostBySystem(storageSystem, "QueryUnresolvedVmfsVolume")));
  }

  resolveUnresolvedVmfsVolumes(storageSystem: MoRef, specs: readonly VmfsResolution[]): Promise<TaskRef | Done> {
    return this.w.call("resolveUnresolvedVmfsVolumes", () => {
      const h = this.w.hostBySystem(storageSystem, "QueryUnresolvedVmfsVolume");
      const pending = new Set(this.w.unresolved(h).flatMap((v) => v.extents.map((e) => e.devicePath)));
      const todo = specs.filter((s) => pending.has(s.devicePath));
      if (todo.length === 0) return DONE;
      return this.w.task("ResolveMultipleUnresolvedVmfsVolumesEx_Task", storageSystem, h.name, () =>
        node("val", todo.map((s) => this.w.resolve(h, s)), { xsiType: "ArrayOfHostUnresolvedVmfsResolutionResult" }),
      );
    });
  }

  renameDatastore(datastore: MoRef, name: string): Promise<TaskRef | Done> {
    return this.w.call("renameDatastore", () => {
      const ds = this.w.get(datastore, "Datastore", "RetrieveProperties");
      if (ds.name === name) return DONE;
      return this.w.task("Rename_Task", datastore, ds.name, () => {
        this.w.renameObj(this.w.get(datastore, "Datastore", "Rename"), name);
        this.w.mutations.push(`Rename ${datastore.value} ${name}`);
        return undefined;
      });
    });
  }

  getHostVolumes(storageSystem: MoRef): Promise<HostVolumeMount[]> {
    return this.w.call("getHostVolumes", () => this.w.volumes(this.w.hostBySystem(storageSystem, "RetrieveProperties")));
  }

  getHostScsiLuns(storageSystem: MoRef): Promise<ScsiLunInfo[]> {
    return this.w.call("getHostScsiLuns", () => this.w.scsiLuns(this.w.hostBySystem(storageSystem, "RetrieveProperties")));
  }

  getDatastoreVmfsUuid(datastore: MoRef): Promise<string | undefined> {
    return this.w.call("getDatastoreVmfsUuid", () => this.w.get(datastore, "Datastore", "RetrieveProperties").vmfsUuid);
  }

  unmountVmfsVolume(storageSystem: MoRef, vmfsUuid: string): Promise<Done> {
    return this.w.call("unmountVmfsVolume", () => {
      const op = "UnmountVmfsVolume";
      const h = this.w.hostBySystem(storageSystem, "RetrieveProperties");
      if (!this.w.volumes(h).some((v) => v.vmfsUuid === vmfsUuid && v.mounted)) return DONE;
      const ds = this.w.datastores().find((d) => d.vmfsUuid === vmfsUuid);
      if (ds && this.w.vmsOn(ds, h).length > 0) {
        this.w.raise(op, storageSystem, callFault("ResourceInUse", `The resource '${ds.name}' is in use: virtual machines are registered on it.`, [t("type", "Datastore"), t("name", ds.name)]));
      }
      h.unmounted.add(vmfsUuid);
      this.w.mutations.push(`UnmountVmfs ${h.ref.value} ${vmfsUuid}`);
      this.w.prune();
      return DONE;
    });
  }

  mountVmfsVolume(storageSystem: MoRef, vmfsUuid: string): Promise<Done> {
    return this.w.call("mountVmfsVolume", () => {
      const h = this.w.hostBySystem(storageSystem, "RetrieveProperties");
      const v = this.w.volumes(h).find((x) => x.vmfsUuid === vmfsUuid);
      if (v?.mounted) return DONE;
      if (!v) this.w.raise("MountVmfsVolume", storageSystem, callFault("NotFound", `VMFS volume ${vmfsUuid} not found on host ${h.name}.`));
      h.unmounted.delete(vmfsUuid);
      this.w.mutations.push(`MountVmfs ${h.ref.value} ${vmfsUuid}`);
      return DONE;
    });
  }

  detachScsiLun(storageSystem: MoRef, lunUuid: string): Promise<Done> {
    return this.w.call("detachScsiLun", () => {
      const h = this.w.hostBySystem(storageSystem, "RetrieveProperties");
      const lun = this.w.scsiLuns(h).find((l) => l.uuid === lunUuid);
      if (!lun || lun.operationalState.includes("off")) return DONE;
      const mounted = this.w.volumes(h).find((v) => v.extents.includes(lun.canonicalName) && v.mounted);
      if (mounted) {
        this.w.raise("DetachScsiLun", storageSystem, callFault("ResourceInUse", `The SCSI device ${lun.canonicalName} is in use: the VMFS volume ${mounted.name} is mounted on it.`, [t("type", "ScsiLun"), t("name", lun.canonicalName)]));
      }
      h.detached.add(lun.canonicalName);
      this.w.mutations.push(`DetachScsiLun ${h.ref.value} ${lun.canonicalName}`);
      this.w.prune();
      return DONE;
    });
  }

  attachScsiLun(storageSystem: MoRef, lunUuid: string): Promise<Done> {
    return this.w.call("attachScsiLun", () => {
      const h = this.w.hostBySystem(storageSystem, "RetrieveProperties");
      const lun = this.w.scsiLuns(h).find((l) => l.uuid === lunUuid);
      if (lun && !lun.operationalState.includes("off")) return DONE;
      if (!lun) this.w.raise("AttachScsiLun", storageSystem, callFault("NotFound", `The SCSI device ${lunUuid} was not found.`));
      h.detached.delete(lun.canonicalName);
      this.w.mutations.push(`AttachScsiLun ${h.ref.value} ${lun.canonicalName}`);
      return DONE;
    });
  }

  removeNasDatastore(datastoreSystem: MoRef, datastore: MoRef): Promise<Done> {
    return this.w.call("removeNasDatastore", () => {
      const h = this.w.hostBySystem(datastoreSystem, "RemoveDatastore");
      const ds = this.w.datastores().find((d) => d.ref.value === datastore.value);
      // Not mounted on this host, or gone altogether: nothing to remove.
      if (!ds || !h.nfs.has(ds.ref.value)) return DONE;
      if (this.w.vmsOn(ds, h).length > 0) this.w.raise("RemoveDatastore", datastoreSystem, callFault("ResourceInUse", `The resource '${ds.name}' is in use.`, [t("type", "Datastore"), t("name", ds.name)]));
      h.nfs.delete(ds.ref.value);
      this.w.mutations.push(`RemoveDatastore ${h.ref.value} ${ds.name}`);
      this.w.prune();
      return DONE;
    });
  }

  searchDatastoreForVmx(browser: MoRef, datastoreName: string): Promise<TaskRef> {
    return this.w.call("searchDatastoreForVmx", () => {
      const ds = this.w.datastoreByBrowser(browser, "SearchDatastoreSubFolders");
      return this.w.task("SearchDatastoreSubFolders_Task", ds.ref, ds.name, () => {
        if (ds.name !== datastoreName) throw taskFault("FileNotFound", `File [${datastoreName}] was not found`, [t("file", `[${datastoreName}]`)]);
        if (!this.w.mountsOf(ds).some((m) => m.mounted && m.accessible)) throw taskFault("InvalidDatastore", `The datastore '${ds.name}' is not accessible.`, [refNode("datastore", ds.ref), t("name", ds.name)]);
        return this.w.search(ds);
      });
    });
  }

  queryOptions(optionManager: MoRef, prefix: string): Promise<{ key: string; value: string }[]> {
    return this.w.call("queryOptions", () => {
      const h = this.w.hostBySystem(optionManager, "QueryOptions");
      return [...h.options].filter(([k]) => k.startsWith(prefix)).map(([key, o]) => ({ key, value: String(o.value) }));
    });
  }

  updateOptions(optionManager: MoRef, settings: readonly OptionSetting[]): Promise<void> {
    return this.w.call("updateOptions", () => {
      const op = "UpdateOptions";
      const h = this.w.hostBySystem(optionManager, op);
      for (const s of settings) {
        const cur = h.options.get(s.key);
        if (!cur) this.w.raise(op, optionManager, callFault("InvalidName", `Name '${s.key}' is invalid.`, [t("name", s.key)]));
        const sent = s.type ?? (typeof s.value === "number" ? "int" : typeof s.value === "boolean" ? "boolean" : "string");
        // As ESXi (OptionSetting.type) and the lab: a value of another xsd type is refused, an int
        // for a long option too.
        if (sent !== cur.type) this.w.raise(op, optionManager, invalidArgument(s.key, callFault));
      }
      for (const s of settings) h.options.get(s.key)!.value = s.value;
      this.w.mutations.push(`UpdateOptions ${h.ref.value} ${settings.map((s) => s.key).join(",")}`);
    });
  }

  getTasks(tasks: readonly MoRef[]): Promise<TaskState[]> {
    return this.w.call("getTasks", () => (tasks.length === 0 ? [] : this.w.taskStates(tasks)));
  }
}

/** 255.255.255.0 → 24. */
function maskLength(mask: string): number {
  return mask.split(".").reduce((bits, o) => bits + (Number(o) >>> 0).toString(2).replace(/0/g, "").length, 0);
}
