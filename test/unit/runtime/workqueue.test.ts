import { describe, expect, it } from "vitest";
import { WorkQueue } from "../../../src/runtime/workqueue.js";
import { BucketRateLimiter, ItemExponentialRateLimiter, MaxOfRateLimiter, defaultControllerRateLimiter } from "../../../src/runtime/rate-limiter.js";
import { FakeClock } from "../../fakes/clock.js";

function queue(clock = new FakeClock()): { q: WorkQueue; clock: FakeClock } {
  return { q: new WorkQueue({ clock, rateLimiter: new ItemExponentialRateLimiter(5, 1000) }), clock };
}

describe("WorkQueue", () => {
  it("collapses duplicate adds of a waiting key into one", async () => {
    const { q } = queue();
    q.add("ns/a");
    q.add("ns/a");
    q.add("ns/b");
    q.add("ns/a");
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe("ns/a");
    expect(await q.get()).toBe("ns/b");
    expect(q.len()).toBe(0);
  });

  it("never hands out a key that is being processed, and re-queues it once on done when added meanwhile", async () => {
    const { q } = queue();
    q.add("k");
    const first = await q.get();
    expect(first).toBe("k");
    q.add("k");
    q.add("k");
    expect(q.len()).toBe(0); // dirty, not ready: a second worker cannot get it
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done("k");
    await Promise.resolve();
    expect(second).toBe("k");
    q.done("k");
    expect(q.len()).toBe(0); // the two adds during processing produced exactly one more pass
  });

  it("hands keys to waiting workers in FIFO order", async () => {
    const { q } = queue();
    const got: string[] = [];
    const waiters = [q.get(), q.get()].map((p) => p.then((k) => got.push(k ?? "-")));
    q.add("x");
    q.add("y");
    await Promise.all(waiters);
    expect(got).toEqual(["x", "y"]);
  });

  it("delays addAfter until the clock passes, keeping the earlier of two requested times", async () => {
    const { q, clock } = queue();
    q.addAfter("k", 1000);
    q.addAfter("k", 300);
    q.addAfter("k", 5000);
    expect(q.len()).toBe(0);
    expect(q.delayedLen()).toBe(1);
    clock.advance(299);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    expect(q.delayedLen()).toBe(0);
    expect(await q.get()).toBe("k");
  });

  it("orders many delayed keys by due time", async () => {
    const { q, clock } = queue();
    const delays = [50, 10, 40, 20, 30];
    delays.forEach((d, i) => q.addAfter(`k${i}`, d));
    clock.advance(100);
    const order: string[] = [];
    while (q.len() > 0) order.push((await q.get()) ?? "");
    expect(order).toEqual(["k1", "k3", "k4", "k2", "k0"]);
  });

  it("delays each retry of a key twice as long as the last, until forget resets it", async () => {
    const { q, clock } = queue();
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      q.addRateLimited("k");
      let waited = 0;
      while (q.len() === 0) {
        clock.advance(1);
        waited++;
      }
      waits.push(waited);
      q.done((await q.get()) as string);
    }
    expect(waits).toEqual([5, 10, 20, 40, 80]);
    q.forget("k");
    q.addRateLimited("k");
    clock.advance(5);
    expect(q.len()).toBe(1);
  });

  it("caps the per-key backoff and keeps keys independent", () => {
    const limiter = new ItemExponentialRateLimiter(5, 1000);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map(() => limiter.when("a"))).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1000]);
    expect(limiter.when("b")).toBe(5);
    expect(limiter.retries("a")).toBe(9);
  });

  it("limits retries across all keys with a token bucket once the burst is spent", () => {
    const clock = new FakeClock();
    const bucket = new BucketRateLimiter(clock, 10, 3);
    expect([bucket.when(), bucket.when(), bucket.when()]).toEqual([0, 0, 0]);
    expect(bucket.when()).toBe(100);
    expect(bucket.when()).toBe(200);
    clock.advance(1000);
    expect(bucket.when()).toBe(0);
    const combined = new MaxOfRateLimiter(new ItemExponentialRateLimiter(5, 1000), new BucketRateLimiter(clock, 1, 1));
    expect(combined.when("a")).toBe(5);
    expect(combined.when("b")).toBe(1000);
  });

  it("uses controller-runtime's defaults: 5ms doubling per key", () => {
    const limiter = defaultControllerRateLimiter(new FakeClock());
    expect([limiter.when("k"), limiter.when("k"), limiter.when("k")]).toEqual([5, 10, 20]);
  });

  it("after shutDown resolves pending and future gets with undefined and ignores adds", async () => {
    const { q } = queue();
    const pending = q.get();
    q.shutDown();
    expect(await pending).toBeUndefined();
    q.add("k");
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it("shutDownWithDrain waits for keys in processing", async () => {
    const { q } = queue();
    q.add("k");
    await q.get();
    let drained = false;
    const d = q.shutDownWithDrain().then(() => (drained = true));
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done("k");
    await d;
    expect(drained).toBe(true);
  });
});
