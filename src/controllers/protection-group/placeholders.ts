import { PRE_REGISTRATION_BATCH } from "../../api/v1alpha1/index.js";
import type { PreRegistrationBatch, ProtectionGroup, ProtectionGroupStatus, ReplicationRelationship, Site, StepRecord, VmRecord, VolumeRecord } from "../../api/v1alpha1/index.js";
import { advance } from "../../engine/runner.js";
import type { RunHost, Step } from "../../engine/types.js";
import type { ReconcileContext } from "../../runtime/controller.js";
import type { EventRecorder } from "../../runtime/events.js";
import type { InventoryIndex } from "../../sites/inventory-index.js";
import type { Clock } from "../../util/clock.js";
import { parseDuration } from "../../util/duration.js";
import type { VsphereClient } from "../../vsphere/client.js";
import { refKey } from "../../vsphere/types.js";
import { RunContext } from "../failover-run/context.js";
import type { RunState, RunWorld } from "../failover-run/context.js";
import { STEP_DEFINITIONS } from "../failover-run/steps/index.js";
import type { Poller } from "../../engine/types.js";
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
  /** Writes the group's status now (conditional); the engine checkpoints a batch through it. */
  readonly checkpoint: (signal: AbortSignal) => Promise<void>;
}

export interface PlaceholderOutcome {
  readonly inSync: boolean;
  readonly reason?: string;
  readonly message?: string;
  readonly requeueAfterMs?: number;
}

export interface PlaceholderDeps {
  readonly world: RunWorld;
  readonly poller: Poller;
  readonly clock: Clock;
  readonly events: EventRecorder;
}

/** A batch's steps: register from clones of the replicas, then (always) remove the clones in the safe order. */
const BATCH_STEPS = ["SelectSnapshots", "CloneVolumes", "PresentClones", "RescanHosts", "MountDatastores", "FindVms", "RegisterVms"];
const BATCH_CLEANUP = ["UnmountDatastores", "DetachDevices", "UnpresentClones", "DeleteClones", "RescanHosts"];
const RETRY_FAILED_BATCH_MS = 5 * 60_000;
const RETRY_STUCK_CLEANUP_MS = 60_000;
const NOT_IN_COPY = /is not in the recovered copy/;

const steps = (names: readonly string[]): Step<RunContext>[] => names.map((n) => STEP_DEFINITIONS.get(n)!);
const groupId = (pg: ProtectionGroup): string => `${pg.metadata.namespace}/${pg.metadata.name}`;

/** Whether the replicas are still at the snapshots a batch cloned: true until a relationship reports a newer one. */
export function replicasUnchanged(i: Pick<PlaceholderInput, "relationships">, cloned: ReadonlyMap<string, string>): boolean {
  return i.relationships.every((r) => !cloned.has(r.spec.destination.volume) || r.status?.newestSnapshot?.name === cloned.get(r.spec.destination.volume));
}

/**
 * Placeholder pre-registration (VMbook ch. 11): VMs of the group are registered at the recovery
 * site from a FlexClone of their replica, and the clone is then removed, so the registrations stay
 * (inaccessible) and a real failover only has to break the mirror and power on.
 *
 * A batch runs on the step engine with the FailoverRun's own steps and their guarantees (observe
 * before act, handles persisted, crash-safe): select the replicas' newest snapshots, clone,
 * present, rescan, force-mount (keeping the signature the registrations rely on), search for
 * .vmx files, register into the shadow folders; then remove the clones: unmount and detach where
 * ESXi allows it (not where the new placeholders are registered, see docs/adr/0008), unmap,
 * delete, rescan. The whole batch lives in status.preRegistration, so a restart or a new leader
 * resumes it. VMs whose files were not in the replica yet wait (status.awaitingReplication) for a
 * transfer past the snapshot; a batch that left others unregistered holds the next one back for a
 * while (status.preRegistrationFailure). VMs on NFS datastores are not pre-registered (an NFS copy
 * is mounted under another export, so the registration would not survive).
 *
 * Outside a batch, placeholders of VMs gone longer than the grace period are removed, and
 * placeholders' names and folders follow the protected VMs.
 */
export class Placeholders {
  /** Debounce of batch starts: when the set of VMs needing one last changed (a timing hint only). */
  private readonly changedAt = new Map<string, { needed: string; at: number }>();

  constructor(private readonly deps: PlaceholderDeps) {}

  async reconcile(ctx: ReconcileContext, i: PlaceholderInput): Promise<PlaceholderOutcome> {
    const { pg, status } = i;
    if (!pg.spec.shadow.preRegister && !status.preRegistration) return { inSync: true };
    if (status.preRegistration) return this.advanceBatch(ctx, i, status.preRegistration);
    const client = await this.deps.world.vcenter(i.recoverySite, ctx.signal);
    const nextRemovalMs = await this.tidy(ctx, i, client);
    const after = nextRemovalMs !== undefined ? { requeueAfterMs: nextRemovalMs } : {};
    const needed = this.needed(i);
    const id = groupId(pg);
    if (needed.length === 0) {
      status.preRegistrationFailure = undefined;
      const waiting = this.awaiting(i).size;
      if (waiting > 0) return { inSync: false, reason: "AwaitingReplication", message: `${waiting} VM(s) are newer than the replica; they are pre-registered after the next SnapMirror transfer`, ...after };
      status.awaitingReplication = undefined;
      return { inSync: true, ...after };
    }
    const failure = status.preRegistrationFailure;
    if (failure && i.now - Date.parse(failure.at) < RETRY_FAILED_BATCH_MS) {
      return { inSync: false, reason: "PreRegistrationFailed", message: failure.message, requeueAfterMs: Date.parse(failure.at) + RETRY_FAILED_BATCH_MS - i.now };
    }
    // Debounce: start a batch once the set of VMs needing one has been stable for a while.
    const key = needed.map(([u]) => u).sort().join(",");
    if (this.changedAt.get(id)?.needed !== key) this.changedAt.set(id, { needed: key, at: i.now });
    const wait = (this.changedAt.get(id)?.at ?? i.now) + parseDuration(pg.spec.shadow.preRegisterDebounce ?? "10s") - i.now;
    if (wait > 0) return { inSync: false, reason: "PreRegistrationPending", message: `${needed.length} VM(s) to pre-register`, requeueAfterMs: wait };
    status.preRegistration = this.newBatch(i, needed.slice(0, PRE_REGISTRATION_BATCH));
    ctx.log.info({ vms: status.preRegistration.vms.length }, "Started placeholder pre-registration batch");
    this.deps.events.normal(pg, "PreRegistrationStarted", `pre-registering ${status.preRegistration.vms.length} VM(s) from FlexClones of the replicas`);
    return { inSync: false, reason: "PreRegistering", message: "batch started", requeueAfterMs: 0 };
  }

  /** Members on replicated VMFS datastores without a placeholder, that are in the replica as far as we know. */
  private needed(i: PlaceholderInput): [string, ShadowRecord][] {
    const waiting = this.awaiting(i);
    const onVmfs = (r: ShadowRecord): boolean => r.datastores.length > 0 && r.datastores.every((name) => i.prot.datastoreByName(name)?.type === "VMFS");
    return [...i.records.entries()].filter(([uuid, r]) => !r.removedAt && !r.placeholder && r.vmx && onVmfs(r) && !waiting.has(uuid));
  }

  /** VMs still waiting for the transfer that carries them to the replica (none once a newer snapshot arrived). */
  private awaiting(i: PlaceholderInput): Set<string> {
    const w = i.status.awaitingReplication;
    if (!w || !replicasUnchanged(i, new Map(w.snapshots.map((s) => [s.volume, s.snapshot])))) return new Set();
    return new Set(w.vms.filter((u) => !i.records.get(u)?.placeholder));
  }

  private newBatch(i: PlaceholderInput, needed: [string, ShadowRecord][]): PreRegistrationBatch {
    const volumes: VolumeRecord[] = [];
    for (const rr of i.relationships) {
      const carried = i.status.volumes?.find((v) => v.relationship === rr.metadata.name);
      if ((carried?.protocol ?? "SAN") !== "SAN" || !carried?.datastores[0]) continue;
      const c = i.recoverySite.spec.storage.controllers.find((x) => x.name === rr.spec.destination.controller) ?? i.recoverySite.spec.storage.controllers[0];
      volumes.push({
        group: i.pg.metadata.name,
        relationship: rr.metadata.name,
        ...(rr.spec.destination.controller !== undefined ? { controller: rr.spec.destination.controller } : {}),
        svm: rr.spec.destination.svm ?? c?.svm ?? "",
        volume: rr.spec.destination.volume,
        protocol: "SAN",
        datastore: carried.datastores[0],
      });
    }
    const vms: VmRecord[] = needed.map(([uuid, r]) => ({
      name: r.name,
      group: i.pg.metadata.name,
      instanceUuid: uuid,
      vmx: r.vmx ?? "",
      folder: r.shadowFolder,
      resourcePool: r.resourcePool.replace(/^\/+|\/+$/g, ""),
      wave: 0,
      state: "Pending",
    }));
    return { startedAt: new Date(i.now).toISOString(), steps: BATCH_STEPS.map((name) => ({ name, state: "Pending", attempts: 0 })), volumes, vms };
  }

  /** One engine pass over the batch; when its steps are through, its cleanup; when that is through, the outcome. */
  private async advanceBatch(ctx: ReconcileContext, i: PlaceholderInput, b: PreRegistrationBatch): Promise<PlaceholderOutcome> {
    const cleaning = b.cleanupSteps !== undefined;
    retryStuck(b.cleanupSteps, i.now);
    const state: RunState = {
      run: { metadata: { name: `${i.pg.metadata.name}-pre-registration`, namespace: i.pg.metadata.namespace, uid: i.pg.metadata.uid }, spec: { type: "PreRegistration", powerOn: { concurrency: 16 } } },
      status: b,
      vms: b.vms,
    };
    const host: RunHost = {
      get steps(): StepRecord[] {
        return b.cleanupSteps ?? b.steps;
      },
      checkpoint: (signal) => i.checkpoint(signal),
    };
    const rctx = new RunContext(state, this.deps.world, new Map([[i.pg.metadata.name, i.pg]]), ctx.log, ctx.signal);
    const out = await advance(host, steps(cleaning ? BATCH_CLEANUP : BATCH_STEPS), rctx, { clock: this.deps.clock, poller: this.deps.poller, log: ctx.log }, ctx.signal);
    const current = host.steps.find((s) => s.state !== "Succeeded" && s.state !== "Skipped");
    const busy = (message: string, ms: number): PlaceholderOutcome => ({ inSync: false, reason: "PreRegistering", message, requeueAfterMs: ms });
    switch (out.kind) {
      case "Continue":
        return busy(`${current?.name ?? ""}: ${current?.message ?? ""}`, out.requeueAfterMs);
      case "Blocked":
        return { inSync: false, reason: "PreRegistrationBlocked", message: `${out.step}: ${out.message}` };
      case "Failed":
        if (cleaning) return { inSync: false, reason: "PreRegistrationStuck", message: `removing the batch's clones: ${out.step} failed: ${out.message}; retried in a minute`, requeueAfterMs: RETRY_STUCK_CLEANUP_MS };
        i.status.preRegistrationFailure = { at: new Date(i.now).toISOString(), message: `${out.step} failed: ${out.message}` };
        this.deps.events.warning(i.pg, "PreRegistrationFailed", `${out.step} failed: ${out.message}; removing the batch's clones`);
        b.cleanupSteps = BATCH_CLEANUP.map((name) => ({ name, state: "Pending", attempts: 0 }));
        return busy("cleaning up after a failed batch", 0);
      case "Finished":
        if (!cleaning) {
          b.cleanupSteps = BATCH_CLEANUP.map((name) => ({ name, state: "Pending", attempts: 0 }));
          return busy("removing the clones", 0);
        }
        return this.finish(ctx, i, b);
    }
  }

  /** The batch is through: what it registered are placeholders now; what was not in the replica waits for it. */
  private finish(ctx: ReconcileContext, i: PlaceholderInput, b: PreRegistrationBatch): PlaceholderOutcome {
    const late = b.vms.filter((v) => v.state === "Failed" && NOT_IN_COPY.test(v.message ?? ""));
    const failed = b.vms.filter((v) => (v.state === "Failed" || v.state === "Skipped") && !late.includes(v));
    const registered = b.vms.filter((v) => v.state === "Registered");
    i.status.awaitingReplication = late.length
      ? { snapshots: b.volumes.filter((v) => v.snapshot).map((v) => ({ volume: v.volume, snapshot: v.snapshot ?? "" })), vms: late.map((v) => v.instanceUuid) }
      : undefined;
    if (failed.length) {
      const message = `could not pre-register ${failed.length} VM(s): ${failed.slice(0, 5).map((v) => `${v.name} (${v.message ?? v.state})`).join("; ")}${failed.length > 5 ? "; …" : ""}`;
      i.status.preRegistrationFailure ??= { at: new Date(i.now).toISOString(), message };
      this.deps.events.warning(i.pg, "PreRegistrationFailed", message);
    }
    i.status.preRegistration = undefined;
    ctx.log.info({ registered: registered.length, waiting: late.length, failed: failed.length }, "Finished placeholder pre-registration batch");
    this.deps.events.normal(i.pg, "PreRegistrationCompleted", `${registered.length} placeholder(s) registered; clones removed${late.length ? `; ${late.length} VM(s) wait for the next transfer` : ""}`);
    return { inSync: false, reason: "PreRegistering", message: "batch finished", requeueAfterMs: 0 };
  }

  /** Drops what this instance remembers about a group (it is being deleted). */
  forget(pg: ProtectionGroup): void {
    this.changedAt.delete(groupId(pg));
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

  /** Deletion with policy Remove: unregister every placeholder (never a running VM). True while work remains. */
  async removeAll(ctx: ReconcileContext, i: { recoverySite: Site; rec: InventoryIndex; records: ReadonlyMap<string, ShadowRecord> }): Promise<boolean> {
    const client = await this.deps.world.vcenter(i.recoverySite, ctx.signal);
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

/** A cleanup step that failed (an endpoint refused) is retried after a while: the clones must not be left behind. */
function retryStuck(cleanup: StepRecord[] | undefined, now: number): void {
  for (const s of cleanup ?? []) {
    if (s.state === "Failed" && s.completedAt && now - Date.parse(s.completedAt) > RETRY_STUCK_CLEANUP_MS) Object.assign(s, { state: "Running", attempts: 0, message: "retrying" });
  }
}
