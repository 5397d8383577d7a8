import type { Site } from "../../api/v1alpha1/site.js";
import type { SiteConnections } from "../../sites/connections.js";
import type { InventoryIndex } from "../../sites/inventory-index.js";
import type { Clock } from "../../util/clock.js";
import { refKey } from "../../vsphere/types.js";

/** What a volume carries, as ONTAP says: LUN devices (VMFS) or an export path (NFS). */
export interface VolumeBacking {
  readonly naas: readonly string[];
  readonly exportPath?: string;
}

/** NetApp's NAA name of a LUN: the vendor prefix and the hex of its 12-character serial number. */
export function naaOfSerial(serial: string): string {
  return `naa.600a0980${Buffer.from(serial, "utf8").toString("hex")}`;
}

export interface ResolvedDatastores {
  /** Datastore ref keys carried by the volumes. */
  readonly refs: Set<string>;
  /** Per volume (in the order given), the names of the datastores it carries (empty: not mounted at this site). */
  readonly perVolume: readonly (readonly string[])[];
  /** Per volume (in the order given), how it is presented: LUNs (VMFS) or an NFS export. */
  readonly protocols: readonly ("SAN" | "NFS")[];
}

/**
 * Maps a group's volumes to the datastores they carry at a site, through ONTAP (volume → LUN serial
 * → NAA device, or → junction path) and the vCenter inventory (datastore extent device, or NFS
 * remote path). No name guessing. ONTAP answers are cached for `ttlMs` (volumes do not change
 * their LUNs or junction often), so reconciling on every inventory event costs no ONTAP calls.
 */
export class DatastoreResolver {
  private readonly cache = new Map<string, { at: number; backing: VolumeBacking }>();

  constructor(
    private readonly connections: SiteConnections,
    private readonly clock: Clock,
    private readonly ttlMs = 10 * 60_000,
  ) {}

  async backing(site: Site, svm: string, volume: string, controller: string | undefined, signal: AbortSignal): Promise<VolumeBacking> {
    const key = `${site.metadata.name}/${controller ?? ""}/${svm}/${volume}`;
    const hit = this.cache.get(key);
    if (hit && this.clock.now() - hit.at < this.ttlMs) return hit.backing;
    const ontap = this.connections.ontapClient(site, controller);
    const [vol, luns] = await Promise.all([ontap.getVolume({ svm, name: volume }, signal), ontap.listLuns({ svm, name: volume }, signal)]);
    const backing: VolumeBacking = { naas: luns.map((l) => naaOfSerial(l.serialNumber)), exportPath: vol?.nasPath };
    this.cache.set(key, { at: this.clock.now(), backing });
    return backing;
  }

  /** Forget cached answers (a relationship or Site changed). */
  invalidate(): void {
    this.cache.clear();
  }

  async resolve(
    site: Site,
    volumes: readonly { svm: string; volume: string; controller?: string }[],
    inv: InventoryIndex,
    signal: AbortSignal,
  ): Promise<ResolvedDatastores> {
    const refs = new Set<string>();
    const perVolume: string[][] = [];
    const protocols: ("SAN" | "NFS")[] = [];
    for (const v of volumes) {
      const b = await this.backing(site, v.svm, v.volume, v.controller, signal);
      protocols.push(b.naas.length === 0 && b.exportPath ? "NFS" : "SAN");
      const found = new Set<string>();
      for (const naa of b.naas) {
        const ds = inv.datastoreByDevice(naa);
        if (ds) {
          refs.add(refKey(ds.ref));
          found.add(ds.name);
        }
      }
      if (b.exportPath) {
        const ds = inv.datastoreByExport(b.exportPath);
        if (ds) {
          refs.add(refKey(ds.ref));
          found.add(ds.name);
        }
      }
      perVolume.push([...found].sort());
    }
    return { refs, perVolume, protocols };
  }
}
