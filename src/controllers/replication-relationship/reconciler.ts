import { ConditionType, FINALIZERS, ANNOTATIONS, ReplicationRelationshipType } from "../../api/v1alpha1/index.js";
import type { ReplicationRelationship, ReplicationRelationshipStatus, Site } from "../../api/v1alpha1/index.js";
import type { KubeStore } from "../../kube/store.js";
import { updateStatusIfChanged } from "../../kube/store.js";
import type { ObjectKey } from "../../kube/types.js";
import { classify as classifyOntap } from "../../ontap/errors.js";
import { isJobRef } from "../../ontap/jobs.js";
import type { JobRef, Done, OntapClient, SnapMirrorRelationship, VolumePath } from "../../ontap/client.js";
import type { ReplicationMetrics } from "../../metrics/replication.js";
import type { SiteConnections } from "../../sites/connections.js";
import { WaitError } from "../../runtime/errors.js";
import type { ReconcileContext, Reconciler } from "../../runtime/controller.js";
import type { EventRecorder } from "../../runtime/events.js";
import { done, requeueAfter } from "../../runtime/result.js";
import type { Result } from "../../runtime/result.js";
import { jitter } from "../../util/backoff.js";
import { rfc3339 } from "../../util/clock.js";
import type { Clock } from "../../util/clock.js";
import { parseDuration } from "../../util/duration.js";
import { ConditionSetter, recordTransitions } from "../common/conditions.js";
import { ensureFinalizer, removeFinalizer } from "../common/finalizers.js";
import { inDesiredState, plan } from "./plan.js";
import type { Action } from "./plan.js";
import { fillObservedStatus } from "./status.js";

export interface ReplicationRelationshipDeps {
  readonly kube: KubeStore;
  readonly clock: Clock;
  readonly events: EventRecorder;
  readonly connections: SiteConnections;
  readonly metrics: ReplicationMetrics;
  /** The Site by name, from the informer cache. */
  readonly site: (name: string) => Site | undefined;
  /** The FailoverRun holding a ProtectionGroup that uses this relationship, if any, from the informer cache (cheap; may be stale). */
  readonly heldBy: (rr: ReplicationRelationship) => string | undefined;
  /**
   * The same question answered by a live read of the API server, asked right before any change:
   * a run that has just taken the lock may not be in the cache yet, and the controller must never
   * undo what a run did (resume a relationship it quiesced).
   */
  readonly heldByLive: (rr: ReplicationRelationship, signal: AbortSignal) => Promise<string | undefined>;
  readonly pollIntervalMs: number;
}

/** How often to look again while something is under way. */
const BUSY_POLL_MS = 2_000;

interface Endpoints {
  /** The cluster that holds the relationship (its destination's). */
  readonly owner: OntapClient;
  /** The cluster of its source (for release on deletion). */
  readonly other: OntapClient;
  readonly source: VolumePath;
  readonly destination: VolumePath;
}

/**
 * ReplicationRelationship: converges one SnapMirror relationship to the spec.
 *  1. Finish what is in flight: a job handle persisted in status is polled to its end first.
 *  2. Observe the relationship on the cluster that holds it (destination for Forward, source for
 *     Reverse) and report what ONTAP says (state, health, lag, last transfer) and the RPO.
 *  3. While a FailoverRun holds a group using it, only report: the run owns the relationship.
 *  4. Otherwise take at most one step towards the desired state (plan.ts), persist its job handle
 *     and look again soon; in steady state, poll at the poll interval.
 */
export class ReplicationRelationshipReconciler implements Reconciler {
  readonly name = "replicationrelationship";

  constructor(private readonly deps: ReplicationRelationshipDeps) {}

  async reconcile(ctx: ReconcileContext, key: ObjectKey): Promise<Result> {
    const { kube } = this.deps;
    const rr = await kube.get(ReplicationRelationshipType, key, ctx.signal);
    if (!rr) {
      this.deps.metrics.forget(key.namespace ?? "", key.name);
      return done();
    }
    if (!rr.metadata.deletionTimestamp && (await ensureFinalizer(kube, ReplicationRelationshipType, rr, FINALIZERS.replicationRelationship, ctx.signal))) return done();

    const status: ReplicationRelationshipStatus = structuredClone(rr.status ?? {});
    status.conditions ??= [];
    const cond = new ConditionSetter(status.conditions, rr.metadata.generation, this.deps.clock);
    // The object as last written: a checkpoint before an act advances it, so the final write stays
    // conditional on what this pass itself wrote.
    let current = rr;
    const checkpoint = async (): Promise<void> => {
      status.observedGeneration = rr.metadata.generation;
      current = (await updateStatusIfChanged(kube, ReplicationRelationshipType, current, status, ctx.signal)).object;
    };
    try {
      if (rr.metadata.deletionTimestamp) return await this.reconcileDelete(ctx, rr, status);
      return await this.reconcileNormal(ctx, rr, status, cond, checkpoint);
    } catch (err) {
      const e = classifyOntap(err, "reconcile replication");
      cond.set(ConditionType.Ready, false, e.reason, e.message);
      throw e;
    } finally {
      status.observedGeneration = rr.metadata.generation;
      const before = rr.status?.conditions;
      const { written } = await updateStatusIfChanged(kube, ReplicationRelationshipType, current, status, ctx.signal);
      if (written || current !== rr) recordTransitions(this.deps.events, rr, before, status.conditions, [ConditionType.Ready, ConditionType.Healthy, ConditionType.WithinRPO]);
    }
  }

  private endpoints(rr: ReplicationRelationship): Endpoints {
    const site = (name: string): Site => {
      const s = this.deps.site(name);
      if (!s) throw new WaitError(`Site ${name} does not exist yet`, "SiteNotFound", 30_000);
      return s;
    };
    const src = site(rr.spec.source.siteRef);
    const dst = site(rr.spec.destination.siteRef);
    const { connections } = this.deps;
    const path = (s: Site, e: ReplicationRelationship["spec"]["source"]): VolumePath => ({
      svm: e.svm ?? connections.controller(s, e.controller).svm,
      volume: e.volume,
    });
    const srcClient = connections.ontapClient(src, rr.spec.source.controller);
    const dstClient = connections.ontapClient(dst, rr.spec.destination.controller);
    return rr.spec.direction === "Reverse"
      ? { owner: srcClient, other: dstClient, source: path(dst, rr.spec.destination), destination: path(src, rr.spec.source) }
      : { owner: dstClient, other: srcClient, source: path(src, rr.spec.source), destination: path(dst, rr.spec.destination) };
  }

  private async reconcileNormal(
    ctx: ReconcileContext,
    rr: ReplicationRelationship,
    status: ReplicationRelationshipStatus,
    cond: ConditionSetter,
    checkpoint: () => Promise<void>,
  ): Promise<Result> {
    const ep = this.endpoints(rr);
    const sig = ctx.signal;

    // 1. A job we started earlier finishes before anything else happens.
    if (status.pendingOperation) {
      const op = status.pendingOperation;
      const job = await ep.owner.getJob({ kind: "job", uuid: op.id }, sig);
      if (job.state === "queued" || job.state === "running" || job.state === "paused") {
        cond.set(ConditionType.Ready, false, "WaitingForJob", `${op.operation} in progress (ONTAP job ${op.id})`);
        return requeueAfter(BUSY_POLL_MS);
      }
      status.pendingOperation = undefined;
      if (job.state === "failure" && job.error) {
        this.deps.events.warning(rr, "OperationFailed", `${op.operation} failed: ${job.error.message}`);
        throw job.error;
      }
      if (job.state === "success") ctx.log.info({ ontapJob: op.id, operation: op.operation }, "Finished SnapMirror operation");
    }

    // 2. Observe and report.
    const rel = await ep.owner.findRelationship(ep.destination, sig);
    const rpoMs = parseDuration(rr.spec.rpo);
    fillObservedStatus(status, rel, { now: this.deps.clock.now(), rpoMs, cond, activeDestination: `${ep.destination.svm}:${ep.destination.volume}` });
    this.deps.metrics.observe(rr.metadata.namespace ?? "", rr.metadata.name, {
      lagSeconds: rel?.lagTimeSeconds,
      observedAtMs: this.deps.clock.now(),
      lastTransferEndMs: status.lastTransfer?.endTime ? Date.parse(status.lastTransfer.endTime) : undefined,
      rpoSeconds: rpoMs / 1000,
      healthy: rel?.healthy,
    });

    // 3. A FailoverRun owns the relationship while it holds the group.
    const holder = this.deps.heldBy(rr);
    if (holder) {
      cond.set(ConditionType.Ready, inDesiredState(rel, rr.spec.desiredState ?? "Mirrored"), "HeldByFailoverRun", `FailoverRun ${holder} holds this relationship; it is observed, not changed`);
      return requeueAfter(jitter(this.pollInterval(rr)));
    }

    // 4. One step towards the desired state.
    const desired = rr.spec.desiredState ?? "Mirrored";
    const caps = await ep.owner.getCapabilities(sig);
    const schedule = rr.spec.schedule;
    const action = plan({
      rel,
      desired,
      brokenByUs: status.brokenOffByOperator === true,
      scheduleSupported: caps.transferSchedule,
      schedule,
      updateIntervalMs: rr.spec.updateInterval ? parseDuration(rr.spec.updateInterval) : undefined,
      lastUpdateMs: latest(status.lastUpdateRequestedAt, status.newestSnapshot?.createTime),
      now: this.deps.clock.now(),
    });
    if (action.kind !== "none" && action.kind !== "wait" && action.kind !== "blocked") {
      const live = await this.deps.heldByLive(rr, sig);
      if (live) {
        cond.set(ConditionType.Ready, inDesiredState(rel, desired), "HeldByFailoverRun", `FailoverRun ${live} holds this relationship; it is observed, not changed`);
        return requeueAfter(jitter(this.pollInterval(rr)));
      }
    }
    return this.act(ctx, rr, status, cond, ep, rel, action, caps.transferSchedule, checkpoint);
  }

  private async act(
    ctx: ReconcileContext,
    rr: ReplicationRelationship,
    status: ReplicationRelationshipStatus,
    cond: ConditionSetter,
    ep: Endpoints,
    rel: SnapMirrorRelationship | undefined,
    action: Action,
    scheduleSupported: boolean,
    checkpoint: () => Promise<void>,
  ): Promise<Result> {
    const sig = ctx.signal;
    const desired = rr.spec.desiredState ?? "Mirrored";
    const start = (operation: string, ref: JobRef | Done): Result => {
      if (isJobRef(ref)) {
        status.pendingOperation = { id: ref.uuid, operation, startedAt: rfc3339(this.deps.clock.now()) };
        ctx.log.info({ ontapJob: ref.uuid, operation }, "Started SnapMirror operation");
        this.deps.events.normal(rr, `${operation}Started`, `${operation} of ${ep.source.svm}:${ep.source.volume} → ${ep.destination.svm}:${ep.destination.volume}`);
      }
      cond.set(ConditionType.Ready, false, "Reconciling", `${operation} in progress`);
      return requeueAfter(BUSY_POLL_MS);
    };
    const policy = rr.spec.policy?.name ?? (rr.spec.policy?.type === "Sync" ? "Sync" : "MirrorAllSnapshots");
    switch (action.kind) {
      case "create": {
        const spec = { source: ep.source, destination: ep.destination, policy, schedule: scheduleSupported ? rr.spec.schedule : undefined };
        return start(rr.spec.direction === "Reverse" ? "EstablishReverse" : "Create", rr.spec.direction === "Reverse" ? await ep.owner.establishReverse(spec, sig) : await ep.owner.createRelationship(spec, sig));
      }
      case "initialize":
        return start("Initialize", await ep.owner.initialize(rel!.uuid, sig));
      case "quiesce":
        return start("Quiesce", await ep.owner.quiesce(rel!.uuid, sig));
      case "resume":
        return start("Resume", await ep.owner.resume(rel!.uuid, sig));
      case "break":
        // Recorded (written) before the act: a crash right after the break must not leave it
        // looking like a break made outside this object, which would block the way back.
        status.brokenOffByOperator = true;
        await checkpoint();
        return start("Break", await ep.owner.breakOff(rel!.uuid, sig));
      case "resync":
        // brokenOffByOperator is cleared once the relationship is seen mirrored again (below).
        return start("Resync", await ep.owner.resync(rel!.uuid, sig));
      case "setSchedule":
        return start("SetSchedule", await ep.owner.setSchedule(rel!.uuid, action.schedule, sig));
      case "update":
        await ep.owner.update(rel!.uuid, sig);
        status.lastUpdateRequestedAt = rfc3339(this.deps.clock.now());
        ctx.log.info("Started SnapMirror update");
        return requeueAfter(BUSY_POLL_MS);
      case "wait":
        cond.set(ConditionType.Ready, false, action.reason, action.message);
        return requeueAfter(BUSY_POLL_MS);
      case "blocked":
        cond.set(ConditionType.Ready, false, action.reason, action.message);
        return requeueAfter(jitter(this.pollInterval(rr)));
      case "none":
        break;
    }
    // desiredState BrokenOff over a broken-off relationship makes the break this object's, whoever
    // made it: that is how an administrator acknowledges an outside break (a failover), after which
    // desiredState Mirrored resyncs deliberately. Cleared once the relationship is mirrored again.
    if (desired === "BrokenOff" && rel?.state === "broken_off") status.brokenOffByOperator = true;
    if (status.brokenOffByOperator && desired !== "BrokenOff" && rel?.state !== "broken_off") status.brokenOffByOperator = undefined;
    const healthy = rel?.healthy !== false;
    const scheduleNote = rr.spec.schedule && !scheduleSupported ? `; schedule "${rr.spec.schedule}" is not settable on this ONTAP version (the policy's applies)` : "";
    cond.set(ConditionType.Ready, healthy, healthy ? desired : "Unhealthy", healthy ? `${desired.toLowerCase()} as desired${scheduleNote}` : (rel?.unhealthyReasons.join("; ") ?? ""));
    return requeueAfter(jitter(this.pollInterval(rr)));
  }

  private async reconcileDelete(ctx: ReconcileContext, rr: ReplicationRelationship, status: ReplicationRelationshipStatus): Promise<Result> {
    const finish = async (): Promise<Result> => {
      this.deps.metrics.forget(rr.metadata.namespace ?? "", rr.metadata.name);
      await removeFinalizer(this.deps.kube, ReplicationRelationshipType, rr, FINALIZERS.replicationRelationship, ctx.signal);
      return done();
    };
    if ((rr.spec.deletionPolicy ?? "Retain") === "Retain") return finish();
    const ep = this.endpoints(rr);
    if (status.pendingOperation) {
      const job = await ep.owner.getJob({ kind: "job", uuid: status.pendingOperation.id }, ctx.signal);
      if (job.state === "queued" || job.state === "running") return requeueAfter(BUSY_POLL_MS);
      status.pendingOperation = undefined;
    }
    const rel = await ep.owner.findRelationship(ep.destination, ctx.signal);
    if (rel) {
      const ref = await ep.owner.deleteRelationship(rel.uuid, "destination_only", ctx.signal);
      if (isJobRef(ref)) status.pendingOperation = { id: ref.uuid, operation: "Delete", startedAt: rfc3339(this.deps.clock.now()) };
      return requeueAfter(BUSY_POLL_MS);
    }
    const atSource = await ep.other.findRelationshipAtSource(ep.destination, ctx.signal);
    if (atSource) {
      const ref = rr.spec.releaseDeletesSnapshots
        ? await ep.other.release(atSource.uuid, ctx.signal)
        : await ep.other.deleteRelationship(atSource.uuid, "source_info_only", ctx.signal);
      if (isJobRef(ref)) {
        status.pendingOperation = { id: ref.uuid, operation: "Release", startedAt: rfc3339(this.deps.clock.now()) };
        return requeueAfter(BUSY_POLL_MS);
      }
    }
    ctx.log.info("Released SnapMirror relationship");
    return finish();
  }

  private pollInterval(rr: ReplicationRelationship): number {
    const override = rr.metadata.annotations?.[ANNOTATIONS.pollInterval];
    if (override) {
      try {
        return Math.max(1_000, parseDuration(override));
      } catch {
        /* an invalid annotation falls back to the default */
      }
    }
    return this.deps.pollIntervalMs;
  }
}

function latest(...times: (string | undefined)[]): number | undefined {
  const ms = times.filter((t): t is string => t !== undefined).map((t) => Date.parse(t));
  return ms.length ? Math.max(...ms) : undefined;
}

