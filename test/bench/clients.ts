// Benchmarks of the vSphere and ONTAP clients against the lab (issue 4). Prints numbers; asserts
// nothing. `make bench` builds and runs it; BENCH_VMS_PER_GROUP scales the inventory (default 5000,
// i.e. 10,007 VMs at Site 1).
import { pino } from "pino";
import { HttpEndpoint } from "../../src/net/http.js";
import { createOntapClient } from "../../src/ontap/rest.js";
import { systemClock } from "../../src/util/clock.js";
import { noExternalMetrics } from "../../src/metrics/external.js";
import { SessionCache, VsphereSession } from "../../src/vsphere/session.js";
import { VcenterClient } from "../../src/vsphere/vcenter.js";
import { InventoryWatcher } from "../../src/vsphere/watcher.js";
import { Lab } from "../harness/lab.js";
import { vcenterOptions } from "../harness/vsphere.js";

const log = pino({ level: "silent" });
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;

async function inventoryRead(lab: Lab): Promise<void> {
  const session = await VsphereSession.open(vcenterOptions(lab, "site1", { timeoutMs: 300_000 }), { clock: systemClock, metrics: noExternalMetrics, log });
  const client = new VcenterClient(session);
  const dc = (await client.findDatacenter("Site 1"))!;
  for (const pageSize of [500, 1000]) {
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    const bytes0 = session.transport.bytesReceived;
    const t0 = performance.now();
    const objs = await client.readInventory(dc.ref, undefined, pageSize);
    const ms = performance.now() - t0;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    const vms = objs.filter((o) => o.kind === "VirtualMachine").length;
    console.log(
      `inventory read: ${vms} VMs (${objs.length} objects), page ${pageSize}: ${(ms / 1000).toFixed(2)} s, ` +
        `${mib(session.transport.bytesReceived - bytes0)} received, RSS ${mib(rssBefore)} → peak ${mib(peak)}`,
    );
  }
  await session.close();
}

async function watcherLatency(lab: Lab, n: number): Promise<void> {
  const cache = new SessionCache({ clock: systemClock, metrics: noExternalMetrics, log });
  const seen = new Map<string, number>();
  const watcher = new InventoryWatcher({
    connect: (s) => cache.get(vcenterOptions(lab, "site1", { timeoutMs: 300_000 }), s),
    root: async (s, sig) => (await new VcenterClient(s).findDatacenter("Site 1", sig))!.ref,
    clock: systemClock,
    log,
    onEvent: (e) => {
      if (e.type === "added" && e.object.kind === "VirtualMachine") seen.set(e.object.info.name, performance.now());
    },
  });
  const stop = new AbortController();
  const running = watcher.run(stop.signal);
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  while (!watcher.hasSynced()) await new Promise((r) => setTimeout(r, 20));
  global.gc?.();
  const heap = process.memoryUsage().heapUsed;
  console.log(
    `watcher initial sync: ${watcher.objects().length} objects in ${((performance.now() - t0) / 1000).toFixed(2)} s; ` +
      `heap used after GC ${mib(heap)}, RSS ${mib(rss0)} → ${mib(process.memoryUsage().rss)}`,
  );
  const fromCall: number[] = [];
  const fromReturn: number[] = [];
  for (let i = 0; i < n; i++) {
    const name = `bench-vm-${i}`;
    const t0 = performance.now();
    await lab.addVm("site1", { name, folder: "Protection Group 1/Application", datastore: "RP1", resourcePool: "HRServers", portgroup: "Site1-LAN" });
    const t1 = performance.now();
    while (!seen.has(name)) await new Promise((r) => setTimeout(r, 1));
    const at = seen.get(name) ?? t1;
    fromCall.push(at - t0);
    fromReturn.push(Math.max(0, at - t1));
  }
  console.log(
    `watcher latency over ${n} VMs: from CreateVM call p50 ${pct(fromCall, 50).toFixed(1)} ms / p99 ${pct(fromCall, 99).toFixed(1)} ms; ` +
      `after the call returned p50 ${pct(fromReturn, 50).toFixed(1)} ms / p99 ${pct(fromReturn, 99).toFixed(1)} ms`,
  );
  stop.abort();
  await running;
  await cache.closeAll();
}

async function ontapOverhead(lab: Lab, n: number): Promise<void> {
  const e = lab.site("site2").ontap;
  const client = createOntapClient({ url: e.url, username: e.username, password: e.password, tls: { caBundle: lab.caPem() } }, { log });
  const raw = new HttpEndpoint(e.url, { caBundle: lab.caPem() });
  const auth = `Basic ${Buffer.from(`${e.username}:${e.password}`).toString("base64")}`;
  const path = "/api/snapmirror/relationships?destination.path=svm2:RG1FV1_SM&fields=uuid,state,healthy,lag_time";
  await client.findRelationship({ svm: "svm2", volume: "RG1FV1_SM" }, AbortSignal.timeout(10_000));
  const clientMs: number[] = [];
  const rawMs: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    await client.findRelationship({ svm: "svm2", volume: "RG1FV1_SM" }, AbortSignal.timeout(10_000));
    clientMs.push(performance.now() - t);
    t = performance.now();
    await raw.request({ method: "GET", path, headers: { authorization: auth, accept: "application/json" } });
    rawMs.push(performance.now() - t);
  }
  console.log(
    `ONTAP findRelationship over ${n} calls: client p50 ${pct(clientMs, 50).toFixed(2)} ms / p99 ${pct(clientMs, 99).toFixed(2)} ms; ` +
      `raw HTTPS GET p50 ${pct(rawMs, 50).toFixed(2)} ms / p99 ${pct(rawMs, 99).toFixed(2)} ms`,
  );
  client.close();
  raw.close();
}

const perGroup = process.env.BENCH_VMS_PER_GROUP ?? "5000";
const started = performance.now();
const lab = await Lab.start(["--vms-per-group", perGroup]);
console.log(`lab with ${perGroup} VMs per group ready in ${((performance.now() - started) / 1000).toFixed(1)} s (node ${process.version})`);
try {
  await inventoryRead(lab);
  await watcherLatency(lab, 200);
  await ontapOverhead(lab, 500);
} finally {
  await lab.stop();
}
