// Benchmark of the disruptive runs (issue 10) against the lab. Prints numbers; asserts nothing.
//   A. A PlannedMigration of 1,000 VMs (two groups of 500 over 10 VMFS datastores and Finance's NFS
//      one) with the Test benchmark's method delays (RegisterVM 300 ms, ReconfigVM 200 ms,
//      PowerOnVM 1 s, tools 2 s after power-on) plus ShutdownGuest answering in 100 ms and the
//      guest off 1 s later, at powerOn.concurrency 64, re-IP off (the delays of a customization
//      are the guest's, not vCenter's): its RTO (first step start → last VM ready at Site 2), the
//      critical-path bound at that concurrency (the shutdown waves, then the VM work as in the Test
//      benchmark), the storage steps' time (final update, quiesce, break, present, rescan, mount,
//      find), writes and peak RSS. Then the VMbook's way on a sample of the migrated VMs: each
//      shut down in turn and waited for, then appendix A (register one at a time, reconfigure,
//      power on three at a time scanning for the question), scaled to the run's size, plus the
//      same storage time.
//   B. A Disaster of 1,000 VMs with Site 1 down (its vCenter and ONTAP refuse connections): RTO,
//      the bound, the recovery point reported, peak RSS.
// Knobs: BENCH_VMS_PER_GROUP (500), BENCH_CONCURRENCY (64), BENCH_BASELINE_VMS (30).
import { pino } from "pino";
import type { VmRecord } from "../../src/api/v1alpha1/index.js";
import { noExternalMetrics } from "../../src/metrics/external.js";
import { systemClock } from "../../src/util/clock.js";
import { VsphereSession } from "../../src/vsphere/session.js";
import { VcenterClient } from "../../src/vsphere/vcenter.js";
import { vcenterOptions } from "../harness/vsphere.js";
import type { World } from "../harness/world.js";
import { DELAYS, appendixA, measuredRun, secs, sleep, startWorld } from "./lab-runs.js";

const perGroup = Number(process.env.BENCH_VMS_PER_GROUP ?? 500);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const baselineVms = Number(process.env.BENCH_BASELINE_VMS ?? 30);

/**
 * The shortest the shutdown can take at concurrency c: the waves in reverse, each one's
 * ShutdownGuest calls c at a time (a call returns before the guest is off), then the last of its
 * guests powering off before the next wave may start.
 */
function shutdownBound(vms: readonly VmRecord[], c: number): number {
  const perWave = new Map<number, number>();
  for (const v of vms) if (!v.auxiliary) perWave.set(v.wave, (perWave.get(v.wave) ?? 0) + 1);
  let s = 0;
  for (const n of perWave.values()) s += Math.ceil(n / c) * DELAYS.shutdownCall + DELAYS.shutdown;
  return s * 1000;
}

/** The VMbook's shutdown: one guest at a time, each waited for until it is off. Returns ms. */
async function shutdownOneByOne(w: World, vms: readonly VmRecord[]): Promise<number> {
  const session = await VsphereSession.open(vcenterOptions(w.lab, "site2"), { clock: systemClock, metrics: noExternalMetrics, log: pino({ level: "silent" }) });
  const client = new VcenterClient(session);
  try {
    const dc = (await client.findDatacenter("Site 2"))!;
    const refs = await Promise.all(vms.map((v) => client.findVmByInstanceUuid(v.instanceUuid, dc.ref)));
    const t0 = performance.now();
    for (const ref of refs) {
      await client.shutdownGuest(ref!);
      for (;;) {
        const [o] = await client.retrieve([{ type: "VirtualMachine", pathSet: ["runtime.powerState"] }], [{ obj: ref!, viaView: false }]);
        if (o?.props.get("runtime.powerState")?.text === "poweredOff") break;
        await sleep(100);
      }
    }
    return performance.now() - t0;
  } finally {
    await session.close();
  }
}

async function partA(): Promise<void> {
  const { w, readyMs } = await startWorld(perGroup);
  try {
    console.log(`A. PlannedMigration of ${2 * perGroup} protected VMs; groups Ready ${secs(readyMs)} s after start`);
    const spec = { type: "PlannedMigration" as const, confirmation: "PlannedMigration", protectionGroups: ["hr", "finance"], powerOn: { concurrency }, reIp: false };
    const { run, vms, rto, bound, steps, failed, writes, memory } = await measuredRun(w, "bench-pm", spec);
    const down = shutdownBound(vms, concurrency);
    const shutdownMs = (run.status?.steps ?? []).filter((s) => s.name === "ShutdownProtectedVms" || s.name === "VerifyProtectedOff").reduce((t, s) => t + Date.parse(s.completedAt ?? "") - Date.parse(s.startedAt ?? ""), 0);
    const total = bound + down;
    console.log(
      `  concurrency ${concurrency}: RTO ${secs(rto)} s; critical-path bound ${secs(total)} s (shutdown ${secs(down)} s + VM work ${secs(bound)} s) → ${(rto / total).toFixed(2)}x;` +
        ` without the storage steps ${secs(rto - steps.storageMs)} s → ${((rto - steps.storageMs) / total).toFixed(2)}x; shutdown took ${secs(shutdownMs)} s; storage steps ${secs(steps.storageMs)} s;` +
        ` ${vms.length} VMs, ${failed} failed; ${writes}; ${memory}`,
    );
    console.log(`    steps: ${steps.line}`);
    if (baselineVms > 0) {
      const sample = vms.filter((v) => !v.auxiliary).slice(0, baselineVms);
      const off = await shutdownOneByOne(w, sample);
      const up = await appendixA(w, sample);
      const perVm = (off + up) / sample.length;
      const scaled = perVm * vms.length + steps.storageMs;
      console.log(
        `  the VMbook's way: ${sample.length} VMs shut down one by one in ${secs(off)} s, then appendix A in ${secs(up)} s (${(perVm / 1000).toFixed(2)} s per VM)` +
          ` → ${secs(scaled)} s for ${vms.length} VMs with the same storage steps; the run is ${(scaled / rto).toFixed(1)}x faster`,
      );
    }
  } finally {
    await w.stop();
  }
}

async function partB(): Promise<void> {
  const { w, readyMs } = await startWorld(perGroup);
  try {
    console.log(`B. Disaster of ${2 * perGroup} protected VMs with Site 1 down; groups Ready ${secs(readyMs)} s after start`);
    await w.lab.siteDown("site1", "reset");
    const spec = { type: "Disaster" as const, confirmation: "Disaster", protectionGroups: ["hr", "finance"], powerOn: { concurrency }, reIp: false };
    const { run, vms, rto, bound, steps, failed, writes, memory } = await measuredRun(w, "bench-disaster", spec);
    console.log(
      `  concurrency ${concurrency}: RTO ${secs(rto)} s; critical-path bound ${secs(bound)} s → ${(rto / bound).toFixed(2)}x; storage steps ${secs(steps.storageMs)} s;` +
        ` recovery point ${run.status?.recoveryPoints?.[0]?.createTime ?? "?"} (data-loss window ${run.status?.dataLossWindowSeconds ?? "?"} s); ${vms.length} VMs, ${failed} failed; ${writes}; ${memory}`,
    );
    console.log(`    steps: ${steps.line}`);
  } finally {
    await w.stop();
  }
}

await partA();
await partB();
