import { createHash } from "node:crypto";
import { GROUP } from "../../api/v1alpha1/meta.js";
import type { ProtectionGroup } from "../../api/v1alpha1/protection-group.js";
import { isAlreadyExists, isNotFound } from "../../kube/errors.js";
import type { KubeStore } from "../../kube/store.js";
import type { KubeObject, ResourceType } from "../../kube/types.js";
import type { GuestRecord } from "../common/guest-nics.js";
import type { VmSize } from "../../capacity/model.js";
import { jsonEqual } from "../../util/equal.js";

/** Where one protected VM will land at the recovery site, kept for the failover and for people. */
export interface ShadowRecord {
  readonly name: string;
  /** Folder path at the protected site. */
  readonly protectedFolder: string;
  /** Resource pool path below the protected cluster's root pool ("" for the root pool). */
  readonly protectedPool?: string;
  /** Folder path at the recovery site. */
  readonly shadowFolder: string;
  readonly resourcePool: string;
  /** "[datastore] dir/name.vmx" at the protected site. */
  readonly vmx?: string;
  readonly datastores: readonly string[];
  /** The shadow folder exists at the recovery site. */
  readonly shadowed: boolean;
  /** The pre-registered placeholder at the recovery site (managed object id), if any. */
  readonly placeholder?: string;
  /**
   * The guest's network settings as VMware Tools last reported them at the protected site (kept
   * while the VM is off or its site unreachable): what a disaster failover re-addresses from.
   */
  readonly guest?: GuestRecord;
  /** Its configured size and reservations at the protected site: what a run's capacity pre-flight counts. */
  readonly size?: VmSize;
  /** When the VM was seen gone at the protected site (its placeholder goes after the grace period). */
  readonly removedAt?: string;
}

export type ConfigMap = KubeObject & { data?: Record<string, string> };
export const ConfigMapType: ResourceType<ConfigMap> = { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true };

export const SHARDS = 16;
export const GROUP_LABEL = `${GROUP}/protection-group`;

/** The shard of a record: by a hash of its key, so shards fill evenly whatever the UUIDs look like. */
export function shardOf(uuid: string): number {
  return (createHash("sha256").update(uuid).digest()[0] ?? 0) % SHARDS;
}

export const shardName = (group: string, i: number): string => `${group}-shadow-${i.toString(16)}`;

/**
 * A group's shadow records, keyed by instance UUID, in ConfigMaps owned by the group (so they are
 * garbage-collected with it) and sharded 16 ways: 10,000 records stay far below the 1 MiB object
 * limit, and a change writes only the keys that changed (JSON merge patch per shard).
 */
export class ShadowRecordStore {
  private written = new Map<string, ShadowRecord>();
  private loadedFor: string | undefined;

  constructor(private readonly kube: KubeStore) {}

  /** The records as last written (read from the API once per group uid). */
  async load(pg: ProtectionGroup, signal: AbortSignal): Promise<ReadonlyMap<string, ShadowRecord>> {
    if (this.loadedFor === pg.metadata.uid) return this.written;
    const list = await this.kube.list(ConfigMapType, { namespace: pg.metadata.namespace, labelSelector: `${GROUP_LABEL}=${pg.metadata.name}` }, signal);
    const m = new Map<string, ShadowRecord>();
    for (const cm of list.items) {
      for (const [k, v] of Object.entries(cm.data ?? {})) {
        try {
          m.set(k, JSON.parse(v) as ShadowRecord);
        } catch {
          /* a corrupt entry is rewritten by the next sync */
        }
      }
    }
    this.written = m;
    this.loadedFor = pg.metadata.uid;
    return m;
  }

  /** Writes what differs from `desired`; returns the number of records changed. */
  async sync(pg: ProtectionGroup, desired: ReadonlyMap<string, ShadowRecord>, signal: AbortSignal): Promise<number> {
    const current = await this.load(pg, signal);
    const patches = new Map<number, Record<string, string | null>>();
    const put = (uuid: string, v: string | null): void => {
      const i = shardOf(uuid);
      const p = patches.get(i) ?? {};
      p[uuid] = v;
      patches.set(i, p);
    };
    for (const [uuid, r] of desired) if (!jsonEqual(current.get(uuid), r)) put(uuid, JSON.stringify(r));
    for (const uuid of current.keys()) if (!desired.has(uuid)) put(uuid, null);
    let changed = 0;
    for (const [i, data] of patches) {
      await this.patchShard(pg, i, data, signal);
      for (const [uuid, v] of Object.entries(data)) {
        changed++;
        if (v === null) this.written.delete(uuid);
        else this.written.set(uuid, JSON.parse(v) as ShadowRecord);
      }
    }
    return changed;
  }

  private async patchShard(pg: ProtectionGroup, i: number, data: Record<string, string | null>, signal: AbortSignal): Promise<void> {
    const key = { namespace: pg.metadata.namespace, name: shardName(pg.metadata.name, i) };
    try {
      await this.kube.mergePatch(ConfigMapType, key, { data }, signal);
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const fresh = Object.fromEntries(Object.entries(data).filter((e): e is [string, string] => e[1] !== null));
    try {
      await this.kube.create(
        ConfigMapType,
        {
          metadata: {
            ...key,
            name: key.name,
            labels: { [GROUP_LABEL]: pg.metadata.name },
            ownerReferences: [{ apiVersion: `${GROUP}/v1alpha1`, kind: "ProtectionGroup", name: pg.metadata.name, uid: pg.metadata.uid ?? "", controller: true, blockOwnerDeletion: false }],
          },
          data: fresh,
        },
        signal,
      );
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await this.kube.mergePatch(ConfigMapType, key, { data }, signal);
    }
  }
}
