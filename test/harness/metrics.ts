import { createOperatorMetrics } from "../../src/metrics/operator.js";
import { systemClock } from "../../src/util/clock.js";

/** Metric families (name → type) in Prometheus exposition text, from its # TYPE lines. */
export function familiesOf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1] as string, m[2] as string);
  return out;
}

/** The families the operator defines: its registry built exactly as src/cmd/manager.ts builds it. */
export async function definedFamilies(): Promise<Map<string, string>> {
  const { registry } = createOperatorMetrics({ version: "test", commit: "test" }, systemClock);
  return familiesOf(await registry.metrics());
}

/** Every series name a family yields (a histogram's _bucket, _sum and _count; a summary's too). */
export function seriesNames(families: ReadonlyMap<string, string>): Set<string> {
  const out = new Set<string>();
  for (const [name, type] of families) {
    if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) out.add(name + s);
    else if (type === "summary") for (const s of ["", "_sum", "_count"]) out.add(name + s);
    else out.add(name);
  }
  return out;
}
