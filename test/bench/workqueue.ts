// Benchmark: 10,000 keys through a controller with a no-op reconciler.
// Prints reconciles/s, queue latency (add → reconcile start) p50/p99 and RSS. Not a test: it
// asserts nothing; run it with `make bench`.
import { pino } from "pino";
import { Registry } from "prom-client";
import { Controller } from "../../src/runtime/controller.js";
import type { Reconciler } from "../../src/runtime/controller.js";
import { done } from "../../src/runtime/result.js";
import { createRuntimeMetrics } from "../../src/metrics/controller.js";
import { systemClock } from "../../src/util/clock.js";
import { keyString } from "../../src/kube/types.js";

const KEYS = Number(process.env.BENCH_KEYS ?? 10_000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/**
 * Runs KEYS keys through a controller. burst: all enqueued at once (throughput; latency is then
 * mostly the time to drain the backlog). paced: 50 keys every 10 ms (5,000/s), which shows the
 * latency of the queue itself when it is not the bottleneck.
 */
async function run(workers: number, mode: "burst" | "paced"): Promise<{ workers: number; perSec: number; p50: number; p99: number; rssMiB: number }> {
  const addedAt = new Map<string, number>();
  const latencies: number[] = [];
  let remaining = KEYS;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  const reconciler: Reconciler = {
    name: "bench",
    reconcile(_ctx, key) {
      const k = keyString(key);
      latencies.push(performance.now() - (addedAt.get(k) ?? 0));
      if (--remaining === 0) finish();
      return Promise.resolve(done());
    },
  };
  const controller = new Controller({
    reconciler,
    log: pino({ level: "silent" }),
    clock: systemClock,
    metrics: createRuntimeMetrics(new Registry()),
    workers,
  });
  const stop = new AbortController();
  const running = controller.start(stop.signal);
  const keys = Array.from({ length: KEYS }, (_, i) => `bench/obj-${i}`);
  const start = performance.now();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    addedAt.set(k, performance.now());
    controller.enqueue(k);
    if (mode === "paced" && i % 50 === 49) await new Promise((r) => setTimeout(r, 10));
  }
  await finished;
  const elapsed = performance.now() - start;
  stop.abort();
  await running;
  latencies.sort((a, b) => a - b);
  return {
    workers,
    perSec: Math.round((KEYS / elapsed) * 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    rssMiB: process.memoryUsage().rss / 1024 / 1024,
  };
}

async function main(): Promise<void> {
  const rssStart = process.memoryUsage().rss / 1024 / 1024;
  console.log(`workqueue benchmark: ${KEYS} keys, no-op reconciler, metrics on (node ${process.version})`);
  console.log(`RSS at start: ${rssStart.toFixed(1)} MiB`);
  console.log("mode    workers  reconciles/s  queue-latency-p50  queue-latency-p99  RSS");
  for (const mode of ["burst", "paced"] as const) {
    for (const workers of [1, 4, 16]) {
      await run(workers, mode); // warm-up
      const r = await run(workers, mode);
      console.log(
        `${mode.padEnd(6)}  ${String(r.workers).padStart(7)}  ${String(r.perSec).padStart(12)}  ${r.p50.toFixed(3).padStart(14)} ms  ${r.p99.toFixed(3).padStart(14)} ms  ${r.rssMiB.toFixed(1)} MiB`,
      );
    }
  }
}

await main();
