import { boolAt, child, childrenNamed, numberAt, textAt } from "./soap/xml.js";
import type { XNode } from "./soap/xml.js";
import { readRef, readRefs } from "./property-collector.js";
import type { ObjectContent, PropertySpec } from "./property-collector.js";
import type {
  ComputeResourceInfo, ConnectionState, DatacenterInfo, DatastoreInfo, FolderInfo, GuestNic, HostInfo, InventoryObject, MoRef, NetworkInfo,
  PowerState, ResourcePoolInfo, VmInfo, VmQuestion,
} from "./types.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
/** Applies one property's new value (undefined: unset) to an object being built or updated. */
type Setter<T> = (o: Mutable<T>, val: XNode | undefined) => void;

const str = (v: XNode | undefined): string | undefined => v?.text || undefined;
const num = (v: XNode | undefined): number | undefined => (v?.text ? Number(v.text) : undefined);
const bool = (v: XNode | undefined): boolean | undefined => (v?.text === undefined ? undefined : v.text === "true");

function readQuestion(n: XNode | undefined): VmQuestion | undefined {
  if (!n || n.children.length === 0) return undefined;
  const id = textAt(n, "id");
  if (!id) return undefined;
  const choice = child(n, "choice");
  const choices = childrenNamed(choice, "choiceInfo").map((c) => ({ key: textAt(c, "key") ?? "", label: textAt(c, "label") ?? textAt(c, "summary") ?? "" }));
  const defaultIndex = numberAt(choice, "defaultIndex");
  return { id, text: textAt(n, "text") ?? "", choices, defaultKey: defaultIndex !== undefined ? choices[defaultIndex]?.key : undefined };
}

/** guest.net (ArrayOfGuestNicInfo), sorted by device key; undefined when tools report none. */
function readGuestNics(v: XNode | undefined): GuestNic[] | undefined {
  const nics = childrenNamed(v, "GuestNicInfo").map((n): GuestNic => {
    const ipConfig = child(n, "ipConfig");
    const fromConfig = childrenNamed(ipConfig, "ipAddress").map((a) => `${textAt(a, "ipAddress") ?? ""}/${textAt(a, "prefixLength") ?? ""}`.replace(/\/$/, ""));
    const addresses = fromConfig.length ? fromConfig : childrenNamed(n, "ipAddress").map((a) => a.text ?? "").filter((a) => a !== "");
    const dns = childrenNamed(child(n, "dnsConfig"), "ipAddress").map((a) => a.text ?? "").filter((a) => a !== "");
    const deviceKey = numberAt(n, "deviceConfigId");
    const dhcp = boolAt(ipConfig, "dhcp.ipv4.enable");
    return {
      ...(deviceKey !== undefined ? { deviceKey } : {}),
      ...(textAt(n, "macAddress") ? { mac: textAt(n, "macAddress") } : {}),
      ...(textAt(n, "network") ? { network: textAt(n, "network") } : {}),
      connected: boolAt(n, "connected") ?? false,
      addresses,
      ...(dhcp ? { dhcp } : {}),
      ...(dns.length ? { dns } : {}),
    };
  });
  nics.sort((a, b) => (a.deviceKey ?? Infinity) - (b.deviceKey ?? Infinity));
  return nics.length ? nics : undefined;
}

/** The default route and DNS servers of guest.ipStack (its first stack). */
function readIpStack(v: XNode | undefined): { gateway?: { ip: string; nic?: number }; dns?: string[] } {
  const stack = childrenNamed(v, "GuestStackInfo")[0];
  if (!stack) return {};
  const route = childrenNamed(child(stack, "ipRouteConfig"), "ipRoute").find((r) => textAt(r, "network") === "0.0.0.0" && numberAt(r, "prefixLength") === 0);
  const ip = textAt(route, "gateway.ipAddress");
  const device = numberAt(route, "gateway.device");
  const dns = childrenNamed(child(stack, "dnsConfig"), "ipAddress").map((a) => a.text ?? "").filter((a) => a !== "");
  return { ...(ip ? { gateway: { ip, ...(device !== undefined ? { nic: device } : {}) } } : {}), ...(dns.length ? { dns } : {}) };
}

/**
 * How each followed type is read, property by property. The same setters build an object from a
 * full read and apply a WaitForUpdatesEx change to a cached one, so neither keeps XML around:
 * a 10,000-VM inventory lives as small typed objects.
 */
interface KindSpec<K extends InventoryObject["kind"], T> {
  readonly kind: K;
  readonly types: readonly string[];
  readonly empty: (ref: MoRef) => Mutable<T>;
  readonly props: Readonly<Record<string, Setter<T>>>;
}

const vmSpec: KindSpec<"VirtualMachine", VmInfo> = {
  kind: "VirtualMachine",
  types: ["VirtualMachine"],
  empty: (ref) => ({ ref, name: "", datastores: [], networks: [], template: false }),
  props: {
    name: (o, v) => (o.name = v?.text ?? ""),
    parent: (o, v) => (o.parent = readRef(v)),
    resourcePool: (o, v) => (o.resourcePool = readRef(v)),
    "runtime.host": (o, v) => (o.host = readRef(v)),
    "runtime.powerState": (o, v) => (o.powerState = str(v) as PowerState | undefined),
    "runtime.connectionState": (o, v) => (o.connectionState = str(v) as ConnectionState | undefined),
    "runtime.question": (o, v) => (o.question = readQuestion(v)),
    "config.instanceUuid": (o, v) => (o.instanceUuid = str(v)),
    "config.uuid": (o, v) => (o.biosUuid = str(v)),
    "config.template": (o, v) => (o.template = bool(v) ?? false),
    "config.files.vmPathName": (o, v) => (o.vmPathName = str(v)),
    datastore: (o, v) => (o.datastores = readRefs(v)),
    network: (o, v) => (o.networks = readRefs(v)),
    "summary.config.numEthernetCards": (o, v) => (o.numEthernetCards = num(v)),
    "summary.config.numVirtualDisks": (o, v) => (o.numVirtualDisks = num(v)),
    "guest.toolsRunningStatus": (o, v) => (o.toolsRunningStatus = str(v)),
    "summary.quickStats.guestHeartbeatStatus": (o, v) => (o.guestHeartbeat = str(v)),
    "guest.ipAddress": (o, v) => (o.guestIp = str(v)),
    "config.guestId": (o, v) => (o.guestId = str(v)),
    "guest.hostName": (o, v) => (o.guestHostName = str(v)),
    "guest.net": (o, v) => (o.guestNics = readGuestNics(v)),
    "guest.ipStack": (o, v) => {
      const s = readIpStack(v);
      o.guestGateway = s.gateway;
      o.guestDns = s.dns;
    },
    "config.tools.pendingCustomization": (o, v) => (o.pendingCustomization = str(v) !== undefined || undefined),
    "config.tools.afterPowerOn": (o, v) => (o.toolsAfterPowerOn = bool(v)),
    "summary.config.numCpu": (o, v) => (o.cpus = num(v)),
    "summary.config.memorySizeMB": (o, v) => (o.memoryMB = num(v)),
    "summary.config.cpuReservation": (o, v) => (o.cpuReservationMhz = num(v)),
    "summary.config.memoryReservation": (o, v) => (o.memoryReservationMB = num(v)),
  },
};

const folderSpec: KindSpec<"Folder", FolderInfo> = {
  kind: "Folder",
  types: ["Folder"],
  empty: (ref) => ({ ref, name: "", childType: [] }),
  props: {
    name: (o, v) => (o.name = v?.text ?? ""),
    parent: (o, v) => (o.parent = readRef(v)),
    childType: (o, v) => (o.childType = (v?.children ?? []).map((n) => n.text)),
  },
};

const poolSpec: KindSpec<"ResourcePool", ResourcePoolInfo> = {
  kind: "ResourcePool",
  types: ["ResourcePool", "VirtualApp"],
  empty: (ref) => ({ ref, name: "" }),
  props: {
    name: (o, v) => (o.name = v?.text ?? ""),
    parent: (o, v) => (o.parent = readRef(v)),
    owner: (o, v) => (o.owner = readRef(v)),
  },
};

const datastoreSpec: KindSpec<"Datastore", DatastoreInfo> = {
  kind: "Datastore",
  types: ["Datastore"],
  empty: (ref) => ({ ref, name: "", accessible: true, vmfsExtents: [], hosts: [] }),
  props: {
    name: (o, v) => (o.name = v?.text ?? ""),
    "summary.type": (o, v) => (o.type = str(v)),
    "summary.url": (o, v) => (o.url = str(v)),
    "summary.accessible": (o, v) => (o.accessible = bool(v) ?? true),
    info: (o, v) => {
      const nas = child(v, "nas");
      o.vmfsExtents = childrenNamed(child(v, "vmfs"), "extent")
        .map((e) => textAt(e, "diskName") ?? "")
        .filter(Boolean);
      o.nas = nas ? { remoteHost: textAt(nas, "remoteHost") ?? "", remotePath: textAt(nas, "remotePath") ?? "" } : undefined;
    },
    host: (o, v) =>
      (o.hosts = (v?.children ?? []).map((m) => ({
        host: readRef(child(m, "key")) ?? { type: "HostSystem", value: "" },
        accessible: boolAt(m, "mountInfo.accessible") ?? true,
        mounted: boolAt(m, "mountInfo.mounted") ?? true,
      }))),
    browser: (o, v) => (o.browser = readRef(v)),
  },
};

const hostSpec: KindSpec<"HostSystem", HostInfo> = {
  kind: "HostSystem",
  types: ["HostSystem"],
  empty: (ref) => ({ ref, name: "" }),
  props: {
    name: (o, v) => (o.name = v?.text ?? ""),
    parent: (o, v) => (o.parent = readRef(v)),
    "runtime.connectionState": (o, v) => (o.connectionState = str(v)),
    "runtime.inMaintenanceMode": (o, v) => (o.inMaintenanceMode = bool(v)),
    "configManager.storageSystem": (o, v) => (o.storageSystem = readRef(v)),
    "configManager.datastoreSystem": (o, v) => (o.datastoreSystem = readRef(v)),
    "configManager.advancedOption": (o, v) => (o.advancedOption = readRef(v)),
  },
};

const networkSpec: KindSpec<"Network", NetworkInfo> = {
  kind: "Network",
  types: ["Network", "DistributedVirtualPortgroup", "OpaqueNetwork"],
  empty: (ref) => ({ ref, name: "" }),
  props: {
    name: (o, v) => (o.name = v?.text ?? ""),
    key: (o, v) => (o.portgroupKey = str(v)),
    "config.distributedVirtualSwitch": (o, v) => (o.dvSwitch = readRef(v)),
  },
};

const computeSpec: KindSpec<"ComputeResource", ComputeResourceInfo> = {
  kind: "ComputeResource",
  types: ["ComputeResource", "ClusterComputeResource"],
  empty: (ref) => ({ ref, name: "", hosts: [] }),
  props: {
    name: (o, v) => (o.name = v?.text ?? ""),
    parent: (o, v) => (o.parent = readRef(v)),
    resourcePool: (o, v) => (o.resourcePool = readRef(v)),
    host: (o, v) => (o.hosts = readRefs(v)),
    "summary.effectiveCpu": (o, v) => (o.effectiveCpuMhz = num(v)),
    "summary.effectiveMemory": (o, v) => (o.effectiveMemoryMB = num(v)),
    "summary.totalCpu": (o, v) => (o.totalCpuMhz = num(v)),
    "summary.numCpuCores": (o, v) => (o.cpuCores = num(v)),
  },
};

const datacenterSpec: KindSpec<"Datacenter", DatacenterInfo> = {
  kind: "Datacenter",
  types: ["Datacenter"],
  empty: (ref) => ({ ref, name: "" }),
  props: {
    name: (o, v) => (o.name = v?.text ?? ""),
    vmFolder: (o, v) => (o.vmFolder = readRef(v)),
    hostFolder: (o, v) => (o.hostFolder = readRef(v)),
    datastoreFolder: (o, v) => (o.datastoreFolder = readRef(v)),
    networkFolder: (o, v) => (o.networkFolder = readRef(v)),
  },
};

type AnySpec = KindSpec<InventoryObject["kind"], object>;
const SPECS = [vmSpec, folderSpec, poolSpec, datastoreSpec, hostSpec, networkSpec, computeSpec, datacenterSpec] as unknown as readonly AnySpec[];
const SPEC_BY_TYPE = new Map<string, AnySpec>(SPECS.flatMap((s) => s.types.map((t) => [t, s] as const)));

/** Property paths per vSphere type: only what the controllers use, to keep responses small (STYLE.md §2.5). */
export const INVENTORY_PROPERTIES: readonly PropertySpec[] = SPECS.flatMap((s) =>
  s.types
    // A distributed portgroup's key and switch; plain networks have only a name.
    .map((t) => ({ type: t, pathSet: t === "Network" || t === "OpaqueNetwork" ? ["name"] : Object.keys(s.props) })),
);

/** The types a ContainerView over the inventory must include (Network covers its subtypes). */
export const INVENTORY_VIEW_TYPES = ["VirtualMachine", "Folder", "ResourcePool", "Datastore", "HostSystem", "Network", "ComputeResource", "Datacenter"];

/** Builds the typed object for one retrieved object; undefined for types we do not follow. */
export function readInventoryObject(c: ObjectContent): InventoryObject | undefined {
  const spec = SPEC_BY_TYPE.get(c.obj.type);
  if (!spec) return undefined;
  const o = spec.empty(c.obj);
  for (const [path, set] of Object.entries(spec.props)) set(o, c.props.get(path));
  return { kind: spec.kind, info: o } as InventoryObject;
}

/** A new object for a WaitForUpdatesEx "enter" (all properties unset until the changes apply). */
export function emptyInventoryObject(ref: MoRef): InventoryObject | undefined {
  const spec = SPEC_BY_TYPE.get(ref.type);
  return spec ? ({ kind: spec.kind, info: spec.empty(ref) } as InventoryObject) : undefined;
}

/**
 * Applies property changes to a copy of `obj` (unknown property paths are ignored). Returns the
 * new object; `obj` is not modified.
 */
export function applyPropertyChanges(obj: InventoryObject, changes: readonly { name: string; val: XNode | undefined }[]): InventoryObject {
  const spec = SPEC_BY_TYPE.get(obj.info.ref.type);
  if (!spec) return obj;
  const info = { ...obj.info } as Mutable<object>;
  for (const c of changes) spec.props[c.name]?.(info, c.val);
  return { kind: obj.kind, info } as InventoryObject;
}

export function readDatacenter(c: ObjectContent): DatacenterInfo {
  const o = datacenterSpec.empty(c.obj);
  for (const [path, set] of Object.entries(datacenterSpec.props)) set(o, c.props.get(path));
  return o;
}
