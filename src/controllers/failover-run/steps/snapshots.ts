import { completed } from "../../../engine/types.js";
import type { Observation, SingleStep } from "../../../engine/types.js";
import { PermanentError } from "../../../runtime/errors.js";
import type { RunContext } from "../context.js";
import { volumeLabel } from "../names.js";

/**
 * SelectSnapshots: the one consistent point a Test recovers from — per destination volume, its
 * newest SnapMirror snapshot, named in status (recoveryPoints) before anything is cloned. Reading
 * is all it does, so repeating it is harmless; once recorded, the choice is kept.
 */
export const selectSnapshots: SingleStep<RunContext> = {
  kind: "single",
  name: "SelectSnapshots",
  idempotent: true,
  observe(ctx): Promise<Observation> {
    const missing = ctx.volumes.filter((v) => !v.snapshot);
    return Promise.resolve(missing.length ? { kind: "NeedsAct" } : { kind: "Done", message: describe(ctx) });
  },
  async act(ctx) {
    for (const v of ctx.volumes) {
      if (v.snapshot) continue;
      const snap = await ctx.ontapFor(v).findNewestSnapMirrorSnapshot({ svm: v.svm, name: v.volume }, ctx.signal);
      if (!snap) throw new PermanentError(`${volumeLabel(v)} has no SnapMirror snapshot yet (has the relationship been initialized?)`, "NoSnapshot");
      v.snapshot = snap.name;
      v.snapshotTime = snap.createTime;
    }
    const status = ctx.store.status;
    status.recoveryPoints = ctx.volumes.map((v) => ({ relationship: v.relationship, volume: v.volume, snapshot: v.snapshot ?? "", ...(v.snapshotTime ? { createTime: v.snapshotTime } : {}) }));
    status.recoveryPointSkewSeconds = skewSeconds(ctx);
    return completed;
  },
};

/** The largest spread, within one group, between its volumes' snapshot times. */
function skewSeconds(ctx: RunContext): number {
  let skew = 0;
  for (const g of ctx.groups.keys()) {
    const times = ctx.volumes.filter((v) => v.group === g && v.snapshotTime).map((v) => Date.parse(v.snapshotTime ?? ""));
    if (times.length > 1) skew = Math.max(skew, (Math.max(...times) - Math.min(...times)) / 1000);
  }
  return skew;
}

function describe(ctx: RunContext): string {
  const oldest = ctx.volumes.map((v) => v.snapshotTime ?? "").sort()[0];
  return `${ctx.volumes.length} snapshot(s) chosen${oldest ? `, oldest from ${oldest}` : ""}; skew ${ctx.store.status.recoveryPointSkewSeconds ?? 0}s`;
}
