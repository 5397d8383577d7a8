import type { Logger } from "../../log/logger.js";
import type { ProtectionGroup } from "../../api/v1alpha1/protection-group.js";
import type { InventoryIndex } from "../../sites/inventory-index.js";
import type { VcenterClient } from "../../vsphere/vcenter.js";
import type { MoRef } from "../../vsphere/types.js";

export interface ShadowSyncInput {
  readonly pg: ProtectionGroup;
  /** The recovery site's inventory. */
  readonly rec: InventoryIndex;
  readonly client: VcenterClient;
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

  if (i.desired.size > 0) await ensurePool(i);

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
  return { existing, missing, removing };
}

async function ensurePool(i: ShadowSyncInput): Promise<void> {
  const { rec, client, signal } = i;
  const compute = rec.compute(i.pg.spec.shadow.cluster);
  if (!compute?.resourcePool) throw new Error(`the recovery site has no cluster${i.pg.spec.shadow.cluster ? ` "${i.pg.spec.shadow.cluster}"` : ""}`);
  const want = i.pg.spec.shadow.resourcePool.replace(/^\/+|\/+$/g, "");
  const byPath = new Map<string, MoRef>();
  for (const p of rec.pools.values()) {
    if (p.owner?.value !== compute.ref.value && !(p.parent && p.parent.value === compute.ref.value)) continue;
    const path = rec.poolPath(p.ref);
    if (path !== undefined) byPath.set(path, p.ref);
  }
  if (byPath.has(want)) return;
  let parent: MoRef = compute.resourcePool;
  const parts = want.split("/");
  for (let d = 0; d < parts.length; d++) {
    const sub = parts.slice(0, d + 1).join("/");
    parent = byPath.get(sub) ?? (await client.createResourcePool(parent, parts[d] ?? "", signal));
  }
  i.log.info({ pool: want }, "Created shadow resource pool");
}
