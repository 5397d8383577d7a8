import { expect } from "vitest";
import { FailoverRunType, findCondition } from "../../src/api/v1alpha1/index.js";
import type { FailoverRun, StepRecord } from "../../src/api/v1alpha1/index.js";
import type { World } from "./world.js";

/** How far a step has got: records may only move forward. */
const RANK: Record<StepRecord["state"], number> = { Pending: 0, Running: 1, Blocked: 1, Succeeded: 2, Failed: 2, Skipped: 2 };

/**
 * Drives a FailoverRun to its end while crash points kill the operator: restarts the operator each
 * time it died, and checks on every read that no step record (main or cleanup) moved backwards.
 */
export async function throughCrashes(w: World, namespace: string, name: string, timeoutMs: number): Promise<{ run: FailoverRun; restarts: number }> {
  let restarts = 0;
  const seen = new Map<string, number>();
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (!w.operator?.isAlive()) {
      restarts++;
      w.startOperator();
    }
    const run = await w.kube.get(FailoverRunType, { namespace, name });
    for (const s of [...(run?.status?.steps ?? []), ...(run?.status?.cleanupSteps ?? [])]) {
      const rank = RANK[s.state];
      expect(rank, `${name}: step ${s.name} went back to ${s.state}`).toBeGreaterThanOrEqual(seen.get(s.name) ?? 0);
      seen.set(s.name, rank);
    }
    const done = findCondition(run?.status?.conditions, "Succeeded");
    if (run && done && done.status !== "Unknown") return { run, restarts };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not finish through its crashes`);
}

interface SiteVms {
  vms: { name: string; instanceUuid: string; powerState: string }[];
}

/** Samples both vCenters' ground truth until stopped; records every VM seen powered on at both sites at once. */
export function sampleSplitRuns(w: World): { stop: () => Promise<string[]> } {
  const seen: string[] = [];
  let on = true;
  const truth = (site: string): Promise<SiteVms | undefined> => w.lab.control<SiteVms>("GET", `/truth/sites/${site}/vcenter`).catch(() => undefined);
  const loop = (async () => {
    while (on) {
      const [a, b] = await Promise.all([truth("site1"), truth("site2")]);
      const running1 = new Set((a?.vms ?? []).filter((v) => v.powerState === "poweredOn").map((v) => v.instanceUuid));
      for (const v of b?.vms ?? []) if (v.powerState === "poweredOn" && running1.has(v.instanceUuid)) seen.push(v.name);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      on = false;
      await loop;
      return seen;
    },
  };
}
