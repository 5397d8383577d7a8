import type { Logger } from "../log/logger.js";
import { OperatorError, messageOf } from "../runtime/errors.js";
import type { WaitError } from "../runtime/errors.js";
import { backoffDelay } from "../util/backoff.js";
import type { Clock } from "../util/clock.js";
import { handleKey } from "./types.js";
import type {
  BatchItem, BatchStep, Handle, ItemObservation, Observation, PassOutcome, PolledOp, Poller, RunHost, SingleStep, Step, StepEvent, StepRecord,
} from "./types.js";

/** Where a test can make the process die (test/harness crash points); never set in production. */
export type CrashPoint = "after-intent" | "before-act" | "after-act" | "after-checkpoint" | "step-boundary";

export interface EngineDeps {
  readonly clock: Clock;
  readonly poller: Poller;
  readonly log: Logger;
  /** Called at every step start, success, failure, block, retry and skip (for Events and metrics). */
  readonly onStep?: (rec: StepRecord, event: StepEvent, message: string) => void;
  /**
   * Streaming passes (batch steps that ask for them): waits ms or, with wake, until the world the
   * run works on changes (an inventory update at its Sites), whichever is first. Without it every
   * batch step runs one window per pass.
   */
  readonly wait?: (ms: number, signal: AbortSignal, wake: boolean) => Promise<void>;
  /** Streaming passes: called before each look, so observe sees the world as it is now. */
  readonly refresh?: () => void;
  /** Streaming passes: true when the run should be looked at afresh (cancelled, deleted): the pass stops refilling and ends. */
  readonly interrupted?: () => boolean;
  /** Test-only: called at each crash point; may end the process. */
  readonly crash?: (point: CrashPoint, step: string) => void;
}

const DEFAULT_ATTEMPTS = 3;
/** How soon to look again after starting operations, when nothing else says (events usually come first). */
const AFTER_START_MS = 1_000;
/** How long to stay away after a transient failure of an act (unreachable endpoint and the like). */
const TRANSIENT_RETRY_MS = 5_000;
const RETRY_BACKOFF = { baseMs: 2_000, maxMs: 60_000 };
/**
 * A streaming pass: how long it may go on (it also ends when the run is interrupted), how often it
 * checkpoints, how long it waits for a change before it looks anyway, and how close together its
 * looks may be.
 */
const STREAM_PASS_MS = 30_000;
const STREAM_SAVE_MS = 1_000;
const LOOK_INTERVAL_MS = 150;
const LOOK_SPACING_MS = 50;

const iso = (ms: number): string => new Date(ms).toISOString();
/** A handle the poll did not answer for: the system does not know it (any more). */
const unknownOp = (handle: Handle): PolledOp => ({ handle, state: "unknown" });
const terminal = (r: StepRecord): boolean => r.state === "Succeeded" || r.state === "Failed" || r.state === "Skipped";

/** The first step that has not finished, or undefined when the run is through. */
export function currentStep(steps: readonly StepRecord[]): StepRecord | undefined {
  return steps.find((r) => !terminal(r));
}

/**
 * Advances a run by one transition of its current step, and persists it (one pass):
 *  1. the current step is the first one not finished; a Blocked step stays blocked (a human unblocks it);
 *  2. its operations (and, for a batch step, its items' operations) are polled in one round trip
 *     per system, and observe looks at the world with what the poll said;
 *  3. observe's answer decides: done → the step succeeds; in progress → poll later; needs act → act;
 *     blocked or failed → the run stops there;
 *  4. before a non-idempotent act the intent is checkpointed; after it the handles are;
 *  5. failed operations count against the step's (or the item's) attempts and are retried with
 *     backoff until those run out; a transient error of an act (an unreachable endpoint) is waited
 *     out without counting, so an outage of a minute does not fail a run.
 * Errors from observe (the world cannot be read) propagate: the caller requeues with backoff.
 */
export async function advance<C>(host: RunHost, steps: readonly Step<C>[], ctx: C, deps: EngineDeps, signal: AbortSignal): Promise<PassOutcome> {
  const rec = currentStep(host.steps);
  if (!rec) return { kind: "Finished" };
  if (rec.state === "Blocked") return { kind: "Blocked", step: rec.name, reason: "Blocked", message: rec.message ?? "" };
  const step = steps.find((s) => s.name === rec.name);
  if (!step) throw new Error(`run has a step record "${rec.name}" that its plan does not define`);
  const r = new Pass(host, rec, deps, signal);
  if (rec.state === "Pending") {
    const skipped = step.skip?.(ctx);
    if (skipped !== undefined) return r.skip(skipped);
  }
  return step.kind === "single" ? r.single(step, ctx) : r.batch(step, ctx);
}

class Pass {
  constructor(
    private readonly host: RunHost,
    private readonly rec: StepRecord,
    private readonly deps: EngineDeps,
    private readonly signal: AbortSignal,
  ) {}

  private now(): number {
    return this.deps.clock.now();
  }

  private async save(): Promise<void> {
    await this.host.checkpoint(this.signal);
  }

  private crash(point: CrashPoint): void {
    this.deps.crash?.(point, this.rec.name);
  }

  private emit(event: StepEvent, message: string): void {
    this.deps.onStep?.(this.rec, event, message);
  }

  async skip(message: string): Promise<PassOutcome> {
    Object.assign(this.rec, { state: "Skipped", message, completedAt: iso(this.now()) });
    this.emit("Skipped", message);
    await this.save();
    this.crash("step-boundary");
    return { kind: "Continue", requeueAfterMs: 0 };
  }

  private begin(): void {
    if (this.rec.state === "Pending") {
      this.rec.state = "Running";
      this.rec.startedAt ??= iso(this.now());
      this.emit("Started", `started ${this.rec.name}`);
    }
  }

  private async succeed(message: string | undefined): Promise<PassOutcome> {
    this.begin();
    Object.assign(this.rec, { state: "Succeeded", completedAt: iso(this.now()), intentAt: undefined, notBefore: undefined, operations: undefined });
    this.rec.message = message;
    this.emit("Succeeded", message ?? `${this.rec.name} succeeded`);
    await this.save();
    this.crash("step-boundary");
    return { kind: "Continue", requeueAfterMs: 0 };
  }

  private async stop(kind: "Failed" | "Blocked", reason: string, message: string): Promise<PassOutcome> {
    this.begin();
    Object.assign(this.rec, { state: kind, message, ...(kind === "Failed" ? { completedAt: iso(this.now()) } : {}) });
    this.emit(kind, message);
    await this.save();
    return { kind, step: this.rec.name, reason, message };
  }

  private async wait(ms: number, message: string | undefined): Promise<PassOutcome> {
    this.begin();
    if (message !== undefined) this.rec.message = message;
    await this.save();
    return { kind: "Continue", requeueAfterMs: Math.max(0, ms) };
  }

  private async poll(handles: readonly Handle[]): Promise<Map<string, PolledOp>> {
    return handles.length ? this.deps.poller.poll(handles, this.signal) : new Map();
  }

  // ---- single steps -----------------------------------------------------------------------

  async single<C>(step: SingleStep<C>, ctx: C): Promise<PassOutcome> {
    const rec = this.rec;
    const max = step.maxAttempts ?? DEFAULT_ATTEMPTS;
    const polled = await this.poll(rec.operations ?? []);
    const ops = (rec.operations ?? []).map((h) => polled.get(handleKey(h)) ?? unknownOp(h));
    const running = ops.filter((o) => o.state === "running").map((o) => o.handle);
    const failures = ops.filter((o) => o.state === "failure");
    let obs: Observation;
    try {
      obs = await step.observe(ctx, rec, ops);
    } catch (err) {
      // A permanent problem seen while observing (a spec the world contradicts) fails the step;
      // anything else is retried by the reconciler's backoff.
      if (err instanceof OperatorError && err.class === "Permanent") return this.stop("Failed", err.reason, messageOf(err));
      throw err;
    }
    rec.operations = running.length ? running : undefined;

    if (obs.kind === "Done") return this.succeed(obs.message);
    if (obs.kind === "Blocked") return this.stop("Blocked", obs.reason, obs.message);
    if (obs.kind === "Failed") return this.stop("Failed", obs.reason, obs.message);
    if (obs.kind === "InProgress") return this.wait(obs.pollAfterMs, obs.message);
    if (running.length) return this.wait(AFTER_START_MS, `waiting for ${running.length} operation(s)`);
    if (failures.length) {
      const why = failures.map((f) => messageOf(f.error ?? "operation failed")).join("; ");
      if (rec.attempts >= max) return this.stop("Failed", "StepFailed", `${why} (after ${rec.attempts} attempt(s))`);
      const delay = backoffDelay(rec.attempts - 1, RETRY_BACKOFF);
      rec.notBefore = iso(this.now() + delay);
      this.emit("Retrying", `attempt ${rec.attempts} of ${max} failed: ${why}`);
      return this.wait(delay, `attempt ${rec.attempts} of ${max} failed: ${why}; retrying`);
    }
    if (obs.kind === "Unknown" && rec.intentAt && !step.idempotent) {
      return this.stop("Blocked", "CreateIncomplete", `cannot tell whether the ${rec.name} started at ${rec.intentAt} happened: ${obs.why}`);
    }
    if (obs.kind === "NeedsAct" && rec.intentAt && !step.idempotent) {
      // An intent without a handle: the process stopped between the act and its checkpoint, and
      // observe sees no effect. Repeating a non-idempotent act could do it twice.
      return this.stop("Blocked", "CreateIncomplete", `${rec.name} was started at ${rec.intentAt} but its outcome was not recorded and cannot be observed`);
    }
    const wait = rec.notBefore ? Date.parse(rec.notBefore) - this.now() : 0;
    if (wait > 0) return this.wait(wait, undefined);
    if (rec.attempts >= max) return this.stop("Failed", "StepFailed", rec.message ?? `no attempts left (${max})`);
    return this.actSingle(step, ctx);
  }

  private async actSingle<C>(step: SingleStep<C>, ctx: C): Promise<PassOutcome> {
    const rec = this.rec;
    this.begin();
    rec.attempts += 1;
    rec.notBefore = undefined;
    if (!step.idempotent) {
      rec.intentAt = iso(this.now());
      await this.save();
      this.crash("after-intent");
    }
    this.crash("before-act");
    let result;
    try {
      result = await step.act(ctx, rec);
    } catch (err) {
      return this.actFailed(err, step.idempotent, (m) => (rec.message = m));
    }
    this.crash("after-act");
    rec.intentAt = undefined;
    if (result.kind === "Started") {
      rec.operations = [...(rec.operations ?? []), ...result.handles];
      rec.message = `waiting for ${result.handles.length} operation(s)`;
    }
    await this.save();
    this.crash("after-checkpoint");
    return { kind: "Continue", requeueAfterMs: result.kind === "Started" ? AFTER_START_MS : 0 };
  }

  /** An act threw: permanent → the step fails; wait → back off without counting; otherwise wait out the trouble. */
  private async actFailed(err: unknown, idempotent: boolean, setMessage: (m: string) => void): Promise<PassOutcome> {
    const rec = this.rec;
    const message = messageOf(err);
    if (err instanceof OperatorError && err.class === "Permanent") {
      rec.intentAt = undefined;
      return this.stop("Failed", err.reason, message);
    }
    rec.attempts -= 1; // the act did not run to an outcome: not an attempt
    const delay = err instanceof OperatorError && err.class === "Wait" ? (err as WaitError).retryAfterMs : TRANSIENT_RETRY_MS;
    // A refused act (Wait) did not happen; after a transient error it may have, so a
    // non-idempotent step keeps its intent and the next observe decides.
    if (idempotent || (err instanceof OperatorError && err.class === "Wait")) rec.intentAt = undefined;
    rec.notBefore = iso(this.now() + delay);
    setMessage(`waiting: ${message}`);
    this.deps.log.warn({ step: rec.name, err }, "Step action failed; will retry");
    await this.save();
    return { kind: "Continue", requeueAfterMs: delay };
  }

  // ---- batch steps ------------------------------------------------------------------------

  async batch<C, I extends BatchItem>(step: BatchStep<C, I>, ctx: C): Promise<PassOutcome> {
    const rec = this.rec;
    const items = step.items(ctx);
    for (const it of items) if (it.op?.step !== step.name) it.op = { step: step.name, attempts: 0 };
    const t0 = performance.now();
    const look = await this.look(step, ctx, items, new Set<I>());
    if (look.fail) return this.stop("Failed", look.fail.reason, look.fail.message);
    if (look.unknown.length) {
      const { unknown } = look;
      return this.stop(
        "Blocked",
        "CreateIncomplete",
        `${rec.name} started on ${unknown.length} item(s) whose outcome was not recorded and cannot be observed: ${unknown.slice(0, 10).join(", ")}${unknown.length > 10 ? ", …" : ""}`,
      );
    }
    const through = this.through(step, items);
    if (through) return through;
    if (step.stream && step.idempotent && this.deps.wait) return this.stream(step, ctx, items, look);

    const now = this.now();
    const { followUps, candidates, inflight, minPoll } = look;
    const done = items.filter((it) => it.op!.done);
    const window = [...followUps, ...candidates.slice(0, Math.max(0, step.concurrency(ctx) - inflight))];
    const t2 = performance.now();
    this.begin();
    rec.message = `${done.length} of ${items.length} done, ${inflight + window.length - followUps.length} in progress`;
    if (window.length === 0) return this.wait(Number.isFinite(minPoll) ? minPoll : AFTER_START_MS, undefined);
    for (const it of window) this.claim(step, it, now);
    if (!step.idempotent) {
      await this.save();
      this.crash("after-intent");
    }
    this.crash("before-act");
    const permanent = (await Promise.all(window.map((it) => this.actItem(step, ctx, it, now)))).find((p) => p !== undefined);
    this.crash("after-act");
    const t3 = performance.now();
    if (permanent) return this.stop("Failed", permanent.reason, permanent.message);
    rec.message = `${done.length} of ${items.length} done, ${window.length - followUps.length + inflight} in progress`;
    await this.save();
    this.crash("after-checkpoint");
    const ms = (a: number, b: number): number => Math.round(b - a);
    this.deps.log.debug(
      { step: rec.name, items: items.length, done: done.length, acted: window.length, followUps: followUps.length, inflight, lookMs: ms(t0, t2), actMs: ms(t2, t3), saveMs: ms(t3, performance.now()) },
      "Batch pass",
    );
    return { kind: "Continue", requeueAfterMs: Math.min(minPoll, AFTER_START_MS) };
  }

  /**
   * One look at a batch step's live items (all but those whose act is under way): their handles
   * polled in one round trip per system, the step's preparation, and observe for each. Settles
   * what observe settles (done, failed, skipped, timed out, attempts used up) on the items' records.
   */
  private async look<C, I extends BatchItem>(step: BatchStep<C, I>, ctx: C, items: readonly I[], acting: ReadonlySet<I>, parked?: Map<I, number>): Promise<Look<I>> {
    const now = this.now();
    const max = step.maxAttempts ?? DEFAULT_ATTEMPTS;
    const live = items.filter((it) => !it.op!.done && !acting.has(it));
    const busy = live.filter((it) => it.op!.handle).length + acting.size;
    const polled = await this.poll(live.flatMap((it) => (it.op!.handle ? [it.op!.handle] : [])));
    await step.prepare?.(ctx, live, this.signal, Math.max(0, step.concurrency(ctx) - busy));
    const out: Look<I> = { candidates: [], followUps: [], inflight: 0, minPoll: Infinity, unknown: [] };
    const mono = this.deps.clock.monotonic();
    for (const it of live) {
      const op = it.op!;
      const p = op.handle ? (polled.get(handleKey(op.handle)) ?? unknownOp(op.handle)) : undefined;
      if (!p && (parked?.get(it) ?? 0) > mono) continue; // observed lately and asked to be left a while (readiness probes)
      let obs: ItemObservation;
      try {
        obs = await step.observeItem(ctx, it, p);
      } catch (err) {
        if (!(err instanceof OperatorError && err.class === "Permanent")) throw err;
        // Permanent for this item: it fails (and with failWhenItemsFail, the step) like a failed act.
        if (step.failWhenItemsFail) return { ...out, fail: { reason: err.reason, message: `${step.label(it)}: ${messageOf(err)}` } };
        obs = { kind: "Failed", message: messageOf(err) };
      }
      if (p && p.state !== "running") op.handle = undefined;
      if (obs.kind === "Done") {
        Object.assign(op, { done: true, handle: undefined, intentAt: undefined, notBefore: undefined, error: undefined });
        continue;
      }
      if (obs.kind === "Failed" || obs.kind === "Skipped") {
        step.failItem(ctx, it, obs.message, obs.kind);
        Object.assign(op, { done: true, handle: undefined, intentAt: undefined, error: obs.message, settled: obs.kind });
        continue;
      }
      const timeout = step.itemTimeoutMs?.(ctx, it);
      if (timeout !== undefined && op.startedAt && now - Date.parse(op.startedAt) > timeout) {
        const msg = `not done within ${Math.round(timeout / 1000)}s${"message" in obs && obs.message ? ` (${obs.message})` : ""}`;
        step.failItem(ctx, it, msg, "Failed");
        Object.assign(op, { done: true, handle: undefined, error: msg, settled: "Failed" });
        continue;
      }
      if (obs.kind === "InProgress") {
        if (op.handle) out.inflight++;
        else parked?.set(it, mono + obs.pollAfterMs);
        out.minPoll = Math.min(out.minPoll, obs.pollAfterMs);
        continue;
      }
      if (obs.kind === "Waiting") {
        out.minPoll = Math.min(out.minPoll, obs.pollAfterMs ?? 2_000);
        continue;
      }
      if (op.handle) {
        // Observe wants an act while our operation still runs (a question under a power-on): the
        // item already holds its slot, so the follow-up never waits for one.
        out.inflight++;
        out.followUps.push(it);
        continue;
      }
      if (p?.state === "failure") {
        op.error = messageOf(p.error ?? "operation failed");
        if (op.attempts >= max) {
          const msg = `${op.error} (after ${op.attempts} attempt(s))`;
          step.failItem(ctx, it, msg, "Failed");
          Object.assign(op, { done: true, error: msg, settled: "Failed" });
          continue;
        }
        op.notBefore = iso(now + backoffDelay(op.attempts - 1, RETRY_BACKOFF));
      }
      if (op.intentAt && !step.idempotent && !op.handle) {
        out.unknown.push(`${step.label(it)}${obs.kind === "Unknown" ? `: ${obs.why}` : ""}`);
        continue;
      }
      const notBefore = op.notBefore ? Date.parse(op.notBefore) - now : 0;
      if (notBefore > 0) {
        out.minPoll = Math.min(out.minPoll, notBefore);
        continue;
      }
      out.candidates.push(it);
    }
    return out;
  }

  /** The step's outcome once every item is settled; undefined while some are not. */
  private through<C, I extends BatchItem>(step: BatchStep<C, I>, items: readonly I[]): Promise<PassOutcome> | undefined {
    const done = items.filter((it) => it.op!.done);
    if (done.length !== items.length) return undefined;
    const failed = done.filter((it) => it.op!.settled === "Failed");
    const skipped = done.filter((it) => it.op!.settled === "Skipped");
    const summary = `${done.length - failed.length - skipped.length} of ${items.length} done${failed.length ? `, ${failed.length} failed` : ""}${skipped.length ? `, ${skipped.length} skipped` : ""}`;
    if (failed.length && step.failWhenItemsFail) {
      return this.stop("Failed", "StepFailed", `${summary}: ${failed.slice(0, 5).map((f) => `${step.label(f)}: ${f.op!.error}`).join("; ")}`);
    }
    return this.succeed(summary);
  }

  /** Counts an act against the item and, for a non-idempotent step, records its intent (saved before the act). */
  private claim<C, I extends BatchItem>(step: BatchStep<C, I>, it: I, now: number): void {
    const op = it.op!;
    op.attempts += 1;
    op.startedAt ??= iso(now);
    op.notBefore = undefined;
    if (!step.idempotent) op.intentAt = iso(now);
  }

  /** Acts on one item and records what came of it; a permanent error that fails the step is returned. */
  private async actItem<C, I extends BatchItem>(step: BatchStep<C, I>, ctx: C, it: I, now: number): Promise<{ reason: string; message: string } | undefined> {
    const op = it.op!;
    let permanent: { reason: string; message: string } | undefined;
    try {
      const result = await step.actItem(ctx, it);
      if (result.kind === "Started") op.handle = result.handles[0];
    } catch (err) {
      const message = messageOf(err);
      if (err instanceof OperatorError && err.class === "Permanent") {
        step.failItem(ctx, it, message, "Failed");
        Object.assign(op, { done: true, settled: "Failed", error: message });
        if (step.failWhenItemsFail) permanent = { reason: err.reason, message: `${step.label(it)}: ${message}` };
      } else {
        op.attempts -= 1;
        op.error = message;
        op.notBefore = iso(now + (err instanceof OperatorError && err.class === "Wait" ? (err as WaitError).retryAfterMs : TRANSIENT_RETRY_MS));
        if (!(step.idempotent || (err instanceof OperatorError && err.class === "Wait"))) return undefined; // keep the intent: it may have happened
        this.deps.log.warn({ step: this.rec.name, item: step.label(it), err }, "Step action failed for an item; will retry");
      }
    }
    op.intentAt = undefined;
    return permanent;
  }

  /**
   * A streaming pass (idempotent steps that ask for it): instead of starting one window and
   * waiting for all of it, a slot is refilled as soon as its operation is over, for up to
   * STREAM_PASS_MS or until the run is interrupted (deps.interrupted: a cancellation or a
   * deletion; then no new act starts and the pass ends once those under way return). The items are looked at again whenever an act returns or the world changes
   * (deps.wait), at most every LOOK_SPACING_MS; progress (handles, item states) is checkpointed at
   * most every STREAM_SAVE_MS and at the end. A crash loses at most the handles of the last
   * interval: the step is idempotent, so observe finds what those operations did.
   */
  private async stream<C, I extends BatchItem>(step: BatchStep<C, I>, ctx: C, items: readonly I[], first: Look<I>): Promise<PassOutcome> {
    const rec = this.rec;
    const clock = this.deps.clock;
    const concurrency = step.concurrency(ctx);
    const deadline = clock.monotonic() + STREAM_PASS_MS;
    const acting = new Map<I, Promise<void>>();
    const parked = new Map<I, number>();
    let look = first;
    let permanent: { reason: string; message: string } | undefined;
    let failure: unknown;
    let started = 0;
    let unsaved = 0;
    let looks = 1;
    let lookMs = 0;
    let actMs = 0;
    let lastSave = clock.monotonic();
    let lastLook = lastSave;
    let stopping = false;
    let returned = 0;
    let wake: () => void = () => undefined;
    const wait = this.deps.wait!;
    this.begin();
    const progress = (): string => `${items.filter((it) => it.op!.done).length} of ${items.length} done, ${look.inflight + acting.size} in progress`;
    const save = async (): Promise<void> => {
      if (unsaved > 0) this.crash("after-act");
      rec.message = progress();
      await this.save();
      if (unsaved > 0) this.crash("after-checkpoint");
      unsaved = 0;
      lastSave = clock.monotonic();
    };
    const start = (it: I): void => {
      const now = this.now();
      this.claim(step, it, now);
      if (started++ === 0) this.crash("before-act");
      const t = performance.now();
      acting.set(
        it,
        this.actItem(step, ctx, it, now).then((p) => {
          actMs += performance.now() - t;
          permanent ??= p;
          acting.delete(it);
          unsaved++;
          returned++;
          wake();
        }),
      );
    };
    try {
      for (;;) {
        if (!stopping && (this.deps.interrupted?.() || clock.monotonic() >= deadline)) stopping = true;
        if (!permanent && !stopping) {
          for (const it of look.followUps) if (!acting.has(it)) start(it);
          let room = concurrency - look.inflight - [...acting.keys()].filter((it) => !look.followUps.includes(it)).length;
          for (const it of look.candidates) {
            if (room <= 0) break;
            if (acting.has(it)) continue;
            start(it);
            room--;
          }
        }
        const idle = acting.size === 0 && look.inflight === 0 && (look.candidates.length === 0 || stopping);
        if (permanent || idle || (stopping && acting.size === 0)) break;
        // Wait for an act to return, the world to change, or a poll's worth of time; then look again.
        if (returned === 0) {
          const woken = new Promise<void>((resolve) => (wake = resolve));
          await Promise.race([woken, wait(LOOK_INTERVAL_MS, this.signal, true)]);
          wake = () => undefined;
        }
        const since = clock.monotonic() - lastLook;
        if (since < LOOK_SPACING_MS) await wait(LOOK_SPACING_MS - since, this.signal, false);
        if (unsaved > 0 && clock.monotonic() - lastSave >= STREAM_SAVE_MS) await save();
        this.deps.refresh?.();
        looks++;
        returned = 0;
        lastLook = clock.monotonic();
        const t = performance.now();
        look = await this.look(step, ctx, items, new Set(acting.keys()), parked);
        lookMs += performance.now() - t;
        if (look.fail) permanent = look.fail;
        if (look.unknown.length || items.every((it) => it.op!.done)) break;
      }
    } catch (err) {
      failure = err;
    }
    await Promise.all(acting.values());
    if (failure !== undefined) {
      await save().catch(() => undefined);
      throw failure instanceof Error ? failure : new Error(messageOf(failure));
    }
    if (permanent) return this.stop("Failed", permanent.reason, permanent.message);
    const log = (): void => this.deps.log.debug(
      { step: rec.name, items: items.length, done: items.filter((it) => it.op!.done).length, acted: started, looks, lookMs: Math.round(lookMs), meanActMs: started ? Math.round(actMs / started) : 0, inflight: look.inflight },
      "Batch stream pass",
    );
    const through = this.through(step, items);
    if (through) {
      log();
      if (unsaved > 0) this.crash("after-act");
      return through;
    }
    await save();
    log();
    const more = look.candidates.length > 0;
    return { kind: "Continue", requeueAfterMs: more ? 0 : Math.min(look.minPoll, AFTER_START_MS) };
  }
}

/** What a look at a batch step's items found. */
interface Look<I> {
  /** Items that need an act and may have one now. */
  readonly candidates: I[];
  /** Items whose operation still runs and that need an act on it (they hold their slot). */
  readonly followUps: I[];
  /** Items holding a slot: their operation still runs. */
  inflight: number;
  /** How soon to look again for the items that wait. */
  minPoll: number;
  /** Items of a non-idempotent step whose act's outcome was lost. */
  readonly unknown: string[];
  /** A permanent error on an item of a step that fails with its items. */
  readonly fail?: { readonly reason: string; readonly message: string };
}
