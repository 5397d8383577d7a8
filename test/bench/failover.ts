// Benchmark of the FailoverRun engine (issue 9) against the lab. Prints numbers; asserts nothing.
//   A. A Test of 1,000 VMs (two groups of 500 over 10 VMFS datastores and Finance's NFS one) with
//      the lab's vCenter answering RegisterVM in 300 ms, ReconfigVM in 200 ms and PowerOnVM in 1 s,
//      and guests reporting tools 2 s after power-on, at powerOn.concurrency 8, 32 and 64. For each:
//      the run's RTO (first step start → last VM ready), the critical-path lower bound at that
//      concurrency (computed from the delays and the run's waves), the time of the storage steps,
//      the status and shard writes the run cost (from the API server's own request counters), and
//      the operator's peak RSS. Then the VMbook appendix A algorithm on the same lab as a baseline.
//   B. A Test of 5,000 VMs at concurrency 64: it completes, the FailoverRun object's size and its
//      shards' sizes, peak RSS.
// Knobs: BENCH_VMS_PER_GROUP (500), BENCH_CONCURRENCY ("8,32,64"), BENCH_BASELINE_VMS (60: the
// baseline is strictly sequential, so its time is measured on a sample and scaled to the run's
// size), BENCH_LARGE_VMS_PER_GROUP (2500; 0 skips part B).
import type { FailoverRun, VmRecord } from "../../src/api/v1alpha1/index.js";
import { ConfigMapType } from "../../src/controllers/protection-group/records.js";
import { DATASTORES_PER_GROUP, NS, appendixA, cleanup, kib, measuredTest, secs, startWorld } from "./lab-runs.js";

const perGroup = Number(process.env.BENCH_VMS_PER_GROUP ?? 500);
const concurrencies = (process.env.BENCH_CONCURRENCY ?? "8,32,64").split(",").map(Number);
const baselineVms = Number(process.env.BENCH_BASELINE_VMS ?? 60);
const largePerGroup = Number(process.env.BENCH_LARGE_VMS_PER_GROUP ?? 2500);

async function partA(): Promise<void> {
  const { w, readyMs } = await startWorld(perGroup);
  try {
    console.log(`A. ${2 * perGroup} protected VMs over ${2 * DATASTORES_PER_GROUP} VMFS datastores and one NFS datastore; groups Ready ${secs(readyMs)} s after start`);
    let last: { run: FailoverRun; vms: VmRecord[] } | undefined;
    const rtos = new Map<number, number>();
    for (const c of concurrencies) {
      const name = `bench-c${c}`;
      const { run, vms, wall, rto, bound, steps, failed, writes, memory } = await measuredTest(w, name, c);
      rtos.set(c, rto);
      console.log(
        `  concurrency ${c}: RTO ${secs(rto)} s (apply → Succeeded ${secs(wall)} s); critical-path bound ${secs(bound)} s → ${(rto / bound).toFixed(2)}x;` +
          ` VM work alone ${secs(rto - steps.storageMs)} s → ${((rto - steps.storageMs) / bound).toFixed(2)}x; storage steps ${secs(steps.storageMs)} s;` +
          ` ${vms.length} VMs, ${failed} failed; ${writes}; ${memory}`,
      );
      console.log(`    steps: ${steps.line}`);
      if (c === concurrencies[concurrencies.length - 1]) last = { run, vms };
      else await cleanup(w, `cleanup-c${c}`, name);
    }
    if (last && baselineVms > 0) {
      const sample = last.vms.filter((v) => !v.auxiliary).slice(0, baselineVms);
      const ms = await appendixA(w, sample);
      const scaled = (ms / sample.length) * last.vms.length;
      const c = concurrencies[concurrencies.length - 1]!;
      console.log(
        `  VMbook appendix A baseline: ${sample.length} VMs in ${secs(ms)} s (${(ms / sample.length / 1000).toFixed(2)} s per VM) → ${secs(scaled)} s for ${last.vms.length} VMs;` +
          ` the run at concurrency ${c} is ${(scaled / rtos.get(c)!).toFixed(1)}x faster`,
      );
      await cleanup(w, "cleanup-last", last.run.metadata.name);
    }
  } finally {
    await w.stop();
  }
}

async function partB(): Promise<void> {
  const { w, readyMs } = await startWorld(largePerGroup);
  try {
    console.log(`B. ${2 * largePerGroup} protected VMs; groups Ready ${secs(readyMs)} s after start`);
    const { run, vms, rto, bound, steps, failed, writes, memory } = await measuredTest(w, "bench-large", 64);
    const size = Buffer.byteLength(JSON.stringify(run));
    const shards = await Promise.all((run.status?.vmShards ?? []).map(async (s) => Buffer.byteLength(JSON.stringify(await w.kube.get(ConfigMapType, { namespace: NS, name: s.name })))));
    console.log(
      `  ${vms.length} VMs at concurrency 64: RTO ${secs(rto)} s, bound ${secs(bound)} s → ${(rto / bound).toFixed(2)}x; ${failed} failed;` +
        ` FailoverRun object ${kib(size)} KiB, ${shards.length} shard ConfigMaps of at most ${kib(Math.max(...shards))} KiB; ${writes}; ${memory}`,
    );
    console.log(`    steps: ${steps.line}`);
  } finally {
    await w.stop();
  }
}

await partA();
if (largePerGroup > 0) await partB();
