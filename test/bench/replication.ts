// Benchmark of the ReplicationRelationship controller (issue 5): N relationships (default 500)
// against the lab. Prints time to Ready from a cold start, steady-state ONTAP calls per minute
// and reconcile latency percentiles. Asserts nothing.
import { ReplicationRelationshipType, findCondition } from "../../src/api/v1alpha1/index.js";
import { NamespaceType } from "../harness/kube.js";
import { World } from "../harness/world.js";

const N = Number(process.env.BENCH_RELATIONSHIPS ?? 500);
const perGroup = Math.ceil(N / 2);

function histogramQuantile(text: string, name: string, labels: string, q: number): number {
  const buckets: [number, number][] = [];
  for (const line of text.split("\n")) {
    const m = new RegExp(`^${name}_bucket\\{(.*)\\} (\\S+)$`).exec(line);
    if (!m || !m[1]!.includes(labels)) continue;
    const le = /le="([^"]+)"/.exec(m[1]!)?.[1];
    buckets.push([le === "+Inf" ? Infinity : Number(le), Number(m[2])]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  return buckets.find(([, c]) => c >= q * total)?.[0] ?? NaN;
}

const started = performance.now();
const w = await World.start({ labArgs: ["--datastores-per-group", String(perGroup), "--vms-per-group", "6"] });
console.log(`lab with ${2 * perGroup + 1} relationships and kube-apiserver ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
try {
  await w.kube.create(NamespaceType, { metadata: { name: "dr" } });
  await w.applySites();
  for (let i = 0; i < N; i++) {
    const g = i < perGroup ? 1 : 2;
    const k = (i % perGroup) + 1;
    await w.kube.create(ReplicationRelationshipType, {
      metadata: { namespace: "dr", name: `rg${g}fv${k}` },
      spec: { source: { siteRef: "site1", volume: `RG${g}FV${k}` }, destination: { siteRef: "site2", volume: `RG${g}FV${k}_SM` }, rpo: "2h" },
    });
  }
  const t0 = performance.now();
  w.startOperator(["--ontap-poll-interval=1m", "--log-level=info", "--workers=8"]);
  for (;;) {
    const list = await w.kube.list(ReplicationRelationshipType, { namespace: "dr" });
    const ready = list.items.filter((r) => findCondition(r.status?.conditions, "Ready")?.status === "True").length;
    if (ready === N) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(`${N} relationships Ready ${((performance.now() - t0) / 1000).toFixed(1)} s after the operator started`);

  const ontapCalls = async (): Promise<number> => {
    let sum = 0;
    for (const line of (await w.metrics()).split("\n")) {
      const m = /^vmdr_external_requests_total\{(.*)\} (\S+)$/.exec(line);
      if (m && m[1]!.includes('system="ontap"')) sum += Number(m[2]);
    }
    return sum;
  };
  await new Promise((r) => setTimeout(r, 70_000)); // let the start-up burst pass one poll interval
  const c0 = await ontapCalls();
  await new Promise((r) => setTimeout(r, 60_000));
  const c1 = await ontapCalls();
  const text = await w.metrics();
  const p50 = histogramQuantile(text, "vmdr_reconcile_duration_seconds", 'controller="replicationrelationship"', 0.5);
  const p99 = histogramQuantile(text, "vmdr_reconcile_duration_seconds", 'controller="replicationrelationship"', 0.99);
  console.log(`steady state: ${c1 - c0} ONTAP calls in 60 s for ${N} relationships polled every 1m (${((c1 - c0) / N).toFixed(2)} per relationship)`);
  console.log(`reconcile duration (histogram bucket upper bounds): p50 ≤ ${p50 * 1000} ms, p99 ≤ ${p99 * 1000} ms`);
  const rss = /^process_resident_memory_bytes (\S+)$/m.exec(text.replaceAll("vmdr_process_", "process_"))?.[1];
  if (rss) console.log(`operator RSS: ${(Number(rss) / 1024 / 1024).toFixed(1)} MiB`);
} finally {
  await w.stop();
}
