import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { advance } from "../../../src/engine/runner.js";
import type { CrashPoint } from "../../../src/engine/runner.js";
import { completed, handleKey, started } from "../../../src/engine/types.js";
import type { BatchItem, BatchStep, Handle, PolledOp, Poller, RunHost, SingleStep, Step, StepRecord } from "../../../src/engine/types.js";
import { PermanentError, TransientError } from "../../../src/runtime/errors.js";
import { FakeClock } from "../../fakes/clock.js";

/**
 * A small world of asynchronous jobs: a job finishes after `polls` polls, with success or a
 * scripted failure; creations are keyed by name, and a repeated creation of a name is refused, as
 * vCenter refuses a second registration of one .vmx.
 */
class World implements Poller {
  readonly made = new Map<string, number>(); // name → times it was really made
  readonly calls: string[] = [];
  private readonly jobs = new Map<string, { polls: number; name: string; fail?: string }>();
  private seq = 0;
  /** Failures to script: the next jobs started (for a name, or for any name under "*") fail with these messages. */
  readonly failNext = new Map<string, string[]>();
  pollsPerJob = 1;
  unreachable = 0;
  /** Jobs started and not yet seen finished by a poll (what holds an engine's slot), and its peak. */
  running = 0;
  maxRunning = 0;

  startCreate(name: string): Handle {
    this.calls.push(`create ${name}`);
    if (this.unreachable > 0) {
      this.unreachable--;
      throw new TransientError("connect ECONNREFUSED", "Unreachable");
    }
    const id = `job-${++this.seq}`;
    this.maxRunning = Math.max(this.maxRunning, ++this.running);
    this.jobs.set(id, { polls: this.pollsPerJob, name, fail: (this.failNext.get(name) ?? this.failNext.get("*"))?.shift() });
    return { system: "ontap", endpoint: "site2/cluster", kind: "job", id, startedAt: "2026-11-25T12:00:00.000Z" };
  }

  exists(name: string): boolean {
    return (this.made.get(name) ?? 0) > 0;
  }

  poll(handles: readonly Handle[]): Promise<Map<string, PolledOp>> {
    this.calls.push(`poll ${handles.length}`);
    const out = new Map<string, PolledOp>();
    for (const h of handles) {
      const j = this.jobs.get(h.id);
      if (!j) {
        out.set(handleKey(h), { handle: h, state: "unknown" });
        continue;
      }
      if (j.polls-- > 0) {
        out.set(handleKey(h), { handle: h, state: "running" });
        continue;
      }
      if (j.polls === -1) this.running--;
      if (j.fail) {
        out.set(handleKey(h), { handle: h, state: "failure", error: new Error(j.fail) });
        continue;
      }
      if (!this.exists(j.name)) this.made.set(j.name, 1);
      else this.made.set(j.name, (this.made.get(j.name) ?? 0) + 0); // a repeat is refused, not made again
      out.set(handleKey(h), { handle: h, state: "success" });
    }
    return Promise.resolve(out);
  }
}

/** A run whose state lives in a "persisted" copy; a crash throws the in-memory copy away. */
class Host implements RunHost {
  steps: StepRecord[];
  items: Record<string, { key: string; op?: BatchItem["op"]; failed?: string }>;
  persisted: string;
  writes = 0;
  constructor(names: string[], itemKeys: string[] = []) {
    this.steps = names.map((name) => ({ name, state: "Pending", attempts: 0 }));
    this.items = Object.fromEntries(itemKeys.map((k) => [k, { key: k }]));
    this.persisted = JSON.stringify({ steps: this.steps, items: this.items });
  }
  checkpoint(): Promise<void> {
    const next = JSON.stringify({ steps: this.steps, items: this.items });
    if (next !== this.persisted) this.writes++;
    this.persisted = next;
    return Promise.resolve();
  }
  reload(): void {
    const p = JSON.parse(this.persisted) as { steps: StepRecord[]; items: Host["items"] };
    this.steps = p.steps;
    this.items = p.items;
  }
}

class Crash extends Error {}

interface Ctx {
  world: World;
  host: Host;
}

/** Creates widget "w" by an idempotent act (the name is deterministic): observe looks for it in the world. */
const createWidget: SingleStep<Ctx> = {
  kind: "single",
  name: "CreateWidget",
  idempotent: true,
  observe: (ctx, _rec, ops) =>
    Promise.resolve(
      ctx.world.exists("w") ? { kind: "Done" } : ops.some((o) => o.state === "running") ? { kind: "InProgress", pollAfterMs: 100 } : { kind: "NeedsAct" },
    ),
  act: (ctx) => Promise.resolve(started(ctx.world.startCreate("w"))),
};

/** A non-idempotent act whose effect cannot be seen in the world, only through its handle. */
const sendOnce: SingleStep<Ctx> = {
  kind: "single",
  name: "SendOnce",
  idempotent: false,
  observe: (_ctx, _rec, ops) =>
    Promise.resolve(
      ops.some((o) => o.state === "success") ? { kind: "Done" } : ops.some((o) => o.state === "running") ? { kind: "InProgress", pollAfterMs: 100 } : { kind: "NeedsAct" },
    ),
  act: (ctx) => Promise.resolve(started(ctx.world.startCreate("message"))),
};

type Item = { key: string; op?: BatchItem["op"]; failed?: string };
const makeAll = (concurrency: number, failWhenItemsFail = false): BatchStep<Ctx, Item> => ({
  kind: "batch",
  name: "MakeAll",
  idempotent: true,
  failWhenItemsFail,
  items: (ctx) => Object.values(ctx.host.items).filter((i) => !i.failed),
  label: (it) => it.key,
  concurrency: () => concurrency,
  observeItem: (ctx, it, op) =>
    ctx.world.exists(it.key) ? { kind: "Done" } : op?.state === "running" ? { kind: "InProgress", pollAfterMs: 100 } : { kind: "NeedsAct" },
  actItem: (ctx, it) => Promise.resolve(started(ctx.world.startCreate(it.key))),
  failItem: (_ctx, it, message) => {
    it.failed = message;
  },
});

const deps = (clock: FakeClock, world: World, crash?: (p: CrashPoint, s: string) => void, waits?: number[]) => ({
  clock,
  poller: world,
  log: pino({ level: "silent" }),
  crash,
  // Streaming passes wait on the fake clock: time moves by what they ask for.
  ...(waits
    ? {
        wait: (ms: number) => {
          waits.push(ms);
          clock.advance(ms);
          return Promise.resolve();
        },
      }
    : {}),
});

/** Runs passes until the run finishes, stops, or maxPasses; a Crash restarts from the persisted state. */
async function drive(host: Host, steps: Step<Ctx>[], world: World, o: { crashAt?: Set<string>; maxPasses?: number; waits?: number[] } = {}) {
  const clock = new FakeClock();
  const crashed = new Set<string>();
  const crash = (p: CrashPoint, s: string): void => {
    const id = `${s}:${p}`;
    if (o.crashAt?.has(id) && !crashed.has(id)) {
      crashed.add(id);
      throw new Crash(id);
    }
  };
  const signal = new AbortController().signal;
  for (let i = 0; i < (o.maxPasses ?? 200); i++) {
    let out;
    try {
      out = await advance(host, steps, { world, host }, deps(clock, world, crash, o.waits), signal);
    } catch (err) {
      if (!(err instanceof Crash)) throw err;
      host.reload();
      continue;
    }
    if (out.kind !== "Continue") return { out, crashed, passes: i + 1 };
    clock.advance(Math.max(out.requeueAfterMs, 1));
  }
  throw new Error("the run did not finish");
}

describe("step engine: single steps", () => {
  it("starts an operation, persists its handle, waits for it and succeeds, with one creation", async () => {
    const world = new World();
    world.pollsPerJob = 3;
    const host = new Host(["CreateWidget"]);
    const { out } = await drive(host, [createWidget], world);
    expect(out.kind).toBe("Finished");
    expect(world.calls.filter((c) => c.startsWith("create"))).toEqual(["create w"]);
    expect(host.steps[0]).toMatchObject({ state: "Succeeded", attempts: 1 });
    expect(host.steps[0]?.operations).toBeUndefined();
  });

  it("retries a failed operation with backoff and fails the step with the operation's message when attempts run out", async () => {
    const world = new World();
    world.failNext.set("w", ["clone failed: aggregate full", "clone failed: aggregate full", "clone failed: aggregate full"]);
    const host = new Host(["CreateWidget"]);
    const { out } = await drive(host, [{ ...createWidget, maxAttempts: 3 }], world);
    expect(out).toMatchObject({ kind: "Failed", step: "CreateWidget" });
    expect(host.steps[0]?.message).toMatch(/clone failed: aggregate full \(after 3 attempt\(s\)\)/);
    expect(world.calls.filter((c) => c.startsWith("create"))).toHaveLength(3);
  });

  it("succeeds after a failed attempt when the retry works", async () => {
    const world = new World();
    world.failNext.set("w", ["transient job failure"]);
    const host = new Host(["CreateWidget"]);
    const { out } = await drive(host, [createWidget], world);
    expect(out.kind).toBe("Finished");
    expect(host.steps[0]).toMatchObject({ state: "Succeeded", attempts: 2 });
  });

  it("does not count an unreachable endpoint against the attempts: an outage is waited out", async () => {
    const world = new World();
    world.unreachable = 10;
    const host = new Host(["CreateWidget"]);
    const { out } = await drive(host, [{ ...createWidget, maxAttempts: 2 }], world);
    expect(out.kind).toBe("Finished");
    expect(host.steps[0]?.attempts).toBe(1);
    expect(world.calls.filter((c) => c.startsWith("create"))).toHaveLength(11);
  });

  it("fails at once on a permanent error from the act", async () => {
    const world = new World();
    const host = new Host(["Refused"]);
    const refused: SingleStep<Ctx> = { ...createWidget, name: "Refused", act: () => Promise.reject(new PermanentError("no such SVM", "InvalidSpec")) };
    const { out } = await drive(host, [refused], world);
    expect(out).toMatchObject({ kind: "Failed", reason: "InvalidSpec", message: "no such SVM" });
  });

  it("blocks instead of repeating a non-idempotent act whose outcome was lost in a crash", async () => {
    const world = new World();
    const host = new Host(["SendOnce"]);
    const { out } = await drive(host, [sendOnce], world, { crashAt: new Set(["SendOnce:after-act"]) });
    expect(out).toMatchObject({ kind: "Blocked", step: "SendOnce", reason: "CreateIncomplete" });
    expect(world.calls.filter((c) => c.startsWith("create"))).toEqual(["create message"]);
  });

  it("writes the intent of a non-idempotent act before the act", async () => {
    const world = new World();
    const host = new Host(["SendOnce"]);
    let persistedAtAct: StepRecord | undefined;
    const spy: SingleStep<Ctx> = {
      ...sendOnce,
      act: (ctx, rec) => {
        persistedAtAct = (JSON.parse(ctx.host.persisted) as { steps: StepRecord[] }).steps[0];
        return sendOnce.act(ctx, rec);
      },
    };
    await drive(host, [spy], world);
    expect(persistedAtAct?.intentAt).toBeDefined();
    expect(host.steps[0]?.intentAt).toBeUndefined();
  });

  it("skips a step the run does not need and says why", async () => {
    const world = new World();
    const host = new Host(["CreateWidget"]);
    const { out } = await drive(host, [{ ...createWidget, skip: () => "no NFS volumes" }], world);
    expect(out.kind).toBe("Finished");
    expect(host.steps[0]).toMatchObject({ state: "Skipped", message: "no NFS volumes" });
    expect(world.calls).toEqual([]);
  });
});

describe("step engine: batch steps", () => {
  it("keeps at most `concurrency` operations in flight and finishes every item with one checkpoint per window", async () => {
    const world = new World();
    world.pollsPerJob = 2;
    const keys = Array.from({ length: 20 }, (_, i) => `vm-${i}`);
    const host = new Host(["MakeAll"], keys);
    let maxInFlight = 0;
    const step = makeAll(4);
    const watched: BatchStep<Ctx, Item> = {
      ...step,
      actItem: (ctx, it) => {
        const inFlight = Object.values(ctx.host.items).filter((i) => i.op?.handle).length + 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return step.actItem(ctx, it);
      },
    };
    const { out } = await drive(host, [watched], world);
    expect(out.kind).toBe("Finished");
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(keys.every((k) => world.exists(k))).toBe(true);
    expect(world.calls.filter((c) => c.startsWith("create"))).toHaveLength(20);
    // Writes scale with windows (20 items / 4), not with items and polls.
    expect(host.writes).toBeLessThan(20);
    expect(host.steps[0]?.message).toBe("20 of 20 done");
  });

  it("reports a failed item and goes on with the others when the step allows it", async () => {
    const world = new World();
    world.failNext.set("a", ["InvalidState: the VM's datastore is inaccessible", "InvalidState: the VM's datastore is inaccessible"]);
    const host = new Host(["MakeAll"], ["a", "b", "c"]);
    const { out } = await drive(host, [{ ...makeAll(1), maxAttempts: 2 }], world);
    expect(out.kind).toBe("Finished");
    expect(host.items.a?.failed).toMatch(/InvalidState: the VM's datastore is inaccessible \(after 2 attempt\(s\)\)/);
    expect(world.exists("b") && world.exists("c")).toBe(true);
    expect(host.steps[0]?.message).toBe("2 of 3 done, 1 failed");
  });

  it("fails the step when an item fails and the step does not allow it", async () => {
    const world = new World();
    world.failNext.set("a", ["FlexClone failed", "FlexClone failed", "FlexClone failed"]);
    const host = new Host(["MakeAll"], ["a", "b"]);
    const { out } = await drive(host, [makeAll(2, true)], world);
    expect(out).toMatchObject({ kind: "Failed", step: "MakeAll" });
    expect(host.steps[0]?.message).toMatch(/a: FlexClone failed/);
  });

  it("acts on an item whose operation still runs (a question under a power-on) even when every slot is taken", async () => {
    // Each item's job waits for an "answer"; with 2 slots and 4 items, answering must not need a free slot.
    const world = new World();
    world.pollsPerJob = 1_000_000;
    const answered = new Set<string>();
    const host = new Host(["MakeAll"], ["a", "b", "c", "d"]);
    const step = makeAll(2);
    const asking: BatchStep<Ctx, Item> = {
      ...step,
      observeItem: (ctx, it, op) => {
        if (answered.has(it.key)) return { kind: "Done" };
        if (op?.state === "running") return { kind: "NeedsAct" }; // the question is pending
        return step.observeItem(ctx, it, op);
      },
      actItem: (ctx, it) => {
        if (it.op?.handle) {
          answered.add(it.key);
          return Promise.resolve(completed);
        }
        return step.actItem(ctx, it);
      },
    };
    const { out } = await drive(host, [asking], world);
    expect(out.kind).toBe("Finished");
    expect([...answered].sort()).toEqual(["a", "b", "c", "d"]);
    expect(world.calls.filter((c) => c.startsWith("create"))).toHaveLength(4);
  });

  it("fails an item that takes longer than its timeout, from its first act", async () => {
    const world = new World();
    world.pollsPerJob = 1_000;
    const host = new Host(["MakeAll"], ["slow"]);
    const { out } = await drive(host, [{ ...makeAll(1), itemTimeoutMs: () => 5_000 }], world, { maxPasses: 1_000 });
    expect(out.kind).toBe("Finished");
    expect(host.items.slow?.failed).toMatch(/not done within 5s/);
  });
});

describe("step engine: streaming batch steps", () => {
  const streaming = (concurrency: number): BatchStep<Ctx, Item> => ({ ...makeAll(concurrency), stream: true });

  it("refills a slot as soon as its operation is over, never above `concurrency`, in one pass with a checkpoint per interval", async () => {
    const world = new World();
    world.pollsPerJob = 2;
    const keys = Array.from({ length: 20 }, (_, i) => `vm-${i}`);
    const host = new Host(["MakeAll"], keys);
    const waits: number[] = [];
    const { out, passes } = await drive(host, [streaming(4)], world, { waits });
    expect(out.kind).toBe("Finished");
    expect(world.maxRunning).toBe(4);
    expect(keys.every((k) => world.exists(k))).toBe(true);
    expect(world.calls.filter((c) => c.startsWith("create"))).toHaveLength(20);
    // The step went through in one streaming pass (the second pass only sees the run finished).
    expect(passes).toBe(2);
    expect(host.steps[0]).toMatchObject({ state: "Succeeded", message: "20 of 20 done" });
    expect(host.writes).toBeLessThan(10);
    expect(waits.length).toBeGreaterThan(0);
  });

  it("ends a streaming pass at its time budget with the handles of what runs saved, and the next pass goes on", async () => {
    const world = new World();
    world.pollsPerJob = 1_000_000; // nothing finishes: the pass must end on its own
    const host = new Host(["MakeAll"], ["a", "b", "c"]);
    const clock = new FakeClock();
    const waits: number[] = [];
    const out = await advance(host, [streaming(2)], { world, host }, deps(clock, world, undefined, waits), new AbortController().signal);
    expect(out.kind).toBe("Continue");
    const persisted = JSON.parse(host.persisted) as { items: Host["items"] };
    expect(Object.values(persisted.items).filter((i) => i.op?.handle)).toHaveLength(2);
    expect(world.calls.filter((c) => c.startsWith("create"))).toHaveLength(2);
    expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(30_000);
  });

  it("stops refilling as soon as the run is interrupted (a cancellation) and ends the pass with what runs saved", async () => {
    const world = new World();
    world.pollsPerJob = 3;
    const keys = Array.from({ length: 10 }, (_, i) => `vm-${i}`);
    const host = new Host(["MakeAll"], keys);
    const clock = new FakeClock();
    let cancelled = false;
    const d = { ...deps(clock, world, undefined, []), interrupted: () => cancelled };
    const step = streaming(2);
    const watched: BatchStep<Ctx, Item> = {
      ...step,
      actItem: (ctx, it) => {
        if (world.calls.filter((c) => c.startsWith("create")).length === 3) cancelled = true;
        return step.actItem(ctx, it);
      },
    };
    const out = await advance(host, [watched], { world, host }, d, new AbortController().signal);
    expect(out.kind).toBe("Continue");
    expect(world.calls.filter((c) => c.startsWith("create"))).toHaveLength(4);
    const persisted = JSON.parse(host.persisted) as { items: Host["items"] };
    expect(Object.values(persisted.items).filter((i) => i.op?.handle || i.op?.done).length).toBeGreaterThanOrEqual(2);
  });

  it("goes on with the others when one item's operation fails, and fails that item when its attempts run out", async () => {
    const world = new World();
    world.failNext.set("b", ["InvalidPowerState", "InvalidPowerState"]);
    const host = new Host(["MakeAll"], ["a", "b", "c", "d"]);
    const { out } = await drive(host, [{ ...streaming(2), maxAttempts: 2 }], world, { waits: [], maxPasses: 500 });
    expect(out.kind).toBe("Finished");
    expect(host.items.b?.failed).toMatch(/InvalidPowerState \(after 2 attempt\(s\)\)/);
    expect(["a", "c", "d"].every((k) => world.exists(k))).toBe(true);
  });

  for (const point of ["before-act", "after-act", "after-checkpoint", "step-boundary"] as const) {
    it(`converges after a crash at ${point} of a streaming step, creating each object at most once`, async () => {
      const world = new World();
      world.pollsPerJob = 3; // long enough for a checkpoint inside the pass
      const keys = Array.from({ length: 12 }, (_, i) => `vm-${i}`);
      const host = new Host(["MakeAll"], keys);
      const { out, crashed } = await drive(host, [streaming(3)], world, { crashAt: new Set([`MakeAll:${point}`]), waits: [] });
      expect(out.kind).toBe("Finished");
      expect([...crashed]).toEqual([`MakeAll:${point}`]);
      for (const name of keys) expect(world.made.get(name)).toBe(1);
    });
  }
});

describe("step engine: crash at every point", () => {
  const points: CrashPoint[] = ["after-intent", "before-act", "after-act", "after-checkpoint", "step-boundary"];
  for (const point of points) {
    it(`converges after a crash at ${point} of every step, creating each object at most once`, async () => {
      const world = new World();
      world.pollsPerJob = 1;
      const host = new Host(["CreateWidget", "MakeAll"], ["a", "b", "c", "d", "e"]);
      const crashAt = new Set([`CreateWidget:${point}`, `MakeAll:${point}`]);
      const { out } = await drive(host, [createWidget, makeAll(2)], world, { crashAt });
      expect(out.kind).toBe("Finished");
      for (const name of ["w", "a", "b", "c", "d", "e"]) expect(world.made.get(name)).toBe(1);
      // Step records only move forward.
      expect(host.steps.map((s) => s.state)).toEqual(["Succeeded", "Succeeded"]);
    });
  }

  it("acts on a completed synchronous act without waiting for an operation", async () => {
    const world = new World();
    let acted = 0;
    let done = false;
    const sync: SingleStep<Ctx> = {
      kind: "single",
      name: "Sync",
      idempotent: true,
      observe: () => Promise.resolve(done ? { kind: "Done" } : { kind: "NeedsAct" }),
      act: () => {
        acted++;
        done = true;
        return Promise.resolve(completed);
      },
    };
    const host = new Host(["Sync"]);
    const { out } = await drive(host, [sync], world);
    expect(out.kind).toBe("Finished");
    expect(acted).toBe(1);
  });
});
