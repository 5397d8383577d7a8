import { setMaxListeners } from "node:events";
import type { Logger } from "../log/logger.js";
import type { RuntimeMetrics } from "../metrics/controller.js";
import type { Clock } from "../util/clock.js";
import { newReconcileId } from "../util/ids.js";
import { deadline } from "../util/deadline.js";
import { parseKey } from "../kube/types.js";
import type { ObjectKey } from "../kube/types.js";
import type { WaitError} from "./errors.js";
import { classOf, messageOf } from "./errors.js";
import type { Result } from "./result.js";
import { defaultControllerRateLimiter } from "./rate-limiter.js";
import type { RateLimiter } from "./rate-limiter.js";
import { WorkQueue } from "./workqueue.js";

/** What one reconcile pass gets besides the key. */
export interface ReconcileContext {
  /** Child logger with controller, namespace, name and reconcileID. */
  readonly log: Logger;
  /** Aborts on the reconcile timeout, on shutdown and on loss of leadership. */
  readonly signal: AbortSignal;
  readonly reconcileId: string;
}

/** The reconciler contract (STYLE.md §2.3): level-based, re-reads the object, never sees events. */
export interface Reconciler {
  /** Used as the metrics and log "controller" label. */
  readonly name: string;
  reconcile(ctx: ReconcileContext, key: ObjectKey): Promise<Result>;
}

export interface ControllerOptions {
  readonly reconciler: Reconciler;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics?: RuntimeMetrics;
  /** Concurrent reconciles (different keys); default 4. */
  readonly workers?: number;
  /** Budget of one pass; the signal aborts after it (default 2 min). */
  readonly reconcileTimeoutMs?: number;
  readonly rateLimiter?: RateLimiter;
}

/**
 * Runs a reconciler over a work queue with N workers (controller-runtime's reconcileHandler):
 *  - a Result with requeueAfterMs → forget the key's backoff, add it again after that delay;
 *  - a Result without → forget;
 *  - a thrown PermanentError → forget, no retry (the reconciler reported it in a condition);
 *  - a thrown WaitError → forget, add again after its retryAfterMs;
 *  - a thrown ConflictError → rate-limited requeue, logged at debug (stale read; nothing wrong);
 *  - anything else → rate-limited requeue, logged as a warning.
 * Every pass is isolated: whatever it throws is caught, so one bad object cannot stop the workers.
 */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly o: ControllerOptions;
  private running: Promise<void>[] = [];

  constructor(o: ControllerOptions) {
    this.o = o;
    this.name = o.reconciler.name;
    const m = o.metrics;
    const label = { name: this.name };
    this.queue = new WorkQueue({
      clock: o.clock,
      rateLimiter: o.rateLimiter ?? defaultControllerRateLimiter(o.clock),
      metrics: m && {
        add: () => m.queueAdds.inc(label),
        retry: () => m.queueRetries.inc(label),
        depth: (n) => m.queueDepth.set(label, n),
        latency: (s) => m.queueDuration.observe(label, s),
      },
    });
  }

  /** Queues a key ("namespace/name" or "name"). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /**
   * Starts the workers. They stop taking new keys when `signal` aborts; the returned promise
   * settles when every worker has finished its current pass. In-flight passes see `signal` abort
   * through their own ReconcileContext signal.
   */
  start(signal: AbortSignal): Promise<void> {
    const workers = this.o.workers ?? 4;
    setMaxListeners(0, signal); // one listener per in-flight reconcile
    if (signal.aborted) this.queue.shutDown();
    else signal.addEventListener("abort", () => this.queue.shutDown(), { once: true });
    for (let i = 0; i < workers; i++) this.running.push(this.worker(signal));
    return Promise.all(this.running).then(() => undefined);
  }

  private async worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.process(key, signal);
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** One pass over one key; never throws. */
  private async process(key: string, shutdown: AbortSignal): Promise<void> {
    const { reconciler, metrics, clock } = this.o;
    const name = this.name;
    const objectKey = parseKey(key);
    const reconcileId = newReconcileId();
    const log = this.o.log.child({
      controller: name,
      ...(objectKey.namespace ? { namespace: objectKey.namespace } : {}),
      name: objectKey.name,
      reconcileID: reconcileId,
    });
    const budget = deadline(shutdown, this.o.reconcileTimeoutMs ?? 120_000);
    const started = clock.monotonic();
    metrics?.activeWorkers.inc({ controller: name });
    try {
      const result = await reconciler.reconcile({ log, signal: budget.signal, reconcileId }, objectKey);
      this.queue.forget(key);
      if (result.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        metrics?.reconcileTotal.inc({ controller: name, result: "requeue_after" });
      } else {
        metrics?.reconcileTotal.inc({ controller: name, result: "success" });
      }
    } catch (err) {
      this.handleError(key, err, log);
    } finally {
      budget.release();
      metrics?.activeWorkers.dec({ controller: name });
      metrics?.reconcileDuration.observe({ controller: name }, (clock.monotonic() - started) / 1000);
    }
  }

  private handleError(key: string, err: unknown, log: Logger): void {
    const { metrics } = this.o;
    const name = this.name;
    const cls = classOf(err);
    switch (cls) {
      case "Permanent":
        this.queue.forget(key);
        metrics?.reconcileTotal.inc({ controller: name, result: "terminal" });
        metrics?.reconcileErrors.inc({ controller: name, class: "permanent" });
        log.error({ err }, "Reconcile failed permanently; waiting for a change");
        return;
      case "Wait":
        this.queue.forget(key);
        this.queue.addAfter(key, (err as WaitError).retryAfterMs);
        metrics?.reconcileTotal.inc({ controller: name, result: "requeue_after" });
        log.debug({ reason: (err as WaitError).reason, detail: messageOf(err) }, "Waiting for a prerequisite");
        return;
      case "Conflict":
        this.queue.addRateLimited(key);
        metrics?.reconcileTotal.inc({ controller: name, result: "error" });
        metrics?.reconcileErrors.inc({ controller: name, class: "conflict" });
        log.debug({ err }, "Object changed while reconciling; will retry");
        return;
      case "Transient":
        this.queue.addRateLimited(key);
        metrics?.reconcileTotal.inc({ controller: name, result: "error" });
        metrics?.reconcileErrors.inc({ controller: name, class: "transient" });
        log.warn({ err, retries: this.queue.retries(key) }, "Reconcile failed; will retry");
        return;
    }
  }
}
