import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { Registry } from "prom-client";
import { Controller } from "../../../src/runtime/controller.js";
import type { ReconcileContext, Reconciler } from "../../../src/runtime/controller.js";
import { ConflictError, PermanentError, TransientError, WaitError } from "../../../src/runtime/errors.js";
import { done, requeueAfter } from "../../../src/runtime/result.js";
import type { Result } from "../../../src/runtime/result.js";
import { ItemExponentialRateLimiter } from "../../../src/runtime/rate-limiter.js";
import { createRuntimeMetrics } from "../../../src/metrics/controller.js";
import type { ObjectKey } from "../../../src/kube/types.js";
import { FakeClock, flushPromises } from "../../fakes/clock.js";

const silent = pino({ level: "silent" });

class ScriptedReconciler implements Reconciler {
  readonly name = "test";
  calls: string[] = [];
  running = new Map<string, number>();
  maxConcurrentPerKey = 0;
  constructor(private readonly script: (key: string, n: number) => Promise<Result> | Result) {}
  async reconcile(_ctx: ReconcileContext, key: ObjectKey): Promise<Result> {
    const k = key.namespace ? `${key.namespace}/${key.name}` : key.name;
    const n = this.calls.filter((c) => c === k).length;
    this.calls.push(k);
    this.running.set(k, (this.running.get(k) ?? 0) + 1);
    this.maxConcurrentPerKey = Math.max(this.maxConcurrentPerKey, ...this.running.values());
    try {
      return await this.script(k, n);
    } finally {
      this.running.set(k, (this.running.get(k) ?? 1) - 1);
    }
  }
}

function setup(script: ConstructorParameters<typeof ScriptedReconciler>[0], workers = 4) {
  const clock = new FakeClock();
  const registry = new Registry();
  const metrics = createRuntimeMetrics(registry);
  const r = new ScriptedReconciler(script);
  const c = new Controller({ reconciler: r, log: silent, clock, metrics, workers, rateLimiter: new ItemExponentialRateLimiter(5, 1000) });
  const stop = new AbortController();
  const finished = c.start(stop.signal);
  return { clock, registry, r, c, stop, finished };
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values ?? []).find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

describe("Controller", () => {
  it("never runs one key on two workers at once, however often it is added while running", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const { r, c, stop, finished } = setup(async (_k, n) => {
      if (n === 0) await gate;
      return done();
    }, 8);
    c.enqueue("ns/a");
    await flushPromises();
    for (let i = 0; i < 20; i++) c.enqueue("ns/a");
    c.enqueue("ns/b");
    await flushPromises();
    expect(r.calls).toEqual(["ns/a", "ns/b"]);
    release();
    await flushPromises();
    await flushPromises();
    expect(r.calls).toEqual(["ns/a", "ns/b", "ns/a"]); // twenty adds while running → exactly one more pass
    expect(r.maxConcurrentPerKey).toBe(1);
    stop.abort();
    await finished;
  });

  it("requeues after the requested delay and forgets the backoff", async () => {
    const { r, c, clock, stop, finished } = setup((_k, n) => (n === 0 ? requeueAfter(30_000) : done()));
    c.enqueue("k");
    await flushPromises();
    clock.advance(29_999);
    await flushPromises();
    expect(r.calls).toHaveLength(1);
    clock.advance(1);
    await flushPromises();
    expect(r.calls).toHaveLength(2);
    expect(c.queue.retries("k")).toBe(0);
    stop.abort();
    await finished;
  });

  it("retries transient errors with growing backoff, and resets it after a success", async () => {
    const { r, c, clock, registry, stop, finished } = setup((_k, n) => {
      if (n < 3) throw new TransientError("vCenter unreachable", "VCenterUnreachable");
      return done();
    });
    c.enqueue("k");
    await flushPromises();
    const times: number[] = [clock.monotonic()];
    for (let t = 0; t < 100 && r.calls.length < 4; t++) {
      clock.advance(1);
      await flushPromises();
      if (r.calls.length > times.length) times.push(clock.monotonic());
    }
    expect(times.slice(1).map((t, i) => t - (times[i] ?? 0))).toEqual([5, 10, 20]);
    expect(c.queue.retries("k")).toBe(0);
    expect(await metricValue(registry, "vmdr_reconcile_errors_total", { controller: "test", class: "transient" })).toBe(3);
    stop.abort();
    await finished;
  });

  it("does not retry a permanent error", async () => {
    const { r, c, clock, registry, stop, finished } = setup(() => {
      throw new PermanentError("unsupported ONTAP version", "InvalidSpec");
    });
    c.enqueue("k");
    await flushPromises();
    clock.advance(3_600_000);
    await flushPromises();
    expect(r.calls).toHaveLength(1);
    expect(await metricValue(registry, "vmdr_reconcile_total", { controller: "test", result: "terminal" })).toBe(1);
    stop.abort();
    await finished;
  });

  it("requeues a wait after its own delay without counting an error", async () => {
    const { r, c, clock, registry, stop, finished } = setup((_k, n) => {
      if (n === 0) throw new WaitError("transfer in progress", "TransferInProgress", 2_000);
      return done();
    });
    c.enqueue("k");
    await flushPromises();
    clock.advance(1_999);
    await flushPromises();
    expect(r.calls).toHaveLength(1);
    clock.advance(1);
    await flushPromises();
    expect(r.calls).toHaveLength(2);
    expect(await metricValue(registry, "vmdr_reconcile_errors_total", { controller: "test" })).toBe(0);
    stop.abort();
    await finished;
  });

  it("retries a conflict quietly with backoff", async () => {
    const { r, c, clock, registry, stop, finished } = setup((_k, n) => {
      if (n === 0) throw new ConflictError("stale", "Conflict");
      return done();
    });
    c.enqueue("k");
    await flushPromises();
    clock.advance(5);
    await flushPromises();
    expect(r.calls).toHaveLength(2);
    expect(await metricValue(registry, "vmdr_reconcile_errors_total", { controller: "test", class: "conflict" })).toBe(1);
    stop.abort();
    await finished;
  });

  it("survives a reconciler that throws something that is not an Error", async () => {
    const { r, c, clock, stop, finished } = setup((_k, n) => {
      if (n === 0) throw "a string"; // eslint-disable-line @typescript-eslint/only-throw-error
      return done();
    });
    c.enqueue("k");
    await flushPromises();
    clock.advance(5);
    await flushPromises();
    expect(r.calls).toHaveLength(2);
    stop.abort();
    await finished;
  });

  it("stops taking keys after the signal aborts and lets the running pass finish", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((res) => (release = res));
    let sawAbort = false;
    const clock = new FakeClock();
    const r: Reconciler = {
      name: "test",
      async reconcile(ctx) {
        await gate;
        sawAbort = ctx.signal.aborted;
        return done();
      },
    };
    const c = new Controller({ reconciler: r, log: silent, clock, workers: 2 });
    const stop = new AbortController();
    const finished = c.start(stop.signal);
    c.enqueue("a");
    await flushPromises();
    stop.abort();
    c.enqueue("b");
    release();
    await finished;
    expect(sawAbort).toBe(true);
    expect(c.queue.len()).toBe(0);
  });
});
