import type { ProtectionGroup, ProtectionGroupStatus } from "../../api/v1alpha1/protection-group.js";
import type { ReplicationRelationship } from "../../api/v1alpha1/replication-relationship.js";
import type { Site } from "../../api/v1alpha1/site.js";
import { isJobRef } from "../../ontap/jobs.js";
import type { OntapClient } from "../../ontap/client.js";
import type { ReconcileContext } from "../../runtime/controller.js";
import type { EventRecorder } from "../../runtime/events.js";
import type { SiteConnections } from "../../sites/connections.js";
import type { InventoryIndex } from "../../sites/inventory-index.js";
import { rfc3339 } from "../../util/clock.js";
import type { Clock } from "../../util/clock.js";
import { parseDuration } from "../../util/duration.js";
import { isFault } from "../../vsphere/errors.js";
import { readSearchResults } from "../../vsphere/tasks.js";
import { refKey } from "../../vsphere/types.js";
import type { MoRef } from "../../vsphere/types.js";
import type { VsphereClient } from "../../vsphere/client.js";
import { naaOfSerial } from "./datastores.js";
import type { ShadowRecord } from "./records.js";

export interface PlaceholderInput {
  readonly pg: ProtectionGroup;
  readonly status: ProtectionGroupStatus;
  readonly rec: InventoryIndex;
  readonly prot: InventoryIndex;
  readonly recoverySite: Site;
  readonly relationships: readonly ReplicationRelationship[];
  /** The group's records; placeholder fields are updated in place. */
  readonly records: Map<string, ShadowRecord>;
  readonly now: number;
}

export interface PlaceholderOutcome {
  readonly inSync: boolean;
  readonly reason?: string;
  readonly message?: string;
  readonly requeueAfterMs?: number;
}

const POLL_MS = 2_000;
const MAX_REGISTRATIONS_PER_PASS = 200;
const RETRY_FAILED_BATCH_MS = 5 * 60_000;

const groupId = (pg: ProtectionGroup): string => `${pg.metadata.namespace}/${pg.metadata.name}`;

/**
 * Whether the replicas are still at the snapshots a batch cloned (destination volume → snapshot):
 * true until one of the group's relationships reports a newer snapshot (a transfer finished).
 */
export function replicasUnchanged(i: Pick<PlaceholderInput, "relationships">, cloned: ReadonlyMap<string, string>): boolean {
  return i.relationships.every((r) => !cloned.has(r.spec.destination.volume) || r.status?.newestSnapshot?.name === cloned.get(r.spec.destination.volume));
}

/** The deterministic name of a group's FlexClone of a destination volume: found again after a crash. */
export function cloneName(pg: ProtectionGroup, volume: string): string {
  return `vmdr_${(pg.metadata.uid ?? "").replace(/-/g, "").slice(0, 8)}_${volume}`.slice(0, 203);
}

/**
 * Placeholder pre-registration (VMbook ch. 11): VMs of the group are registered at the recovery
 * site from a FlexClone of their replicated volume, and the clone is then removed, so the
 * registrations stay (inaccessible) and a real failover only has to break the mirror and power on.
 *
 * One batch at a time, one step per pass, every step observing before it acts, and the batch
 * persisted in status.preRegistration, so a crash anywhere is resolved by looking, never by
 * repeating: clones have deterministic names, registrations are found by instance UUID (a repeat
 * registration of the same .vmx is refused by vCenter as AlreadyExists).
 *   Clone → Map (the clone's LUNs to the igroups of the replica's LUNs) → Rescan (until the
 *   datastores appear) → Search (the clones for *.vmx: only what the replica holds can be
 *   registered; VMs created since the last transfer wait for the next one) → Register (into each
 *   VM's shadow folder and pool) → Cleanup (unmap, delete the clones, rescan).
 * Outside a batch it removes placeholders of VMs gone longer than the grace period and keeps
 * placeholders' names and folders in step with the protected VMs. VMs on NFS datastores are not
 * pre-registered (an NFS clone mounts under another path, so the registration would not survive).
 */
export class Placeholders {
  private readonly changedAt = new Map<string, { needed: string; at: number }>();
  /** A batch that could not register some VMs: do not start another for a while (clones are not free). */
  private readonly failed = new Map<string, { at: number; message: string }>();
  /** The .vmx files found on this batch's clones, and the snapshot each clone was made from (per group and batch start). */
  private readonly available = new Map<string, { batch: string; vmx: Set<string>; cloned: Map<string, string> }>();
  /**
   * VMs whose files were not yet in the replica when their batch cloned it (created after the
   * last transfer): they wait until a relationship reports a newer snapshot than the one cloned.
   */
  private readonly awaiting = new Map<string, { cloned: Map<string, string>; uuids: Set<string> }>();

  constructor(
    private readonly deps: { connections: SiteConnections; clock: Clock; events: EventRecorder },
  ) {}

  async reconcile(ctx: ReconcileContext, i: PlaceholderInput): Promise<PlaceholderOutcome> {
    const { pg, status } = i;
    if (!pg.spec.shadow.preRegister && !status.preRegistration) return { inSync: true };
    const client = await this.deps.connections.vcenter(i.recoverySite, ctx.signal);
    const ontap = this.deps.connections.ontapClient(i.recoverySite, i.relationships[0]?.spec.destination.controller);
    if (status.preRegistration) return this.step(ctx, i, client, ontap);

    const nextRemovalMs = await this.tidy(ctx, i, client);
    const needed = this.needed(i);
    const id = groupId(pg);
    if (needed.length === 0) {
      this.failed.delete(id);
      const waiting = this.awaitingReplication(i);
      if (waiting > 0) {
        return { inSync: false, reason: "AwaitingReplication", message: `${waiting} VM(s) are newer than the replica; they are pre-registered after the next SnapMirror transfer`, ...(nextRemovalMs !== undefined ? { requeueAfterMs: nextRemovalMs } : {}) };
      }
      return { inSync: true, ...(nextRemovalMs !== undefined ? { requeueAfterMs: nextRemovalMs } : {}) };
    }
    const failure = this.failed.get(id);
    if (failure && i.now - failure.at < RETRY_FAILED_BATCH_MS) {
      return { inSync: false, reason: "PreRegistrationFailed", message: failure.message, requeueAfterMs: failure.at + RETRY_FAILED_BATCH_MS - i.now };
    }
    // Debounce: start a batch once the set of VMs needing one has been stable for a while.
    const key = needed.map(([u]) => u).sort().join(",");
    const seen = this.changedAt.get(id);
    if (seen?.needed !== key) this.changedAt.set(id, { needed: key, at: i.now });
    const debounce = parseDuration(pg.spec.shadow.preRegisterDebounce ?? "10s");
    const wait = (this.changedAt.get(id)?.at ?? i.now) + debounce - i.now;
    if (wait > 0) return { inSync: false, reason: "PreRegistrationPending", message: `${needed.length} VM(s) to pre-register`, requeueAfterMs: wait };
    status.preRegistration = { step: "Clone", startedAt: rfc3339(i.now), clones: [], vms: needed.length };
    ctx.log.info({ vms: needed.length }, "Started placeholder pre-registration batch");
    this.deps.events.normal(pg, "PreRegistrationStarted", `pre-registering ${needed.length} VM(s) from FlexClones of the replicas`);
    return { inSync: false, reason: "PreRegistering", message: "batch started", requeueAfterMs: 0 };
  }

  /** Members on replicated VMFS datastores that have no placeholder yet (and are in the replica, as far as we know). */
  private needed(i: PlaceholderInput): [string, ShadowRecord][] {
    const wait = this.awaiting.get(groupId(i.pg));
    const waiting = wait && replicasUnchanged(i, wait.cloned) ? wait.uuids : new Set<string>();
    return [...i.records.entries()].filter(([uuid, r]) => !r.removedAt && !r.placeholder && r.vmx && this.onVmfs(i, r) && !waiting.has(uuid));
  }

  /** Drops what this instance remembers about a group (it is being deleted). */
  forget(pg: ProtectionGroup): void {
    for (const m of [this.changedAt, this.failed, this.available, this.awaiting]) m.delete(groupId(pg));
  }

  /** VMs waiting for the next transfer to carry them to the replica. */
  awaitingReplication(i: PlaceholderInput): number {
    const wait = this.awaiting.get(groupId(i.pg));
    return wait && replicasUnchanged(i, wait.cloned) ? [...wait.uuids].filter((u) => !i.records.get(u)?.placeholder).length : 0;
  }

  private onVmfs(i: PlaceholderInput, r: ShadowRecord): boolean {
    return r.datastores.length > 0 && r.datastores.every((name) => i.prot.datastoreByName(name)?.type === "VMFS");
  }

  /**
   * Placeholders of long-gone VMs go; names and folders follow the protected VMs. Returns how long
   * until the next grace period ends (so the group is looked at again then), if any is running.
   */
  private async tidy(ctx: ReconcileContext, i: PlaceholderInput, client: VsphereClient): Promise<number | undefined> {
    const grace = parseDuration(i.pg.spec.shadow.removalGracePeriod ?? "1h");
    let next: number | undefined;
    for (const [uuid, r] of i.records) {
      const vm = i.rec.vmByInstanceUuid(uuid);
      if (!vm) continue;
      if (r.removedAt) {
        const left = Date.parse(r.removedAt) + grace - i.now;
        if (left > 0) {
          next = Math.min(next ?? left, left);
          continue;
        }
        if (vm.powerState === "poweredOn") continue; // never remove a running VM
        await client.unregisterVm(vm.ref, ctx.signal);
        i.records.delete(uuid);
        ctx.log.info({ vm: r.name }, "Removed placeholder of a VM gone from the protected site");
        this.deps.events.normal(i.pg, "PlaceholderRemoved", `${r.name} was removed at the protected site ${grace / 1000}s ago`);
        continue;
      }
      const folder = i.rec.folderByPath(r.shadowFolder);
      if (folder && vm.parent && refKey(vm.parent) !== refKey(folder.ref)) {
        await client.moveIntoFolder(folder.ref, [vm.ref], ctx.signal);
        ctx.log.info({ vm: r.name, folder: r.shadowFolder }, "Moving placeholder to its shadow folder");
      }
      if (vm.name !== r.name) {
        await client.rename(vm.ref, r.name, ctx.signal);
        ctx.log.info({ from: vm.name, to: r.name }, "Renaming placeholder");
      }
    }
    return next;
  }

  private async step(ctx: ReconcileContext, i: PlaceholderInput, client: VsphereClient, ontap: OntapClient): Promise<PlaceholderOutcome> {
    const b = i.status.preRegistration!;
    const busy = (message: string, ms = POLL_MS): PlaceholderOutcome => ({ inSync: false, reason: "PreRegistering", message: `${b.step}: ${message}`, requeueAfterMs: ms });
    const sig = ctx.signal;
    if (b.job) {
      const job = await ontap.getJob({ kind: "job", uuid: b.job }, sig);
      if (job.state === "queued" || job.state === "running" || job.state === "paused") return busy(`waiting for ONTAP job ${b.job}`);
      b.job = undefined;
      if (job.state === "failure" && job.error) throw job.error;
    }
    const dests = i.relationships.map((r) => ({ svm: r.spec.destination.svm ?? this.deps.connections.controller(i.recoverySite, r.spec.destination.controller).svm, volume: r.spec.destination.volume }));
    switch (b.step) {
      case "Clone": {
        for (const d of dests) {
          const name = cloneName(i.pg, d.volume);
          if (!b.clones.includes(name)) b.clones.push(name);
          if (await ontap.getVolume({ svm: d.svm, name }, sig)) continue;
          const snap = await ontap.findNewestSnapMirrorSnapshot({ svm: d.svm, name: d.volume }, sig);
          if (!snap) throw new Error(`volume ${d.volume} has no SnapMirror snapshot to clone yet`);
          const ref = await ontap.createFlexClone({ svm: d.svm, name, parentVolume: d.volume, parentSnapshot: snap.name }, sig);
          if (isJobRef(ref)) b.job = ref.uuid;
          ctx.log.info({ clone: name, snapshot: snap.name }, "Started FlexClone for pre-registration");
          return busy(`cloning ${d.volume}`);
        }
        b.step = "Map";
        return busy("mapping", 0);
      }
      case "Map": {
        for (const d of dests) {
          const parentLuns = await ontap.listLuns({ svm: d.svm, name: d.volume }, sig);
          const igroups = [...new Set(parentLuns.flatMap((l) => l.maps.map((m) => m.igroup)))];
          for (const lun of await ontap.listLuns({ svm: d.svm, name: cloneName(i.pg, d.volume) }, sig)) {
            if (!lun.enabled) await ontap.setLunEnabled(lun.uuid, true, sig);
            for (const ig of igroups) if (!lun.maps.some((m) => m.igroup === ig)) await ontap.mapLun({ svm: d.svm, igroup: ig, lun: lun.name }, sig);
          }
        }
        b.step = "Rescan";
        await this.rescan(ctx, i, client);
        return busy("rescanning");
      }
      case "Rescan": {
        const missing: string[] = [];
        for (const d of dests) {
          for (const lun of await ontap.listLuns({ svm: d.svm, name: cloneName(i.pg, d.volume) }, sig)) {
            const ds = i.rec.datastoreByDevice(naaOfSerial(lun.serialNumber));
            if (!ds?.accessible) missing.push(lun.name);
          }
        }
        if (missing.length > 0) {
          await this.rescan(ctx, i, client); // a rescan is cheap; a host may have missed the first
          await this.resolveClones(ctx, i, client, await this.cloneDevices(i, ontap, dests, sig));
          return busy(`waiting for ${missing.join(", ")} to appear`);
        }
        b.step = "Search";
        return busy("searching the clones for .vmx files", 0);
      }
      case "Search": {
        // VMbook: search the datastores for *.vmx. Only what the replica holds can be registered.
        if (b.tasks?.length) {
          const states = await client.getTasks(b.tasks.map((t) => ({ type: "Task", value: t })), sig);
          if (states.some((s) => s.state === "queued" || s.state === "running")) return busy("searching");
          const vmx = new Set(states.flatMap((s) => (s.state === "success" ? readSearchResults(s) : [])));
          const cloned = new Map<string, string>();
          for (const d of dests) {
            const parent = (await ontap.getVolume({ svm: d.svm, name: cloneName(i.pg, d.volume) }, sig))?.clone?.parentSnapshot;
            if (parent) cloned.set(d.volume, parent);
          }
          this.available.set(groupId(i.pg), { batch: b.startedAt, vmx, cloned });
          b.tasks = undefined;
          b.step = "Register";
          return busy("registering", 0);
        }
        const tasks: string[] = [];
        for (const d of dests) {
          for (const lun of await ontap.listLuns({ svm: d.svm, name: cloneName(i.pg, d.volume) }, sig)) {
            const ds = i.rec.datastoreByDevice(naaOfSerial(lun.serialNumber));
            if (ds?.browser) tasks.push((await client.searchDatastoreForVmx(ds.browser, ds.name, sig)).task.value);
          }
        }
        b.tasks = tasks;
        return busy(`searching ${tasks.length} datastore(s)`);
      }
      case "Register": {
        const found = this.available.get(groupId(i.pg));
        if (found?.batch !== b.startedAt) {
          b.step = "Search"; // a restart lost the search results: search again (read-only)
          return busy("searching again", 0);
        }
        if (b.tasks?.length) {
          const states = await client.getTasks(b.tasks.map((t) => ({ type: "Task", value: t })), sig).catch(() => []);
          const running = states.filter((s) => s.state === "queued" || s.state === "running");
          if (running.length > 0) return busy(`${running.length} registration(s) running`);
          for (const s of states) {
            if (s.state === "error" && !isFault(s.error, "AlreadyExists")) ctx.log.warn({ err: s.error }, "Could not pre-register a VM");
          }
          b.tasks = undefined;
        }
        const candidates = this.needed(i).filter(([uuid]) => !i.rec.vmByInstanceUuid(uuid));
        const notReplicated = candidates.filter(([, r]) => !found.vmx.has(r.vmx ?? ""));
        if (notReplicated.length > 0) this.awaiting.set(groupId(i.pg), { cloned: found.cloned, uuids: new Set(notReplicated.map(([u]) => u)) });
        else this.awaiting.delete(groupId(i.pg));
        const todo = candidates.filter(([, r]) => found.vmx.has(r.vmx ?? "")).slice(0, MAX_REGISTRATIONS_PER_PASS);
        const compute = i.rec.compute(i.pg.spec.shadow.cluster);
        const pool = this.poolRef(i);
        const tasks: string[] = [];
        const skipped: string[] = [];
        for (const [, r] of todo) {
          const folder = i.rec.folderByPath(r.shadowFolder);
          const dsName = /^\[([^\]]+)\]/.exec(r.vmx ?? "")?.[1];
          const ds = dsName ? i.rec.datastoreByName(dsName) : undefined;
          if (!folder || !pool || !ds?.accessible) {
            skipped.push(`${r.name} (${!folder ? `no folder ${r.shadowFolder}` : !pool ? `no pool ${i.pg.spec.shadow.resourcePool}` : `datastore ${dsName ?? "?"} not visible`})`);
            continue;
          }
          const host = ds.hosts.find((h) => h.accessible && compute?.hosts.some((c) => c.value === h.host.value))?.host;
          try {
            const t = await client.registerVm({ folder: folder.ref, vmxPath: r.vmx!, name: r.name, pool, host }, sig);
            tasks.push(t.task.value);
          } catch (err) {
            if (!isFault(err, "AlreadyExists", "DuplicateName")) throw err;
          }
        }
        if (tasks.length > 0) {
          b.tasks = tasks;
          ctx.log.info({ vms: tasks.length }, "Registering placeholders");
          return busy(`${tasks.length} registration(s) started`);
        }
        if (skipped.length > 0) {
          const message = `could not pre-register ${skipped.length} VM(s): ${skipped.slice(0, 5).join("; ")}${skipped.length > 5 ? "; …" : ""}`;
          this.failed.set(groupId(i.pg), { at: i.now, message });
          ctx.log.warn({ vms: skipped.length }, "Could not pre-register some VMs; cleaning up the batch");
          this.deps.events.warning(i.pg, "PreRegistrationFailed", message);
        }
        b.step = "Cleanup";
        return busy("cleaning up", 0);
      }
      case "Cleanup": {
        for (const d of dests) {
          const name = cloneName(i.pg, d.volume);
          const vol = await ontap.getVolume({ svm: d.svm, name }, sig);
          if (!vol) continue;
          const luns = await ontap.listLuns({ svm: d.svm, name }, sig);
          // The safe order: unmount the VMFS, detach the device, on every host, before the LUN goes.
          const releasing = await this.releaseDevices(ctx, i, client, new Set(luns.map((l) => naaOfSerial(l.serialNumber))));
          if (releasing) return busy(releasing);
          for (const lun of luns) for (const m of lun.maps) await ontap.unmapLun(lun.uuid, m.igroupUuid, sig);
          const ref = await ontap.deleteClone({ svm: d.svm, name }, sig);
          if (isJobRef(ref)) b.job = ref.uuid;
          return busy(`removing ${name}`);
        }
        await this.rescan(ctx, i, client);
        i.status.preRegistration = undefined;
        ctx.log.info("Finished placeholder pre-registration batch");
        this.deps.events.normal(i.pg, "PreRegistrationCompleted", `placeholders registered; clones ${b.clones.join(", ")} removed`);
        return { inSync: false, reason: "PreRegistering", message: "batch finished", requeueAfterMs: POLL_MS };
      }
    }
  }

  private poolRef(i: PlaceholderInput): MoRef | undefined {
    const want = i.pg.spec.shadow.resourcePool.replace(/^\/+|\/+$/g, "");
    const compute = i.rec.compute(i.pg.spec.shadow.cluster);
    for (const p of i.rec.pools.values()) {
      if (p.owner?.value !== compute?.ref.value) continue;
      if (i.rec.poolPath(p.ref) === want) return p.ref;
    }
    return undefined;
  }

  /** The NAA devices of the batch's clone LUNs. */
  private async cloneDevices(i: PlaceholderInput, ontap: OntapClient, dests: readonly { svm: string; volume: string }[], sig: AbortSignal): Promise<Set<string>> {
    const out = new Set<string>();
    for (const d of dests) for (const lun of await ontap.listLuns({ svm: d.svm, name: cloneName(i.pg, d.volume) }, sig)) out.add(naaOfSerial(lun.serialNumber));
    return out;
  }

  /** Storage systems of the recovery cluster's hosts. */
  private storageSystems(i: PlaceholderInput): MoRef[] {
    const compute = i.rec.compute(i.pg.spec.shadow.cluster);
    return (compute?.hosts ?? []).map((h) => i.rec.hosts.get(refKey(h))?.storageSystem).filter((s): s is MoRef => s !== undefined);
  }

  /**
   * ESXi 7/8 see a clone's VMFS as an unresolved copy (its signature names the replica's source
   * LUN): force-mount it, keeping the signature the placeholders' registrations rely on, on every
   * recovery host. The next pass observes the datastores.
   */
  private async resolveClones(ctx: ReconcileContext, i: PlaceholderInput, client: VsphereClient, devices: ReadonlySet<string>): Promise<void> {
    for (const ss of this.storageSystems(i)) {
      const copies = await client.queryUnresolvedVmfsVolumes(ss, ctx.signal);
      const specs = copies.flatMap((c) => c.extents).filter((e) => devices.has(e.device)).map((e) => ({ devicePath: e.devicePath, mode: "forceMount" as const }));
      if (specs.length > 0) await client.resolveUnresolvedVmfsVolumes(ss, specs, ctx.signal);
    }
  }

  /**
   * One step of releasing devices before their LUNs are unmapped: unmount their VMFS volumes on
   * every host, then (once observed) detach them. Returns what it is doing, or undefined when
   * nothing is left to do. A host where placeholders are registered on the volume refuses the
   * unmount (ResourceInUse): there the volume stays until the LUN goes, and the placeholders turn
   * inaccessible, which is what pre-registration keeps them as (VMbook ch. 11).
   */
  private async releaseDevices(ctx: ReconcileContext, i: PlaceholderInput, client: VsphereClient, devices: ReadonlySet<string>): Promise<string | undefined> {
    const pinned = new Set<string>();
    let unmounted = 0;
    for (const ss of this.storageSystems(i)) {
      for (const v of await client.getHostVolumes(ss, ctx.signal)) {
        if (!v.mounted || !v.vmfsUuid || !v.extents.some((e) => devices.has(e))) continue;
        try {
          await client.unmountVmfsVolume(ss, v.vmfsUuid, ctx.signal);
          unmounted++;
        } catch (err) {
          if (!isFault(err, "ResourceInUse", "InvalidState")) throw err;
          pinned.add(refKey(ss));
        }
      }
    }
    if (unmounted > 0) return `unmounted ${unmounted} volume(s) of the clones`;
    let detached = 0;
    for (const ss of this.storageSystems(i)) {
      if (pinned.has(refKey(ss))) continue;
      for (const l of await client.getHostScsiLuns(ss, ctx.signal)) {
        if (!devices.has(l.canonicalName) || l.operationalState.includes("off")) continue;
        await client.detachScsiLun(ss, l.uuid, ctx.signal);
        detached++;
      }
    }
    if (detached > 0) return `detached ${detached} device(s) of the clones`;
    if (pinned.size > 0) ctx.log.info({ hosts: pinned.size }, "Placeholders keep the clones' volumes mounted on some hosts; they turn inaccessible as the clones go");
    return undefined;
  }

  private async rescan(ctx: ReconcileContext, i: PlaceholderInput, client: VsphereClient): Promise<void> {
    const compute = i.rec.compute(i.pg.spec.shadow.cluster);
    for (const h of compute?.hosts ?? []) {
      const host = i.rec.hosts.get(refKey(h));
      if (!host?.storageSystem) continue;
      await client.rescanAllHba(host.storageSystem, ctx.signal);
      await client.rescanVmfs(host.storageSystem, ctx.signal);
    }
  }

  /** Deletion with policy Remove: unregister every placeholder (never a running VM). True while work remains. */
  async removeAll(ctx: ReconcileContext, i: { recoverySite: Site; rec: InventoryIndex; records: ReadonlyMap<string, ShadowRecord> }): Promise<boolean> {
    const client = await this.deps.connections.vcenter(i.recoverySite, ctx.signal);
    let removed = false;
    for (const uuid of i.records.keys()) {
      const vm = i.rec.vmByInstanceUuid(uuid);
      if (!vm || vm.powerState === "poweredOn") continue;
      await client.unregisterVm(vm.ref, ctx.signal);
      removed = true;
    }
    return removed;
  }
}
