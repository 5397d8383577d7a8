import type { Logger } from "../../log/logger.js";
import type { ProtectionGroup } from "../../api/v1alpha1/protection-group.js";
import type { InventoryIndex } from "../../sites/inventory-index.js";
import type { VsphereClient } from "../../vsphere/client.js";
import type { ComputeResourceInfo, MoRef } from "../../vsphere/types.js";

export interface ShadowSyncInput {
  readonly pg: ProtectionGroup;
  /** The recovery site's inventory. */
  readonly rec: InventoryIndex;
  readonly client: VsphereClient;
  /** The group's own subtree below the shadow root: the only place it creates or removes folders. */
  readonly subtree: string;
  /** Every folder path that should exist (the subtree, the mirrored tree, the members' folders). */
  readonly desired: ReadonlySet<string>;
  readonly log: Logger;
  readonly signal: AbortSignal;
}

export interface ShadowSyncResult {
  /** Desired folders that exist now. */
  readonly existing: Set<string>;
  /** Desired folders that could not be created (should be none). */
  readonly missing: string[];
  /** A stale folder is being removed. */
  readonly removing: boolean;
  /** The shallowest pool path this pass created, if it created any. */
  readonly createdPool?: string;
}

/**
 * Converges the recovery site's folders and resource pool for a group.
 *  1. Create each desired folder that is missing, starting from its deepest existing ancestor
 *     (creates are idempotent: an existing folder of the name is returned).
 *  2. Create the resource pool path below the recovery cluster's root pool.
 *  3. Remove at most one stale folder per pass: inside the group's subtree, not desired, and empty
 *     (no VMs, no child folders). A folder with anything in it stays, however stale.
 */
export async function syncShadowInventory(i: ShadowSyncInput): Promise<ShadowSyncResult> {
  const { rec, client, signal } = i;
  const vmFolder = rec.datacenter?.vmFolder ?? rec.vmFolder;
  if (!vmFolder) throw new Error("the recovery site's inventory has no vm folder");
  const known = new Map<string, MoRef>();
  for (const f of rec.folders.values()) {
    const p = rec.folderPath(f.ref);
    if (p !== undefined) known.set(p, f.ref);
  }
  known.set("", vmFolder);
  const existing = new Set<string>();
  const missing: string[] = [];
  for (const path of [...i.desired].sort((a, b) => a.split("/").length - b.split("/").length)) {
    if (known.has(path)) {
      existing.add(path);
      continue;
    }
    const parts = path.split("/");
    let depth = parts.length - 1;
    while (depth > 0 && !known.has(parts.slice(0, depth).join("/"))) depth--;
    let parent = known.get(parts.slice(0, depth).join("/")) ?? vmFolder;
    for (let d = depth; d < parts.length; d++) {
      parent = await client.createFolder(parent, parts[d] ?? "", signal);
      known.set(parts.slice(0, d + 1).join("/"), parent);
    }
    i.log.info({ folder: path }, "Created shadow folder");
    existing.add(path);
  }

  const createdPool = i.desired.size > 0 ? await ensurePool(i) : undefined;

  let removing = false;
  const stale = [...rec.folders.values()]
    .map((f) => ({ f, p: rec.folderPath(f.ref) }))
    .filter(({ p }) => p !== undefined && (p === i.subtree || p.startsWith(`${i.subtree}/`)) && !i.desired.has(p))
    .filter(({ f }) => rec.childFolders(f.ref).length === 0 && rec.vmsIn(f.ref).length === 0)
    .sort((a, b) => (b.p ?? "").length - (a.p ?? "").length);
  const victim = stale[0];
  if (victim) {
    await client.destroy(victim.f.ref, signal);
    i.log.info({ folder: victim.p }, "Removing empty shadow folder");
    removing = true;
  }
  for (const p of i.desired) if (!existing.has(p)) missing.push(p);
  return { existing, missing, removing, ...(createdPool !== undefined ? { createdPool } : {}) };
}

/** Creates the group's pool path where missing; returns the shallowest path it created. */
async function ensurePool(i: ShadowSyncInput): Promise<string | undefined> {
  const { rec, client, signal } = i;
  const compute = clusterOf(i);
  const want = poolPathOf(i.pg);
  const byPath = poolsByPath(rec, compute);
  if (byPath.has(want)) return undefined;
  let parent: MoRef = compute.resourcePool;
  let created: string | undefined;
  const parts = want.split("/");
  for (let d = 0; d < parts.length; d++) {
    const sub = parts.slice(0, d + 1).join("/");
    const found = byPath.get(sub);
    if (found) parent = found;
    else {
      parent = await client.createResourcePool(parent, parts[d] ?? "", signal);
      created ??= sub;
    }
  }
  i.log.info({ pool: want }, "Created shadow resource pool");
  return created;
}

export interface PoolRemovalInput {
  readonly pg: ProtectionGroup;
  readonly rec: InventoryIndex;
  readonly client: VsphereClient;
  /** status.createdPool: the pool path this group created. */
  readonly created: string;
  /** Pool paths other groups at the same recovery site use; they and their ancestors stay. */
  readonly othersUse: readonly string[];
  readonly log: Logger;
  readonly signal: AbortSignal;
}

/**
 * deletionPolicy Remove: removes the pools this group created (from status.createdPool down to
 * its own pool), one per pass, deepest first, and only an empty one (no VMs, no child pools) that
 * no other group uses. vCenter's Destroy of a pool
 * with contents would move them to the parent; we never do that. Returns what it did.
 */
export async function removeCreatedPools(i: PoolRemovalInput): Promise<"removing" | "done" | { kept: string[] }> {
  const { rec } = i;
  const compute = clusterOf(i);
  const byPath = poolsByPath(rec, compute);
  // What it created: the chain from status.createdPool down to its own pool, nothing beside it.
  const own = poolPathOf(i.pg);
  const ours = [...byPath.entries()]
    .filter(([p]) => (p === i.created || p.startsWith(`${i.created}/`)) && (own === p || own.startsWith(`${p}/`)))
    .sort((a, b) => b[0].split("/").length - a[0].split("/").length);
  if (ours.length === 0) return "done";
  const inUse = (p: string): boolean => i.othersUse.some((o) => o === p || o.startsWith(`${p}/`));
  const children = (ref: MoRef): number => [...rec.pools.values()].filter((c) => c.parent?.type === "ResourcePool" && c.parent.value === ref.value).length;
  const vms = (ref: MoRef): number => rec.vms.filter((v) => v.resourcePool?.value === ref.value).length;
  const victim = ours.find(([p, ref]) => !inUse(p) && children(ref) === 0 && vms(ref) === 0);
  if (!victim) return { kept: ours.map(([p]) => p) };
  await i.client.destroy(victim[1], i.signal);
  i.log.info({ pool: victim[0] }, "Removing shadow resource pool");
  return "removing";
}

function clusterOf(i: { pg: ProtectionGroup; rec: InventoryIndex }): ComputeResourceInfo & { resourcePool: MoRef } {
  const compute = i.rec.compute(i.pg.spec.shadow.cluster);
  if (!compute?.resourcePool) throw new Error(`the recovery site has no cluster${i.pg.spec.shadow.cluster ? ` "${i.pg.spec.shadow.cluster}"` : ""}`);
  return compute as ComputeResourceInfo & { resourcePool: MoRef };
}

/** The group's pool path below the cluster's root pool, without leading or trailing slashes. */
export function poolPathOf(pg: ProtectionGroup): string {
  return pg.spec.shadow.resourcePool.replace(/^\/+|\/+$/g, "");
}

function poolsByPath(rec: InventoryIndex, compute: ComputeResourceInfo): Map<string, MoRef> {
  const byPath = new Map<string, MoRef>();
  for (const p of rec.pools.values()) {
    if (p.owner?.value !== compute.ref.value && !(p.parent && p.parent.value === compute.ref.value)) continue;
    const path = rec.poolPath(p.ref);
    if (path !== undefined) byPath.set(path, p.ref);
  }
  return byPath;
}
