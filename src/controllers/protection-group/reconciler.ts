import { ConditionType, FINALIZERS, ProtectionGroupType, isTrue } from "../../api/v1alpha1/index.js";
import type { ProtectionGroup, ProtectionGroupStatus, ReplicationRelationship, Site } from "../../api/v1alpha1/index.js";
import type { KubeStore } from "../../kube/store.js";
import { updateStatusIfChanged } from "../../kube/store.js";
import type { ObjectKey } from "../../kube/types.js";
import { PermanentError, WaitError, asOperatorError } from "../../runtime/errors.js";
import type { ReconcileContext, Reconciler } from "../../runtime/controller.js";
import type { EventRecorder } from "../../runtime/events.js";
import { done, requeueAfter } from "../../runtime/result.js";
import type { Result } from "../../runtime/result.js";
import type { SiteConnections } from "../../sites/connections.js";
import { InventoryIndex } from "../../sites/inventory-index.js";
import type { SiteInventories } from "../../sites/inventories.js";
import { jitter } from "../../util/backoff.js";
import type { Clock } from "../../util/clock.js";
import { refKey } from "../../vsphere/types.js";
import type { VmInfo } from "../../vsphere/types.js";
import { guestReport } from "../common/guest-nics.js";
import type { GuestRecord } from "../common/guest-nics.js";
import { vmSize } from "../../capacity/model.js";
import type { VmSize } from "../../capacity/model.js";
import { ConditionSetter, recordTransitions } from "../common/conditions.js";
import { ensureFinalizer, removeFinalizer } from "../common/finalizers.js";
import type { DatastoreResolver } from "./datastores.js";
import { alignmentProblems, members } from "./membership.js";
import type { OtherGroup } from "./membership.js";
import { ShadowRecordStore } from "./records.js";
import type { ShadowRecord } from "./records.js";
import { overlaps, shadowFolderPath, shadowSubtree } from "./shadow.js";
import { poolPathOf, removeCreatedPools, syncShadowInventory } from "./shadow-sync.js";
import { reconcileFailedOver } from "./failed-over.js";
import type { Placeholders } from "./placeholders.js";

export interface ProtectionGroupDeps {
  readonly kube: KubeStore;
  readonly clock: Clock;
  readonly events: EventRecorder;
  readonly connections: SiteConnections;
  readonly inventories: SiteInventories;
  readonly datastores: DatastoreResolver;
  readonly placeholders: Placeholders;
  readonly site: (name: string) => Site | undefined;
  readonly relationship: (namespace: string, name: string) => ReplicationRelationship | undefined;
  readonly groups: () => ProtectionGroup[];
  /** Slow safety resync; everything else is driven by events. */
  readonly resyncMs: number;
}

const MAX_PROBLEMS_IN_STATUS = 100;

/** What each group found on its last pass, for the others' alignment checks. */
interface GroupFacts extends OtherGroup {
  readonly recoverySite: string;
  readonly protectedSite: string;
  readonly subtree: string;
}

/**
 * ProtectionGroup: keeps the recovery site's shadow inventory in step with the protected site.
 *  1. Validate the references (Sites, relationships from protected to recovery site, a shadow
 *     subtree no other group uses); an invalid group gets a condition and nothing is created.
 *  2. From the Sites' inventory caches (event-driven) and ONTAP (cached): the members, the group's
 *     datastores, the alignment problems (reported, never fixed).
 *  3. Converge the shadow inventory: mirrored folder tree and resource pool; records per VM;
 *     optionally placeholders pre-registered from FlexClones (placeholders.ts).
 */
export class ProtectionGroupReconciler implements Reconciler {
  readonly name = "protectiongroup";
  private readonly stores = new Map<string, ShadowRecordStore>();
  private readonly facts = new Map<string, GroupFacts>();
  private readonly createdPools = new Map<string, string>();

  constructor(private readonly deps: ProtectionGroupDeps) {}

  async reconcile(ctx: ReconcileContext, key: ObjectKey): Promise<Result> {
    const { kube } = this.deps;
    const id = `${key.namespace}/${key.name}`;
    const pg = await kube.get(ProtectionGroupType, key, ctx.signal);
    if (!pg) {
      this.facts.delete(id);
      this.stores.delete(id);
      this.createdPools.delete(id);
      return done();
    }
    if (!pg.metadata.deletionTimestamp && (await ensureFinalizer(kube, ProtectionGroupType, pg, FINALIZERS.protectionGroup, ctx.signal))) return done();

    const status: ProtectionGroupStatus = structuredClone(pg.status ?? {});
    status.conditions ??= [];
    const cond = new ConditionSetter(status.conditions, pg.metadata.generation, this.deps.clock);
    // The object as last written: a pre-registration checkpoint mid-pass advances it, so the final
    // write stays conditional on what this pass itself wrote.
    let current = pg;
    const checkpoint = async (signal: AbortSignal): Promise<void> => {
      status.observedGeneration = pg.metadata.generation;
      current = (await updateStatusIfChanged(kube, ProtectionGroupType, current, status, signal)).object;
    };
    try {
      if (pg.metadata.deletionTimestamp) return await this.reconcileDelete(ctx, pg, status);
      return await this.reconcileNormal(ctx, pg, status, cond, checkpoint);
    } catch (err) {
      const e = asOperatorError(err);
      cond.set(ConditionType.Ready, false, e.reason, e.message);
      throw e;
    } finally {
      status.observedGeneration = pg.metadata.generation;
      const before = pg.status?.conditions;
      // The FailoverRun controller writes status.activeRun; never overwrite what we did not read.
      const { written } = await updateStatusIfChanged(kube, ProtectionGroupType, current, status, ctx.signal);
      if (written || current !== pg) {
        recordTransitions(this.deps.events, pg, before, status.conditions, [ConditionType.Ready, ConditionType.Aligned, ConditionType.ShadowInSync, ConditionType.ReplicationHealthy]);
      }
    }
  }

  private store(pg: ProtectionGroup): ShadowRecordStore {
    const id = `${pg.metadata.namespace}/${pg.metadata.name}`;
    let s = this.stores.get(id);
    if (!s) {
      s = new ShadowRecordStore(this.deps.kube);
      this.stores.set(id, s);
    }
    return s;
  }

  /** Checks every reference; throws PermanentError (reason InvalidSpec or …NotFound) on the first problem. */
  private validate(pg: ProtectionGroup): { protectedSite: Site; recoverySite: Site; relationships: ReplicationRelationship[]; subtree: string } {
    const ns = pg.metadata.namespace ?? "";
    const protectedSite = this.deps.site(pg.spec.protectedSiteRef);
    if (!protectedSite) throw new PermanentError(`protected Site "${pg.spec.protectedSiteRef}" does not exist`, "SiteNotFound");
    const recoverySite = this.deps.site(pg.spec.recoverySiteRef);
    if (!recoverySite) throw new PermanentError(`recovery Site "${pg.spec.recoverySiteRef}" does not exist`, "SiteNotFound");
    const relationships: ReplicationRelationship[] = [];
    for (const name of pg.spec.replicationRefs) {
      const rr = this.deps.relationship(ns, name);
      if (!rr) throw new PermanentError(`ReplicationRelationship ${ns}/${name} does not exist`, "RelationshipNotFound");
      if (rr.spec.source.siteRef !== pg.spec.protectedSiteRef || rr.spec.destination.siteRef !== pg.spec.recoverySiteRef) {
        throw new PermanentError(
          `ReplicationRelationship ${name} replicates ${rr.spec.source.siteRef} → ${rr.spec.destination.siteRef}, not ${pg.spec.protectedSiteRef} → ${pg.spec.recoverySiteRef}`,
          "InvalidSpec",
        );
      }
      relationships.push(rr);
    }
    const subtree = shadowSubtree(pg.spec.vms.folder, pg.spec.shadow);
    for (const other of this.deps.groups()) {
      if (other.metadata.uid === pg.metadata.uid || other.spec.recoverySiteRef !== pg.spec.recoverySiteRef) continue;
      const theirs = shadowSubtree(other.spec.vms.folder, other.spec.shadow);
      if (overlaps(subtree, theirs)) {
        throw new PermanentError(
          `shadow folder "${subtree}" overlaps "${theirs}" of ProtectionGroup ${other.metadata.namespace}/${other.metadata.name} at the same recovery site; give each group its own shadow root or folder`,
          "InvalidSpec",
        );
      }
    }
    return { protectedSite, recoverySite, relationships, subtree };
  }

  private async reconcileNormal(
    ctx: ReconcileContext,
    pg: ProtectionGroup,
    status: ProtectionGroupStatus,
    cond: ConditionSetter,
    checkpoint: (signal: AbortSignal) => Promise<void>,
  ): Promise<Result> {
    const id = `${pg.metadata.namespace}/${pg.metadata.name}`;
    const v = this.validate(pg);
    if (status.failover) {
      // Past a failover's point of no return: both sites belong to the runs of the sequence, and
      // what the group recorded while at home (volumes, networks, records) is what they use.
      reconcileFailedOver({ pg, status, cond, inventories: this.deps.inventories, records: await this.store(pg).load(pg, ctx.signal), events: this.deps.events });
      return requeueAfter(jitter(this.deps.resyncMs));
    }
    cond.remove(ConditionType.SplitBrain);

    // Replication health, rolled up from the group's relationships.
    const unhealthy = v.relationships.filter((r) => !isTrue(r.status?.conditions, ConditionType.Healthy)).map((r) => r.metadata.name);
    if (unhealthy.length === 0) cond.set(ConditionType.ReplicationHealthy, true, "Healthy", `${v.relationships.length} relationship(s) healthy`);
    else cond.set(ConditionType.ReplicationHealthy, false, "Unhealthy", `not healthy: ${unhealthy.join(", ")}`);

    const protWatch = this.deps.inventories.get(v.protectedSite.metadata.name);
    const recWatch = this.deps.inventories.get(v.recoverySite.metadata.name);
    if (!protWatch?.hasSynced() || !recWatch?.hasSynced()) {
      cond.set(ConditionType.ShadowInSync, "Unknown", "WaitingForInventory", "waiting for both Sites' vCenter inventories (are the Sites Ready?)");
      throw new WaitError("waiting for the Sites' inventories", "WaitingForInventory", 5_000);
    }
    const prot = new InventoryIndex(protWatch.objects());
    const rec = new InventoryIndex(recWatch.objects());

    // Membership, datastores, alignment.
    const volumes = v.relationships.map((r) => ({
      svm: r.spec.source.svm ?? this.deps.connections.controller(v.protectedSite, r.spec.source.controller).svm,
      volume: r.spec.source.volume,
      controller: r.spec.source.controller,
    }));
    const ds = await this.deps.datastores.resolve(v.protectedSite, volumes, prot, ctx.signal);
    const group = members(pg.spec.vms, prot);
    const memberUuids = new Set(group.map((m) => m.vm.instanceUuid ?? ""));
    this.facts.set(id, { id, datastores: ds.refs, members: memberUuids, recoverySite: v.recoverySite.metadata.name, protectedSite: v.protectedSite.metadata.name, subtree: v.subtree });
    const others = [...this.facts.values()].filter((f) => f.id !== id && f.protectedSite === v.protectedSite.metadata.name);
    const problems = alignmentProblems(group, ds.refs, prot, others);
    const previous = new Set((status.problems ?? []).map((p) => `${p.kind}/${p.subject}`));
    for (const p of problems.slice(0, MAX_PROBLEMS_IN_STATUS)) if (!previous.has(`${p.kind}/${p.subject}`)) this.deps.events.warning(pg, p.kind, p.message);
    status.problems = problems.length ? problems.slice(0, MAX_PROBLEMS_IN_STATUS) : undefined;
    status.datastores = [...ds.refs].map((k) => prot.datastores.get(k)?.name ?? k).sort();
    // Known even when the protected site is lost later: what each replica carries and how.
    status.volumes = v.relationships.map((r, i) => ({
      relationship: r.metadata.name,
      volume: volumes[i]!.volume,
      datastores: [...(ds.perVolume[i] ?? [])],
      protocol: ds.protocols[i] ?? "SAN",
    }));
    const nets = new Map<string, { name: string; portgroupKey?: string }>();
    for (const m of group) {
      for (const n of m.vm.networks) {
        const info = prot.networks.get(refKey(n));
        if (info && !nets.has(info.name)) nets.set(info.name, { name: info.name, ...(info.portgroupKey !== undefined ? { portgroupKey: info.portgroupKey } : {}) });
      }
    }
    status.protectedNetworks = nets.size ? [...nets.values()].sort((a, b) => a.name.localeCompare(b.name)) : undefined;
    const unmounted = volumes.filter((_, i) => (ds.perVolume[i] ?? []).length === 0).map((x) => x.volume);
    if (problems.length === 0 && unmounted.length === 0) cond.set(ConditionType.Aligned, true, "Aligned", `${group.length} VM(s) on ${ds.refs.size} datastore(s)`);
    else if (problems.length === 0) cond.set(ConditionType.Aligned, false, "DatastoreNotFound", `no datastore at the protected site carries volume(s) ${unmounted.join(", ")}`);
    else cond.set(ConditionType.Aligned, false, problems[0]!.kind, `${problems.length} problem(s); first: ${problems[0]!.message}`);

    // While a FailoverRun holds the group the recovery site is the run's: no shadow tidying, no
    // pre-registration, and the records stay as the run planned from them.
    if (status.activeRun) {
      const held = `FailoverRun ${status.activeRun.name} (${status.activeRun.type}) holds this group since ${status.activeRun.since}; the recovery site is left to it`;
      cond.set(ConditionType.ShadowInSync, "Unknown", "HeldByFailoverRun", held);
      cond.set(ConditionType.Ready, false, "HeldByFailoverRun", held);
      return requeueAfter(jitter(this.deps.resyncMs));
    }

    // Shadow inventory.
    const client = await this.deps.connections.vcenter(v.recoverySite, ctx.signal);
    const desired = new Set<string>([v.subtree]);
    const groupFolder = pg.spec.vms.folder?.replace(/^\/+|\/+$/g, "");
    if (groupFolder !== undefined) {
      for (const f of prot.folders.values()) {
        const p = prot.folderPath(f.ref);
        if (p !== undefined && (p === groupFolder || p.startsWith(`${groupFolder}/`))) desired.add(shadowFolderPath(p, groupFolder, pg.spec.shadow));
      }
    }
    for (const m of group) desired.add(shadowFolderPath(m.folderPath, groupFolder, pg.spec.shadow));
    const shadow = await syncShadowInventory({ pg, rec, client, subtree: v.subtree, desired, log: ctx.log, signal: ctx.signal });
    // Remembered until a status write has recorded it (a conflicted write must not forget it).
    if (shadow.createdPool !== undefined) this.createdPools.set(id, shadow.createdPool);
    status.createdPool ??= this.createdPools.get(id);
    const store = this.store(pg);
    const old = await store.load(pg, ctx.signal);
    const records = new Map<string, ShadowRecord>();
    const now = this.deps.clock.now();
    for (const m of group) {
      const uuid = m.vm.instanceUuid ?? "";
      const shadowFolder = shadowFolderPath(m.folderPath, pg.spec.vms.folder, pg.spec.shadow);
      const placeholder = rec.vmByInstanceUuid(uuid)?.ref.value;
      records.set(uuid, {
        name: m.vm.name,
        protectedFolder: m.folderPath,
        ...(prot.poolPath(m.vm.resourcePool) !== undefined ? { protectedPool: prot.poolPath(m.vm.resourcePool) } : {}),
        shadowFolder,
        resourcePool: pg.spec.shadow.resourcePool,
        vmx: m.vm.vmPathName,
        datastores: m.vm.datastores.map((d) => prot.datastores.get(refKey(d))?.name ?? d.value).sort(),
        shadowed: shadow.existing.has(shadowFolder),
        ...(placeholder ? { placeholder } : {}),
        ...guestRecord(m.vm, old.get(uuid)?.guest),
        ...sizeRecord(m.vm, old.get(uuid)?.size),
      });
    }
    // A VM gone from the protected site keeps its record (and placeholder) for the grace period.
    for (const [uuid, r] of old) {
      if (records.has(uuid)) continue;
      const removedAt = r.removedAt ?? new Date(now).toISOString();
      const placeholder = rec.vmByInstanceUuid(uuid)?.ref.value;
      if (placeholder || !r.removedAt) records.set(uuid, { ...r, removedAt, ...(placeholder ? { placeholder } : { placeholder: undefined }) });
    }
    const ph = await this.deps.placeholders.reconcile(ctx, { pg, status, rec, prot, recoverySite: v.recoverySite, relationships: v.relationships, records, now, checkpoint });
    await store.sync(pg, records, ctx.signal);

    const counts = {
      members: group.length,
      shadowed: [...records.values()].filter((r) => !r.removedAt && r.shadowed).length,
      placeholders: [...records.values()].filter((r) => !r.removedAt && r.placeholder).length,
      problems: problems.length,
    };
    status.counts = counts;
    const inSync = shadow.missing.length === 0 && counts.shadowed === counts.members && ph.inSync;
    if (inSync) cond.set(ConditionType.ShadowInSync, true, "InSync", `${counts.shadowed} VM(s) shadowed${pg.spec.shadow.preRegister ? `, ${counts.placeholders} placeholder(s)` : ""}`);
    else cond.set(ConditionType.ShadowInSync, false, ph.reason ?? "Converging", ph.message ?? `missing shadow folders: ${shadow.missing.join(", ") || "none"}`);
    const ready = inSync && isTrue(status.conditions, ConditionType.Aligned) && isTrue(status.conditions, ConditionType.ReplicationHealthy);
    cond.set(ConditionType.Ready, ready, ready ? "Ready" : "NotReady", ready ? "the recovery site is ready for this group" : "see the Aligned, ShadowInSync and ReplicationHealthy conditions");
    status.lastFullSyncTime = undefined;
    if (!inSync) return requeueAfter(ph.requeueAfterMs ?? 2_000);
    return requeueAfter(Math.min(ph.requeueAfterMs ?? Infinity, jitter(this.deps.resyncMs)));
  }

  private async reconcileDelete(ctx: ReconcileContext, pg: ProtectionGroup, status: ProtectionGroupStatus): Promise<Result> {
    if (status.activeRun) {
      throw new WaitError(`FailoverRun ${status.activeRun.name} holds this group; deletion waits for it`, "InUse", 10_000);
    }
    if ((pg.spec.shadow.deletionPolicy ?? "Retain") === "Remove") {
      const pending = await this.removeShadow(ctx, pg, status);
      if (pending) return pending;
    }
    this.facts.delete(`${pg.metadata.namespace}/${pg.metadata.name}`);
    this.deps.placeholders.forget(pg);
    await removeFinalizer(this.deps.kube, ProtectionGroupType, pg, FINALIZERS.protectionGroup, ctx.signal);
    ctx.log.info("Released ProtectionGroup");
    return done();
  }

  /**
   * deletionPolicy Remove: placeholders, then the group's shadow folders (empty ones, deepest
   * first), then the pools it created, one step per pass. Returns a requeue while work remains.
   * Waits for the recovery site's inventory (deletion is held, not skipped); only a recovery Site
   * that no longer exists lets the group go with its shadow objects left, said in an Event.
   */
  private async removeShadow(ctx: ReconcileContext, pg: ProtectionGroup, status: ProtectionGroupStatus): Promise<Result | undefined> {
    const recoverySite = this.deps.site(pg.spec.recoverySiteRef);
    if (!recoverySite) {
      this.deps.events.warning(pg, "ShadowLeftBehind", `recovery Site "${pg.spec.recoverySiteRef}" no longer exists; its shadow folders, pool and placeholders were not removed`);
      return undefined;
    }
    const watch = this.deps.inventories.get(recoverySite.metadata.name);
    if (!watch?.hasSynced()) {
      throw new WaitError(
        `deletionPolicy Remove waits for Site ${recoverySite.metadata.name}'s vCenter inventory to remove the shadow objects (set deletionPolicy Retain to release the group without them)`,
        "WaitingForInventory",
        5_000,
      );
    }
    const rec = new InventoryIndex(watch.objects());
    const records = await this.store(pg).load(pg, ctx.signal);
    if (await this.deps.placeholders.removeAll(ctx, { recoverySite, rec, records })) return requeueAfter(2_000);
    const client = await this.deps.connections.vcenter(recoverySite, ctx.signal);
    const folders = await syncShadowInventory({ pg, rec, client, subtree: shadowSubtree(pg.spec.vms.folder, pg.spec.shadow), desired: new Set(), log: ctx.log, signal: ctx.signal });
    if (folders.removing) return requeueAfter(2_000);
    if (status.createdPool === undefined) return undefined;
    const othersUse = this.deps
      .groups()
      .filter((o) => o.metadata.uid !== pg.metadata.uid && o.spec.recoverySiteRef === pg.spec.recoverySiteRef)
      .map(poolPathOf);
    const pools = await removeCreatedPools({ pg, rec, client, created: status.createdPool, othersUse, log: ctx.log, signal: ctx.signal });
    if (pools === "removing") return requeueAfter(2_000);
    if (pools !== "done") this.deps.events.normal(pg, "ShadowPoolKept", `resource pool(s) ${pools.kept.join(", ")} kept: not empty or used by another group`);
    return undefined;
  }
}

/** The VM's size as the protected site reports it (kept from the last report while its site does not answer). */
function sizeRecord(vm: VmInfo, previous: VmSize | undefined): { size?: VmSize } {
  const size = vmSize(vm) ?? previous;
  return size ? { size } : {};
}

/** What the guest reports while its tools run; what it reported last while they do not (a shut-down VM keeps its addresses). */
function guestRecord(vm: VmInfo, previous: GuestRecord | undefined): { guest?: GuestRecord } {
  const now = guestReport(vm) ?? previous;
  return now ? { guest: now } : {};
}
