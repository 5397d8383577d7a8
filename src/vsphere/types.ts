/** A managed object reference: the object's type and its id in this vCenter ("vm-42"). Never parse the id. */
export interface MoRef {
  readonly type: string;
  readonly value: string;
}

export const moref = (type: string, value: string): MoRef => ({ type, value });
export const sameRef = (a: MoRef | undefined, b: MoRef | undefined): boolean =>
  a !== undefined && b !== undefined && a.type === b.type && a.value === b.value;
export const refKey = (r: MoRef): string => `${r.type}:${r.value}`;

/** A pending question on a VM (e.g. "moved or copied?"). */
export interface VmQuestion {
  readonly id: string;
  readonly text: string;
  readonly choices: readonly { key: string; label: string }[];
  readonly defaultKey?: string;
}

export type PowerState = "poweredOn" | "poweredOff" | "suspended";
export type ConnectionState = "connected" | "disconnected" | "orphaned" | "inaccessible" | "invalid";

export interface VmInfo {
  readonly ref: MoRef;
  readonly name: string;
  readonly instanceUuid?: string;
  readonly biosUuid?: string;
  readonly parent?: MoRef;
  readonly resourcePool?: MoRef;
  readonly host?: MoRef;
  readonly powerState?: PowerState;
  readonly connectionState?: ConnectionState;
  readonly question?: VmQuestion;
  /** "[datastore] folder/name.vmx" */
  readonly vmPathName?: string;
  readonly datastores: readonly MoRef[];
  readonly networks: readonly MoRef[];
  readonly template: boolean;
  readonly numEthernetCards?: number;
  readonly numVirtualDisks?: number;
  readonly toolsRunningStatus?: string;
  readonly guestHeartbeat?: string;
  readonly guestIp?: string;
  /** config.guestId ("rhel9_64Guest", "windows2019srv_64Guest"): which customization identity applies. */
  readonly guestId?: string;
  /** guest.hostName, as VMware Tools report it. */
  readonly guestHostName?: string;
  /** guest.net: the NICs VMware Tools report, in device key order (empty while tools do not run). */
  readonly guestNics?: readonly GuestNic[];
  /** The default route of guest.ipStack: its gateway and the guest.net position of its NIC. */
  readonly guestGateway?: { readonly ip: string; readonly nic?: number };
  /** The DNS servers of guest.ipStack. */
  readonly guestDns?: readonly string[];
  /** config.tools.pendingCustomization is set: a CustomizeVM_Task waits for the next boot. */
  readonly pendingCustomization?: boolean;
  /** config.tools.afterPowerOn: VMware Tools run the guest's power-on scripts at a boot. */
  readonly toolsAfterPowerOn?: boolean;
  /** Its configured size (summary.config.numCpu, memorySizeMB) and reservations (MHz, MB). */
  readonly cpus?: number;
  readonly memoryMB?: number;
  readonly cpuReservationMhz?: number;
  readonly memoryReservationMB?: number;
}

/** One NIC as VMware Tools report it (GuestNicInfo). */
export interface GuestNic {
  /** The virtual device key (deviceConfigId). */
  readonly deviceKey?: number;
  readonly mac?: string;
  readonly network?: string;
  readonly connected: boolean;
  /** Its addresses, "ip/prefixLength" (IPv4 and IPv6). */
  readonly addresses: readonly string[];
  /** IPv4 by DHCP. */
  readonly dhcp?: boolean;
  /** This NIC's own DNS servers (GuestNicInfo.dnsConfig). */
  readonly dns?: readonly string[];
}

export interface FolderInfo {
  readonly ref: MoRef;
  readonly name: string;
  readonly parent?: MoRef;
  readonly childType: readonly string[];
}

export interface ResourcePoolInfo {
  readonly ref: MoRef;
  readonly name: string;
  readonly parent?: MoRef;
  /** The cluster or standalone host that owns the pool. */
  readonly owner?: MoRef;
}

export interface DatastoreInfo {
  readonly ref: MoRef;
  readonly name: string;
  readonly type?: string; // VMFS | NFS | NFS41 | vsan | ...
  readonly url?: string;
  readonly accessible: boolean;
  /** VMFS: the devices (canonical disk names, e.g. naa.600a0980…) of its extents. */
  readonly vmfsExtents: readonly string[];
  /** NFS: what it mounts. */
  readonly nas?: { readonly remoteHost: string; readonly remotePath: string };
  readonly hosts: readonly { readonly host: MoRef; readonly accessible: boolean; readonly mounted: boolean }[];
  readonly browser?: MoRef;
}

export interface HostInfo {
  readonly ref: MoRef;
  readonly name: string;
  readonly parent?: MoRef;
  readonly connectionState?: string;
  readonly inMaintenanceMode?: boolean;
  readonly storageSystem?: MoRef;
  readonly datastoreSystem?: MoRef;
  readonly advancedOption?: MoRef;
}

export interface NetworkInfo {
  readonly ref: MoRef;
  readonly name: string;
  /** DistributedVirtualPortgroup: its key and switch, needed for NIC backings. */
  readonly portgroupKey?: string;
  readonly dvSwitch?: MoRef;
}

export interface ComputeResourceInfo {
  readonly ref: MoRef;
  readonly name: string;
  readonly parent?: MoRef;
  readonly resourcePool?: MoRef;
  readonly hosts: readonly MoRef[];
  /** summary.effectiveCpu: MHz the cluster's good hosts offer VMs (all cores). */
  readonly effectiveCpuMhz?: number;
  /** summary.effectiveMemory: MB the cluster's good hosts offer VMs. */
  readonly effectiveMemoryMB?: number;
  /** summary.totalCpu and summary.numCpuCores: what one core is worth (totalCpu / cores). */
  readonly totalCpuMhz?: number;
  readonly cpuCores?: number;
}

export interface DatacenterInfo {
  readonly ref: MoRef;
  readonly name: string;
  readonly vmFolder?: MoRef;
  readonly hostFolder?: MoRef;
  readonly datastoreFolder?: MoRef;
  readonly networkFolder?: MoRef;
}

/** One object of the inventory the operator follows. */
export type InventoryObject =
  | { readonly kind: "VirtualMachine"; readonly info: VmInfo }
  | { readonly kind: "Folder"; readonly info: FolderInfo }
  | { readonly kind: "ResourcePool"; readonly info: ResourcePoolInfo }
  | { readonly kind: "Datastore"; readonly info: DatastoreInfo }
  | { readonly kind: "HostSystem"; readonly info: HostInfo }
  | { readonly kind: "Network"; readonly info: NetworkInfo }
  | { readonly kind: "ComputeResource"; readonly info: ComputeResourceInfo }
  | { readonly kind: "Datacenter"; readonly info: DatacenterInfo };

/** A running vCenter task. Persist it; never wait for it inside a reconcile. */
export interface TaskRef {
  readonly task: MoRef;
}

export type TaskStateName = "queued" | "running" | "success" | "error";
