import { refKey } from "../vsphere/types.js";
import type {
  ComputeResourceInfo, DatacenterInfo, DatastoreInfo, FolderInfo, HostInfo, InventoryObject, MoRef, NetworkInfo, ResourcePoolInfo, VmInfo,
} from "../vsphere/types.js";

/**
 * A point-in-time view of one vCenter datacenter's inventory (from its watcher's cache) with the
 * lookups the controllers need: inventory paths of folders and pools, VMs by instance UUID,
 * datastores by name and by device. Built per reconcile pass; O(n) to build, O(1)/O(depth) to query.
 */
export class InventoryIndex {
  readonly vms: VmInfo[] = [];
  readonly folders = new Map<string, FolderInfo>();
  readonly pools = new Map<string, ResourcePoolInfo>();
  readonly datastores = new Map<string, DatastoreInfo>();
  readonly hosts = new Map<string, HostInfo>();
  readonly networks = new Map<string, NetworkInfo>();
  readonly computes = new Map<string, ComputeResourceInfo>();
  datacenter: DatacenterInfo | undefined;
  /** The datacenter's vm folder (found by shape: a view over a datacenter does not contain it). */
  vmFolder: MoRef | undefined;
  private readonly vmByUuid = new Map<string, VmInfo>();
  private readonly vmByRef = new Map<string, VmInfo>();
  private vmsByPath: Map<string, VmInfo[]> | undefined;
  private readonly folderPaths = new Map<string, string | undefined>();

  constructor(objects: Iterable<InventoryObject>) {
    for (const o of objects) {
      const k = refKey(o.info.ref);
      switch (o.kind) {
        case "VirtualMachine":
          this.vms.push(o.info);
          this.vmByRef.set(o.info.ref.value, o.info);
          if (o.info.instanceUuid) this.vmByUuid.set(o.info.instanceUuid, o.info);
          break;
        case "Folder":
          this.folders.set(k, o.info);
          if (o.info.parent?.type === "Datacenter" && o.info.name === "vm") this.vmFolder = o.info.ref;
          break;
        case "ResourcePool":
          this.pools.set(k, o.info);
          break;
        case "Datastore":
          this.datastores.set(k, o.info);
          break;
        case "HostSystem":
          this.hosts.set(k, o.info);
          break;
        case "Network":
          this.networks.set(k, o.info);
          break;
        case "ComputeResource":
          this.computes.set(k, o.info);
          break;
        case "Datacenter":
          this.datacenter = o.info;
          break;
      }
    }
  }

  vmByInstanceUuid(uuid: string): VmInfo | undefined {
    return this.vmByUuid.get(uuid);
  }

  /** The VM with this managed object id ("vm-123"). */
  vm(id: string): VmInfo | undefined {
    return this.vmByRef.get(id);
  }

  /** The VMs registered from this .vmx (usually one). */
  vmsAt(vmPathName: string): readonly VmInfo[] {
    if (!this.vmsByPath) {
      this.vmsByPath = new Map();
      for (const v of this.vms) if (v.vmPathName) this.vmsByPath.set(v.vmPathName, [...(this.vmsByPath.get(v.vmPathName) ?? []), v]);
    }
    return this.vmsByPath.get(vmPathName) ?? [];
  }

  /**
   * The path of a folder below the datacenter's vm folder ("Protection Group 1/Database"; "" for
   * the vm folder itself); undefined for folders outside it (host, datastore, network trees).
   */
  folderPath(ref: MoRef | undefined): string | undefined {
    if (!ref) return undefined;
    const k = refKey(ref);
    if (this.folderPaths.has(k)) return this.folderPaths.get(k);
    let path: string | undefined;
    const vmFolder = this.datacenter?.vmFolder ?? this.vmFolder;
    if (vmFolder && refKey(vmFolder) === k) path = "";
    else {
      const f = this.folders.get(k);
      const parent = f ? this.folderPath(f.parent) : undefined;
      path = f && parent !== undefined ? (parent === "" ? f.name : `${parent}/${f.name}`) : undefined;
    }
    this.folderPaths.set(k, path);
    return path;
  }

  /** The folder at a path below the vm folder. */
  folderByPath(path: string): FolderInfo | undefined {
    for (const f of this.folders.values()) if (this.folderPath(f.ref) === path) return f;
    return undefined;
  }

  /** Direct child folders of a folder. */
  childFolders(ref: MoRef): FolderInfo[] {
    const k = refKey(ref);
    return [...this.folders.values()].filter((f) => f.parent && refKey(f.parent) === k);
  }

  /** VMs whose parent is the folder. */
  vmsIn(ref: MoRef): VmInfo[] {
    const k = refKey(ref);
    return this.vms.filter((v) => v.parent && refKey(v.parent) === k);
  }

  /** A resource pool's path below its cluster's root pool ("" for the root pool itself). */
  poolPath(ref: MoRef | undefined): string | undefined {
    if (!ref) return undefined;
    const p = this.pools.get(refKey(ref));
    if (!p) return undefined;
    if (!p.parent || p.parent.type !== "ResourcePool") return "";
    const parent = this.poolPath(p.parent);
    return parent === undefined ? undefined : parent === "" ? p.name : `${parent}/${p.name}`;
  }

  /** The compute cluster by name, or the first one. */
  compute(name?: string): ComputeResourceInfo | undefined {
    const all = [...this.computes.values()];
    return name ? all.find((c) => c.name === name) : all.sort((a, b) => a.name.localeCompare(b.name))[0];
  }

  datastoreByName(name: string): DatastoreInfo | undefined {
    for (const d of this.datastores.values()) if (d.name === name) return d;
    return undefined;
  }

  datastoreOf(ref: MoRef): DatastoreInfo | undefined {
    return this.datastores.get(refKey(ref));
  }

  /** The VMFS datastore on a device (canonical name, e.g. naa.600a0980…). */
  datastoreByDevice(naa: string): DatastoreInfo | undefined {
    for (const d of this.datastores.values()) if (d.vmfsExtents.includes(naa)) return d;
    return undefined;
  }

  /** The NFS datastore mounting an export path (any server). */
  datastoreByExport(path: string): DatastoreInfo | undefined {
    for (const d of this.datastores.values()) if (d.nas?.remotePath === path) return d;
    return undefined;
  }
}
