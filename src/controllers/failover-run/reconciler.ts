import { ANNOTATIONS, ConditionType, DISRUPTIVE_RUN_TYPES, FINALIZERS, FailoverRunType, ProtectionGroupType, Reason, findCondition } from "../../api/v1alpha1/index.js";
import type { FailoverRun, FailoverRunStatus, ProtectionGroup, StepRecord } from "../../api/v1alpha1/index.js";
import { advance } from "../../engine/runner.js";
import type { EngineDeps } from "../../engine/runner.js";
import type { PassOutcome, Poller, StepEvent } from "../../engine/types.js";
import { isConflict } from "../../kube/errors.js";
import type { KubeStore } from "../../kube/store.js";
import type { ObjectKey } from "../../kube/types.js";
import { ConflictError, OperatorError, TransientError } from "../../runtime/errors.js";
import type { ReconcileContext, Reconciler } from "../../runtime/controller.js";
import { done, requeueAfter } from "../../runtime/result.js";
import type { Result } from "../../runtime/result.js";
import { sleep } from "../../util/clock.js";
import type { Clock } from "../../util/clock.js";
import { durationSeconds } from "../../util/duration.js";
import type { FailoverMetrics, RunResult } from "../../metrics/failover.js";
import { ConditionSetter } from "../common/conditions.js";
import { ensureFinalizer, hasFinalizer, removeFinalizer } from "../common/finalizers.js";
import { RunContext } from "./context.js";
import type { RunWorld } from "./context.js";
import { planRun } from "./planning.js";
import type { PlanSources } from "./planning.js";
import { SELF_CLEANUP_STEPS } from "./plan.js";
import { stepsOf } from "./steps/index.js";
import { releaseHeld } from "./steps/claim.js";
import { RunStore } from "./store.js";
import type { ShardCache } from "./store.js";
import { finish, rtoSeconds } from "./status.js";

export interface FailoverRunDeps {
  readonly kube: KubeStore;
  readonly clock: Clock;
  readonly world: RunWorld;
  readonly poller: Poller;
  readonly sources: PlanSources;
  /** Test-only crash points (never set in production). */
  readonly crash?: EngineDeps["crash"];
  /** Run and step counters and durations, RTO and last successful test per group. */
  readonly metrics?: FailoverMetrics;
  /** The run as the informer has it now (to notice a cancellation or deletion during a long pass; never for the lock). */
  readonly cached?: (namespace: string, name: string) => FailoverRun | undefined;
  /** Called when a run starts or stops being active (the controller's inventory subscriptions). */
  readonly onActive?: (key: string, recoverySites: readonly string[] | undefined) => void;
}

const terminal = (s: FailoverRunStatus | undefined): boolean => {
  const c = findCondition(s?.conditions, ConditionType.Succeeded);
  return c !== undefined && c.status !== "Unknown";
};

/**
 * FailoverRun: a one-shot operation, advanced one engine transition per pass.
 *  1. A Test gets a finalizer first (deleting it cleans up what it made).
 *  2. The plan is computed once and written to status before anything is touched; dryRun stops there.
 *  3. A cancellation (annotation) or deletion takes effect at the next step boundary; a Test then
 *     cleans up after itself.
 *  4. Otherwise the engine advances the current step; the outcome sets Succeeded and Progressing.
 */
export class FailoverRunReconciler implements Reconciler {
  readonly name = "failoverrun";
  private readonly shards = new Map<string, ShardCache>();

  constructor(private readonly deps: FailoverRunDeps) {}

  async reconcile(ctx: ReconcileContext, key: ObjectKey): Promise<Result> {
    const { kube } = this.deps;
    const id = `${key.namespace}/${key.name}`;
    const run = await kube.get(FailoverRunType, key, ctx.signal);
    if (!run) {
      this.deps.onActive?.(id, undefined);
      this.shards.delete(id);
      return done();
    }
    if (needsFinalizer(run) && (await ensureFinalizer(kube, FailoverRunType, run, FINALIZERS.failoverRun, ctx.signal))) return done();
    const cache: ShardCache = this.shards.get(id) ?? new Map<string, { resourceVersion: string; json: string }>();
    this.shards.set(id, cache);
    const store = await RunStore.load(kube, run, cache, ctx.signal);
    const status = store.status;
    status.conditions ??= [];
    const cond = new ConditionSetter(status.conditions, run.metadata.generation, this.deps.clock);
    const wasTerminal = terminal(run.status);
    try {
      const r = await this.pass(ctx, store, cond);
      await store.checkpoint(ctx.signal);
      if (terminal(store.status)) {
        this.deps.onActive?.(id, undefined);
        if (!wasTerminal) this.recordOutcome(store);
      }
      return r;
    } catch (err) {
      if (err instanceof ConflictError) throw err; // our view is stale: re-read, write nothing
      const e = err instanceof OperatorError ? err : new TransientError(err instanceof Error ? err.message : String(err), "Error", { cause: err });
      if (!terminal(status)) cond.set(ConditionType.Progressing, true, e.reason, `waiting: ${e.message}`);
      await store.checkpoint(ctx.signal).catch(() => undefined);
      throw e;
    }
  }

  private async pass(ctx: ReconcileContext, store: RunStore, cond: ConditionSetter): Promise<Result> {
    const run = store.run;
    const status = store.status;
    const deleting = run.metadata.deletionTimestamp !== undefined;
    if (terminal(status) && !deleting) return done();
    if (!status.plan) {
      if (deleting) return this.release(ctx, store);
      return this.plan(ctx, store, cond);
    }
    if (run.spec.dryRun) return deleting ? this.release(ctx, store) : done();

    this.deps.onActive?.(`${run.metadata.namespace}/${run.metadata.name}`, store.status.plan ? this.recoverySites(store) : undefined);
    const cancel = run.metadata.annotations?.[ANNOTATIONS.cancel] === "true";
    if ((cancel || deleting) && DISRUPTIVE_RUN_TYPES.includes(run.spec.type)) {
      const stop = await this.stopDisruptive(ctx, store, cond, cancel);
      if (stop) return stop;
    } else if ((cancel || deleting) && status.cleanupSteps === undefined && atBoundary(store)) {
      if (run.spec.type !== "Test" || !claimed(status)) {
        skipRemaining(status.steps ?? [], cancel ? "cancelled" : "the run was deleted", this.deps.clock.now());
        if (deleting) return this.release(ctx, store);
        await this.giveBack(ctx, store);
        finish(status, cond, "Cancelled", "cancelled before it changed anything", this.deps.clock.now());
        return done();
      }
      skipRemaining(status.steps ?? [], cancel ? "cancelled: cleaning up" : "deleted: cleaning up", this.deps.clock.now());
      status.cleanupSteps = SELF_CLEANUP_STEPS.map((name) => ({ name, state: "Pending", attempts: 0 }));
      this.deps.world.events.normal(run, "CleaningUp", `${cancel ? "cancelled" : "deleted"}: the Test cleans up after itself`);
    }
    if (deleting && status.cleanupSteps === undefined && !DISRUPTIVE_RUN_TYPES.includes(run.spec.type) && (run.spec.type !== "Test" || status.cleanedUpBy)) return this.release(ctx, store);
    await this.unblock(ctx, store);

    store.phase = status.cleanupSteps !== undefined ? "cleanup" : "main";
    const groups = await this.groups(ctx, store);
    const rctx = new RunContext(store, this.deps.world, groups, ctx.log, ctx.signal);
    const outcome = await advance(store, stepsOf(run.spec.type, store.phase), rctx, this.engineDeps(ctx, store, rctx), ctx.signal);
    return this.conclude(ctx, store, rctx, cond, outcome);
  }

  private async conclude(ctx: ReconcileContext, store: RunStore, rctx: RunContext, cond: ConditionSetter, outcome: PassOutcome): Promise<Result> {
    const { status } = store;
    const now = this.deps.clock.now();
    switch (outcome.kind) {
      case "Continue": {
        const step = status.currentStep ?? "";
        cond.set(ConditionType.Succeeded, "Unknown", Reason.Running, `running ${step}`);
        cond.set(ConditionType.Progressing, true, "StepRunning", `${step}: ${store.steps.find((s) => s.name === step)?.message ?? "started"}`);
        return requeueAfter(outcome.requeueAfterMs);
      }
      case "Blocked":
        cond.set(ConditionType.Succeeded, "Unknown", Reason.Blocked, `${outcome.step} is blocked: ${outcome.message}`);
        cond.set(ConditionType.Progressing, false, outcome.reason, `${outcome.message}. After checking, annotate the run with ${ANNOTATIONS.unblock}=${outcome.step} to retry the step`);
        ctx.log.error({ step: outcome.step, reason: outcome.reason }, "FailoverRun blocked; a human must check");
        return done();
      case "Failed":
        if (outcome.step === "ClaimGroups" || (DISRUPTIVE_RUN_TYPES.includes(store.run.spec.type) && !committed(status))) await releaseHeld(rctx);
        finish(status, cond, outcome.reason, `${outcome.step} failed: ${outcome.message}${committed(status) ? resumeHint(store.run) : ""}`, now);
        return done();
      case "Finished":
        return this.finished(ctx, store, cond);
    }
    return done();
  }

  /**
   * A disruptive run asked to stop. Before its point of no return (CommitFailover) it stops at the
   * next step boundary and gives its groups back; what it did (VMs shut down at the protected site,
   * a final update) is left as it is, and said so. After it, a cancellation is refused (the
   * annotation is removed, with a warning) and a deletion lets the run go while the groups stay
   * held and marked failing over: a new run of the same type resumes, or a Failback returns them.
   */
  private async stopDisruptive(ctx: ReconcileContext, store: RunStore, cond: ConditionSetter, cancel: boolean): Promise<Result | undefined> {
    const { run, status } = store;
    const deleting = run.metadata.deletionTimestamp !== undefined;
    const events = this.deps.world.events;
    if (committed(status)) {
      if (deleting) {
        events.warning(run, "DeletedAfterCommit", `deleted after its point of no return: ${status.plan?.groups.join(", ") ?? ""} stay held and marked failing over; apply a new ${run.spec.type} run to finish, or a Failback`);
        return this.letGo(ctx, store);
      }
      await this.deps.kube.mergePatch(FailoverRunType, { namespace: run.metadata.namespace, name: run.metadata.name }, { metadata: { annotations: { [ANNOTATIONS.cancel]: null } } }, ctx.signal);
      events.warning(run, "CancelRefused", `${run.spec.type} is past its point of no return (CommitFailover): it cannot be cancelled; it runs to its end, after which a Failback returns the groups`);
      return undefined;
    }
    if (!atBoundary(store)) return undefined;
    skipRemaining(status.steps ?? [], cancel ? "cancelled" : "the run was deleted", this.deps.clock.now());
    if (deleting) return this.release(ctx, store);
    await this.giveBack(ctx, store);
    const shut = (status.steps ?? []).some((r) => r.name === "ShutdownProtectedVms" && r.state !== "Pending" && r.state !== "Skipped") || store.vms.some((v) => v.op?.step === "ShutdownProtectedVms");
    const left = shut ? "; VMs shut down at the protected site were left off: power them on there if the migration is abandoned" : "";
    finish(status, cond, Reason.Cancelled, `cancelled before its point of no return: no mirror was quiesced or broken${left}`, this.deps.clock.now());
    return done();
  }

  /** Every step is through: the run's outcome, and what it means for the Test it may clean up. */
  private async finished(ctx: ReconcileContext, store: RunStore, cond: ConditionSetter): Promise<Result> {
    const { status, run } = store;
    const now = this.deps.clock.now();
    if (store.phase === "cleanup") {
      status.cleanedUpBy = run.metadata.name;
      const cancelled = run.metadata.annotations?.[ANNOTATIONS.cancel] === "true";
      finish(status, cond, Reason.Cancelled, `${cancelled ? "cancelled" : "deleted"}; cleaned up: ${status.cleanup?.removed.length ?? 0} object(s) removed and verified`, now);
      if (run.metadata.deletionTimestamp) return this.release(ctx, store);
      return done();
    }
    if (run.spec.type === "CleanupTest") {
      await this.markCleaned(ctx, store);
      finish(status, cond, Reason.CleanedUp, `Test ${status.testRun ?? ""} cleaned up: ${status.cleanup?.removed.length ?? 0} object(s) removed, nothing left (verified)`, now, true);
      return done();
    }
    status.rtoSeconds = rtoSeconds(store);
    const failed = store.vms.filter((v) => v.state === "Failed" || v.state === "Skipped");
    if (failed.length) {
      finish(status, cond, Reason.VmsFailed, `${store.vms.length - failed.length} of ${store.vms.length} VM(s) ready; ${failed.slice(0, 5).map((v) => `${v.name}: ${v.message ?? v.state}`).join("; ")}`, now);
    } else if (run.spec.type === "Test") {
      await this.recordProven(ctx, store, now);
      finish(status, cond, Reason.Succeeded, `${store.vms.length} VM(s) ready in ${status.rtoSeconds ?? 0}s; run a CleanupTest (or delete this run) to remove the test`, now, true);
    } else if (run.spec.type === "Reprotect") {
      // A Reprotect starts no VM: its news is the replication, not an RTO.
      finish(status, cond, Reason.Succeeded, `protected again: ${status.volumes?.length ?? 0} relationship(s) replicating from the protected site, ${store.vms.length} VM(s) covered`, now, true);
    } else {
      finish(status, cond, Reason.Succeeded, `${store.vms.length} VM(s) ready in ${status.rtoSeconds ?? 0}s`, now, true);
    }
    return done();
  }

  private async plan(ctx: ReconcileContext, store: RunStore, cond: ConditionSetter): Promise<Result> {
    const now = this.deps.clock.now();
    const result = await planRun(store, this.deps.sources, ctx.signal);
    if (result.kind === "Wait") {
      cond.set(ConditionType.Succeeded, "Unknown", result.reason, result.message);
      cond.set(ConditionType.Progressing, false, result.reason, result.message);
      return requeueAfter(result.retryAfterMs);
    }
    if (result.kind === "Refused") {
      finish(store.status, cond, result.reason, `refused before anything was touched: ${result.message}`, now);
      this.deps.world.events.warning(store.run, result.reason, result.message);
      return done();
    }
    store.status.startedAt = new Date(now).toISOString();
    this.deps.world.events.normal(store.run, Reason.Planned, `planned: ${store.status.plan?.vmCount ?? 0} VM(s) of ${store.status.plan?.groups.join(", ") ?? ""} in ${store.status.plan?.steps.length ?? 0} steps`);
    if (store.run.spec.dryRun) {
      finish(store.status, cond, Reason.DryRun, "dry run: the plan is in status.plan; nothing was changed", now, true);
      return done();
    }
    cond.set(ConditionType.Succeeded, "Unknown", Reason.Running, "planned");
    cond.set(ConditionType.Progressing, true, Reason.Planned, `${store.status.plan?.vmCount ?? 0} VM(s) to recover`);
    return requeueAfter(0);
  }

  /** Metrics of a run that has just ended: its result and duration; for a Test, RTO and last success per group. */
  private recordOutcome(store: RunStore): void {
    const m = this.deps.metrics;
    const { status, run } = store;
    if (!m || run.spec.dryRun) return;
    const c = findCondition(status.conditions, ConditionType.Succeeded);
    const result: RunResult = c?.status === "True" ? "succeeded" : c?.reason === Reason.Cancelled ? "cancelled" : "failed";
    const end = status.completedAt ? Date.parse(status.completedAt) : this.deps.clock.now();
    m.runFinished(run.spec.type, result, status.startedAt ? Math.max(0, (end - Date.parse(status.startedAt)) / 1000) : 0);
    if (run.spec.type !== "Test" || result !== "succeeded") return;
    for (const g of status.plan?.groups ?? []) {
      if (status.rtoSeconds !== undefined) m.recordRto(run.metadata.namespace ?? "", g, run.spec.type, status.rtoSeconds, end);
      m.testSucceeded(run.metadata.namespace ?? "", g, end);
    }
  }

  /**
   * A Test succeeded: each group's status.lastSuccessfulTest says so (what `kubectl get pg` shows
   * as Tested), with the RTO against the group's objective. Read live and written conditionally,
   * as the lock is; a conflict retries the pass, and the write is the same when repeated.
   */
  private async recordProven(ctx: ReconcileContext, store: RunStore, now: number): Promise<void> {
    const { run, status } = store;
    const completedAt = new Date(now).toISOString();
    for (const g of (await this.groups(ctx, store)).values()) {
      const prev = g.status?.lastSuccessfulTest;
      if (prev && (prev.run === run.metadata.name || prev.completedAt > completedAt)) continue;
      const objective = g.spec.objectives?.rto === undefined ? undefined : durationSeconds(g.spec.objectives.rto);
      const met = objective !== undefined && status.rtoSeconds !== undefined ? status.rtoSeconds <= objective : undefined;
      const proven = { run: run.metadata.name, completedAt, ...(status.rtoSeconds !== undefined ? { rtoSeconds: status.rtoSeconds } : {}), ...(met !== undefined ? { rtoObjectiveMet: met } : {}) };
      try {
        await this.deps.kube.replaceStatus(ProtectionGroupType, { ...g, status: { ...(g.status ?? {}), lastSuccessfulTest: proven } }, ctx.signal);
      } catch (err) {
        if (isConflict(err)) throw new ConflictError(`ProtectionGroup ${g.metadata.name} changed while recording its successful test`, "Conflict", { cause: err });
        throw err;
      }
    }
  }

  /** The run's groups as the API server has them now. */
  private async groups(ctx: ReconcileContext, store: RunStore): Promise<Map<string, ProtectionGroup>> {
    const out = new Map<string, ProtectionGroup>();
    for (const name of store.status.plan?.groups ?? []) {
      const g = await this.deps.kube.get(ProtectionGroupType, { namespace: store.run.metadata.namespace, name }, ctx.signal);
      if (g) out.set(name, g);
    }
    return out;
  }

  private recoverySites(store: RunStore): string[] {
    const sites = new Set<string>();
    for (const name of store.status.plan?.groups ?? []) {
      const g = this.deps.sources.group(store.run.metadata.namespace ?? "", name);
      if (!g) continue;
      sites.add(g.spec.recoverySiteRef);
      // Runs that move a group back, or fence it at its source, watch both of its sites.
      if (store.run.spec.type !== "Test" && store.run.spec.type !== "CleanupTest") sites.add(g.spec.protectedSiteRef);
    }
    return [...sites];
  }

  /** A human checked a blocked step: retry it (the annotation names the step). */
  private async unblock(ctx: ReconcileContext, store: RunStore): Promise<void> {
    const want = store.run.metadata.annotations?.[ANNOTATIONS.unblock];
    const rec = store.steps.find((s) => s.state === "Blocked");
    if (!want || !rec || rec.name !== want) return;
    Object.assign(rec, { state: "Running", intentAt: undefined, notBefore: undefined, message: `unblocked by ${ANNOTATIONS.unblock}` });
    for (const v of [...store.vms, ...(store.status.volumes ?? [])]) if (v.op?.step === rec.name && v.op.intentAt && !v.op.handle) v.op.intentAt = undefined;
    await this.deps.kube.mergePatch(FailoverRunType, { namespace: store.run.metadata.namespace, name: store.run.metadata.name }, { metadata: { annotations: { [ANNOTATIONS.unblock]: null } } }, ctx.signal);
    this.deps.world.events.normal(store.run, "Unblocked", `${rec.name} retried after a human check`);
    ctx.log.info({ step: rec.name }, "Unblocked FailoverRun step");
  }

  /** Gives back any group this run holds (a run cancelled before it changed anything). */
  private async giveBack(ctx: ReconcileContext, store: RunStore): Promise<void> {
    await releaseHeld(new RunContext(store, this.deps.world, await this.groups(ctx, store), ctx.log, ctx.signal));
  }

  /** The run is deleted and has nothing left to clean: give back its groups and let it go. */
  private async release(ctx: ReconcileContext, store: RunStore): Promise<Result> {
    await this.giveBack(ctx, store);
    this.deps.onActive?.(`${store.run.metadata.namespace}/${store.run.metadata.name}`, undefined);
    if (hasFinalizer(store.run, FINALIZERS.failoverRun)) {
      await store.checkpoint(ctx.signal);
      await removeFinalizer(this.deps.kube, FailoverRunType, store.run, FINALIZERS.failoverRun, ctx.signal);
    }
    return done();
  }

  /** The run is deleted after its point of no return: its finalizer goes, its groups stay held. */
  private async letGo(ctx: ReconcileContext, store: RunStore): Promise<Result> {
    this.deps.onActive?.(`${store.run.metadata.namespace}/${store.run.metadata.name}`, undefined);
    if (hasFinalizer(store.run, FINALIZERS.failoverRun)) {
      await store.checkpoint(ctx.signal);
      await removeFinalizer(this.deps.kube, FailoverRunType, store.run, FINALIZERS.failoverRun, ctx.signal);
    }
    return done();
  }

  /** A CleanupTest tells its Test it is clean (so deleting the Test removes nothing more). */
  private async markCleaned(ctx: ReconcileContext, store: RunStore): Promise<void> {
    const name = store.status.testRun;
    if (!name) return;
    const test = await this.deps.kube.get(FailoverRunType, { namespace: store.run.metadata.namespace, name }, ctx.signal);
    if (!test || test.status?.cleanedUpBy) return;
    await this.deps.kube.replaceStatus(FailoverRunType, { ...test, status: { ...(test.status ?? {}), cleanedUpBy: store.run.metadata.name } }, ctx.signal);
  }

  private engineDeps(ctx: ReconcileContext, store: RunStore, rctx: RunContext): EngineDeps {
    const { run } = store;
    const { events, changed } = this.deps.world;
    const warn: readonly StepEvent[] = ["Failed", "Blocked", "Retrying"];
    // The Sites whose inventory changes wake a streaming pass: those the run watches.
    const sites = this.recoverySites(store);
    return {
      clock: this.deps.clock,
      poller: this.deps.poller,
      log: ctx.log,
      // Batch steps that stream refill their slots as the Sites report changes (setup.ts), and
      // stop refilling when someone asks something of the run (the next pass handles it).
      ...(changed
        ? {
            wait: (ms: number, signal: AbortSignal, wake: boolean) => (wake ? changed(sites, ms, signal) : sleep(this.deps.clock, ms, signal)),
            refresh: () => rctx.refresh(),
            interrupted: () => interrupts(run, this.deps.cached?.(run.metadata.namespace ?? "", run.metadata.name)),
          }
        : {}),
      // Crash points are named per run type: a CleanupTest's ClaimGroups is not its Test's.
      ...(this.deps.crash ? { crash: (point, step) => this.deps.crash?.(point, `${run.spec.type}/${step}`) } : {}),
      onStep: (rec: StepRecord, event: StepEvent, message: string) => {
        const result = event === "Succeeded" ? "succeeded" : event === "Failed" ? "failed" : event === "Blocked" ? "blocked" : undefined;
        if (result) this.deps.metrics?.stepFinished(rec.name, result, secondsSince(rec.startedAt, this.deps.clock.now()));
        if (warn.includes(event)) events.warning(run, `Step${event}`, `${rec.name}: ${message}`);
        else events.normal(run, `Step${event}`, `${rec.name}: ${message}`);
        ctx.log.info({ step: rec.name, event }, `Step ${event.toLowerCase()}`);
      },
    };
  }
}

const secondsSince = (iso: string | undefined, now: number): number => (iso ? Math.max(0, (now - Date.parse(iso)) / 1000) : 0);

/** Whether the run as cached now asks for a new look: cancelled or deleted since the pass read it (a cleanup after either goes on). */
function interrupts(read: FailoverRun, now: FailoverRun | undefined): boolean {
  const cancelled = (r: FailoverRun | undefined): boolean => r?.metadata.annotations?.[ANNOTATIONS.cancel] === "true";
  const deleted = (r: FailoverRun | undefined): boolean => r?.metadata.deletionTimestamp !== undefined;
  return (cancelled(now) && !cancelled(read)) || (deleted(now) && !deleted(read));
}

/** No operation of the current step is in flight (cancellation waits for that). */
function atBoundary(store: RunStore): boolean {
  const rec = store.steps.find((s) => s.state === "Running" || s.state === "Pending");
  if (!rec) return true;
  if (rec.operations?.length) return false;
  return ![...store.vms, ...(store.status.volumes ?? [])].some((x) => x.op?.step === rec.name && x.op.handle !== undefined);
}

/** Runs that take groups get a finalizer: deleting one gives its groups back (a Test also cleans up). */
const needsFinalizer = (run: FailoverRun): boolean =>
  !run.metadata.deletionTimestamp && !run.spec.dryRun && (run.spec.type === "Test" || DISRUPTIVE_RUN_TYPES.includes(run.spec.type)) && !terminal(run.status);

const resumeHint = (run: FailoverRun): string =>
  `. The groups stay held and marked failing over: fix the cause and apply a new ${run.spec.type} run (it resumes from what is done), or fail back`;

/** A disruptive run passed its point of no return: the groups are marked failing over. */
function committed(s: FailoverRunStatus): boolean {
  return (s.steps ?? []).some((r) => r.name === "CommitFailover" && r.state !== "Pending" && r.state !== "Skipped");
}

/** The Test took its groups: from then on its cancellation or deletion must clean up. */
function claimed(s: FailoverRunStatus): boolean {
  return (s.steps ?? []).some((r) => r.name === "ClaimGroups" && r.state !== "Pending");
}

function skipRemaining(steps: StepRecord[], why: string, now: number): void {
  for (const s of steps) {
    if (s.state === "Pending" || s.state === "Running") Object.assign(s, { state: "Skipped", message: why, completedAt: new Date(now).toISOString(), operations: undefined });
  }
}
