import { boolAt, child, childrenNamed, numberAt, textAt } from "./soap/xml.js";
import type { XNode } from "./soap/xml.js";
import { readRef, readRefs } from "./property-collector.js";
import type { ObjectContent, PropertySpec } from "./property-collector.js";
import type {
  ComputeResourceInfo, ConnectionState, DatacenterInfo, DatastoreInfo, FolderInfo, HostInfo, InventoryObject, MoRef, NetworkInfo,
  PowerState, ResourcePoolInfo, VmInfo, VmQuestion,
} from "./types.js";

/**
 * The properties the operator follows, per type: only what the controllers use, so a 10,000-VM
 * inventory stays small on the wire (STYLE.md §2.5).
 */
export const INVENTORY_PROPERTIES: readonly PropertySpec[] = [
  {
    type: "VirtualMachine",
    pathSet: [
      "name", "parent", "resourcePool", "runtime.host", "runtime.powerState", "runtime.connectionState", "runtime.question",
      "config.instanceUuid", "config.uuid", "config.template", "config.files.vmPathName", "datastore", "network",
      "summary.config.numEthernetCards", "summary.config.numVirtualDisks", "guest.toolsRunningStatus", "guest.guestState",
      "summary.quickStats.guestHeartbeatStatus", "guest.ipAddress",
    ],
  },
  { type: "Folder", pathSet: ["name", "parent", "childType"] },
  { type: "ResourcePool", pathSet: ["name", "parent", "owner"] },
  { type: "Datastore", pathSet: ["name", "summary.type", "summary.url", "summary.accessible", "info", "host", "browser"] },
  {
    type: "HostSystem",
    pathSet: [
      "name", "parent", "runtime.connectionState", "runtime.inMaintenanceMode", "configManager.storageSystem",
      "configManager.datastoreSystem", "configManager.advancedOption",
    ],
  },
  { type: "Network", pathSet: ["name"] },
  { type: "DistributedVirtualPortgroup", pathSet: ["name", "key", "config.distributedVirtualSwitch"] },
  { type: "ComputeResource", pathSet: ["name", "parent", "resourcePool", "host"] },
  { type: "ClusterComputeResource", pathSet: ["name", "parent", "resourcePool", "host"] },
  { type: "Datacenter", pathSet: ["name", "vmFolder", "hostFolder", "datastoreFolder", "networkFolder"] },
];

/** The types a ContainerView over the inventory must include (Network covers DistributedVirtualPortgroup). */
export const INVENTORY_VIEW_TYPES = ["VirtualMachine", "Folder", "ResourcePool", "Datastore", "HostSystem", "Network", "ComputeResource", "Datacenter"];

const str = (props: ReadonlyMap<string, XNode>, p: string): string | undefined => props.get(p)?.text || undefined;
const bool = (props: ReadonlyMap<string, XNode>, p: string): boolean | undefined => {
  const t = props.get(p)?.text;
  return t === undefined ? undefined : t === "true";
};
const num = (props: ReadonlyMap<string, XNode>, p: string): number | undefined => {
  const t = props.get(p)?.text;
  return t === undefined || t === "" ? undefined : Number(t);
};
const refOf = (props: ReadonlyMap<string, XNode>, p: string): MoRef | undefined => {
  const v = props.get(p);
  return v ? readRef(v) : undefined;
};

function readQuestion(n: XNode | undefined): VmQuestion | undefined {
  if (!n || n.children.length === 0) return undefined;
  const id = textAt(n, "id");
  if (!id) return undefined;
  const choice = child(n, "choice");
  const choices = childrenNamed(choice, "choiceInfo").map((c) => ({ key: textAt(c, "key") ?? "", label: textAt(c, "label") ?? textAt(c, "summary") ?? "" }));
  const defaultIndex = numberAt(choice, "defaultIndex");
  return { id, text: textAt(n, "text") ?? "", choices, defaultKey: defaultIndex !== undefined ? choices[defaultIndex]?.key : undefined };
}

export function readVm(c: ObjectContent): VmInfo {
  const p = c.props;
  return {
    ref: c.obj,
    name: str(p, "name") ?? "",
    instanceUuid: str(p, "config.instanceUuid"),
    biosUuid: str(p, "config.uuid"),
    parent: refOf(p, "parent"),
    resourcePool: refOf(p, "resourcePool"),
    host: refOf(p, "runtime.host"),
    powerState: str(p, "runtime.powerState") as PowerState | undefined,
    connectionState: str(p, "runtime.connectionState") as ConnectionState | undefined,
    question: readQuestion(p.get("runtime.question")),
    vmPathName: str(p, "config.files.vmPathName"),
    datastores: readRefs(p.get("datastore")),
    networks: readRefs(p.get("network")),
    template: bool(p, "config.template") ?? false,
    numEthernetCards: num(p, "summary.config.numEthernetCards"),
    numVirtualDisks: num(p, "summary.config.numVirtualDisks"),
    toolsRunningStatus: str(p, "guest.toolsRunningStatus"),
    guestHeartbeat: str(p, "summary.quickStats.guestHeartbeatStatus"),
    guestIp: str(p, "guest.ipAddress"),
  };
}

export function readFolder(c: ObjectContent): FolderInfo {
  return {
    ref: c.obj,
    name: str(c.props, "name") ?? "",
    parent: refOf(c.props, "parent"),
    childType: (c.props.get("childType")?.children ?? []).map((n) => n.text),
  };
}

export function readResourcePool(c: ObjectContent): ResourcePoolInfo {
  return { ref: c.obj, name: str(c.props, "name") ?? "", parent: refOf(c.props, "parent"), owner: refOf(c.props, "owner") };
}

export function readDatastore(c: ObjectContent): DatastoreInfo {
  const info = c.props.get("info");
  const vmfs = child(info, "vmfs");
  const nas = child(info, "nas");
  return {
    ref: c.obj,
    name: str(c.props, "name") ?? "",
    type: str(c.props, "summary.type"),
    url: str(c.props, "summary.url"),
    accessible: bool(c.props, "summary.accessible") ?? true,
    vmfsExtents: childrenNamed(vmfs, "extent").map((e) => textAt(e, "diskName") ?? "").filter(Boolean),
    nas: nas ? { remoteHost: textAt(nas, "remoteHost") ?? "", remotePath: textAt(nas, "remotePath") ?? "" } : undefined,
    hosts: (c.props.get("host")?.children ?? []).map((m) => ({
      host: readRef(child(m, "key")) ?? { type: "HostSystem", value: "" },
      accessible: boolAt(m, "mountInfo.accessible") ?? true,
      mounted: boolAt(m, "mountInfo.mounted") ?? true,
    })),
    browser: refOf(c.props, "browser"),
  };
}

export function readHost(c: ObjectContent): HostInfo {
  return {
    ref: c.obj,
    name: str(c.props, "name") ?? "",
    parent: refOf(c.props, "parent"),
    connectionState: str(c.props, "runtime.connectionState"),
    inMaintenanceMode: bool(c.props, "runtime.inMaintenanceMode"),
    storageSystem: refOf(c.props, "configManager.storageSystem"),
    datastoreSystem: refOf(c.props, "configManager.datastoreSystem"),
    advancedOption: refOf(c.props, "configManager.advancedOption"),
  };
}

export function readNetwork(c: ObjectContent): NetworkInfo {
  return { ref: c.obj, name: str(c.props, "name") ?? "", portgroupKey: str(c.props, "key"), dvSwitch: refOf(c.props, "config.distributedVirtualSwitch") };
}

export function readComputeResource(c: ObjectContent): ComputeResourceInfo {
  return { ref: c.obj, name: str(c.props, "name") ?? "", parent: refOf(c.props, "parent"), resourcePool: refOf(c.props, "resourcePool"), hosts: readRefs(c.props.get("host")) };
}

export function readDatacenter(c: ObjectContent): DatacenterInfo {
  return {
    ref: c.obj,
    name: str(c.props, "name") ?? "",
    vmFolder: refOf(c.props, "vmFolder"),
    hostFolder: refOf(c.props, "hostFolder"),
    datastoreFolder: refOf(c.props, "datastoreFolder"),
    networkFolder: refOf(c.props, "networkFolder"),
  };
}

/** Turns one object's properties into the typed inventory object for its type; undefined for types we do not follow. */
export function readInventoryObject(c: ObjectContent): InventoryObject | undefined {
  switch (c.obj.type) {
    case "VirtualMachine":
      return { kind: "VirtualMachine", info: readVm(c) };
    case "Folder":
      return { kind: "Folder", info: readFolder(c) };
    case "ResourcePool":
    case "VirtualApp":
      return { kind: "ResourcePool", info: readResourcePool(c) };
    case "Datastore":
      return { kind: "Datastore", info: readDatastore(c) };
    case "HostSystem":
      return { kind: "HostSystem", info: readHost(c) };
    case "Network":
    case "DistributedVirtualPortgroup":
    case "OpaqueNetwork":
      return { kind: "Network", info: readNetwork(c) };
    case "ComputeResource":
    case "ClusterComputeResource":
      return { kind: "ComputeResource", info: readComputeResource(c) };
    case "Datacenter":
      return { kind: "Datacenter", info: readDatacenter(c) };
    default:
      return undefined;
  }
}
