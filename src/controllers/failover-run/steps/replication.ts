import type { VolumeRecord } from "../../../api/v1alpha1/index.js";
import { isJobRef } from "../../../ontap/jobs.js";
import type { JobRef, SnapMirrorRelationship } from "../../../ontap/client.js";
import { completed, started } from "../../../engine/types.js";
import type { ActResult, BatchStep, ItemObservation, Observation, SingleStep } from "../../../engine/types.js";
import { PermanentError } from "../../../runtime/errors.js";
import { parseDuration } from "../../../util/duration.js";
import type { RunContext } from "../context.js";
import { volumeLabel } from "../names.js";

const transferring = (r: SnapMirrorRelationship): boolean => r.transfer?.state === "transferring" || r.transfer?.state === "queued";

async function relationshipOf(ctx: RunContext, v: VolumeRecord): Promise<SnapMirrorRelationship> {
  const rel = await ctx.ontapFor(v).findRelationship({ svm: v.svm, volume: v.volume }, ctx.signal);
  if (!rel) throw new PermanentError(`no SnapMirror relationship has ${volumeLabel(v)} as its destination`, "RelationshipNotFound");
  return rel;
}

function jobOrDone(ctx: RunContext, v: VolumeRecord, ref: { kind: string; uuid?: string }): ActResult {
  return isJobRef(ref as JobRef) ? started(ctx.ontapJob(ctx.ontapEndpoint(v), ref as JobRef)) : completed;
}

const volumes = (ctx: RunContext): VolumeRecord[] => ctx.volumes;

/**
 * FinalUpdate (planned migration): one last SnapMirror update of each replica after the
 * protected VMs stopped, so the recovery site gets their last writes. Done when a transfer has
 * landed a snapshot newer than the one before the update; a repeated update is harmless.
 */
export const finalUpdate: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "FinalUpdate",
  idempotent: true,
  failWhenItemsFail: true,
  items: volumes,
  label: volumeLabel,
  concurrency: () => 16,
  maxAttempts: 5,
  async observeItem(ctx, v): Promise<ItemObservation> {
    const rel = await relationshipOf(ctx, v);
    if (rel.state !== "snapmirrored") return { kind: "Done" }; // already quiesced or broken by an earlier pass
    if (transferring(rel)) return { kind: "InProgress", pollAfterMs: 1_000, message: "transferring" };
    if (v.updatedFrom !== undefined && rel.exportedSnapshot !== v.updatedFrom) {
      v.snapshot = rel.exportedSnapshot;
      return { kind: "Done" };
    }
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, v) {
    const rel = await relationshipOf(ctx, v);
    v.updatedFrom = rel.exportedSnapshot ?? "";
    await ctx.ontapFor(v).update(rel.uuid, ctx.signal);
    ctx.log.info({ relationship: v.relationship }, "Started the final SnapMirror update");
    return completed;
  },
  failItem() {
    /* the step fails: no break without the last writes */
  },
};

/**
 * QuiesceReplication: each relationship paused (a running transfer finishes first), at the
 * destination cluster, which answers when the protected site does not. Bounded by
 * `spec.quiesceTimeout` (default 5m): a quiesce still waiting on a transfer then fails the step
 * with that reason, before anything is broken.
 */
export const quiesceReplication: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "QuiesceReplication",
  idempotent: true,
  failWhenItemsFail: true,
  items: volumes,
  label: volumeLabel,
  concurrency: () => 16,
  itemTimeoutMs: (ctx) => parseDuration(ctx.run.spec.quiesceTimeout ?? "5m"),
  async observeItem(ctx, v, op): Promise<ItemObservation> {
    const rel = await relationshipOf(ctx, v);
    if (rel.state === "paused" || rel.state === "broken_off") return { kind: "Done" };
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 1_000, message: transferring(rel) ? "waiting for a running transfer" : "quiescing" };
    if (transferring(rel) && v.op?.attempts) return { kind: "InProgress", pollAfterMs: 1_000, message: `waiting for a running transfer (${rel.transfer?.bytesTransferred ?? 0} bytes so far)` };
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, v) {
    const rel = await relationshipOf(ctx, v);
    return jobOrDone(ctx, v, await ctx.ontapFor(v).quiesce(rel.uuid, ctx.signal));
  },
  failItem() {
    /* the step fails before any break */
  },
};

/** BreakReplication: each relationship broken off at the destination; the replica becomes writable. */
export const breakReplication: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "BreakReplication",
  idempotent: true,
  failWhenItemsFail: true,
  items: volumes,
  label: volumeLabel,
  concurrency: () => 16,
  async observeItem(ctx, v, op): Promise<ItemObservation> {
    const rel = await relationshipOf(ctx, v);
    if (rel.state === "broken_off") return { kind: "Done" };
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 1_000 };
    return rel.state === "paused" ? { kind: "NeedsAct" } : { kind: "Failed", message: `${volumeLabel(v)} is ${rel.state}, not paused: it was resumed behind the run` };
  },
  async actItem(ctx, v) {
    const rel = await relationshipOf(ctx, v);
    ctx.log.info({ relationship: v.relationship }, "Breaking SnapMirror relationship");
    return jobOrDone(ctx, v, await ctx.ontapFor(v).breakOff(rel.uuid, ctx.signal));
  },
  failItem() {
    /* the step fails */
  },
};

/**
 * RecordRecoveryPoint: the snapshot each broken-off replica holds — the newest that was
 * transferred — with its time, and the data-loss window (now minus the oldest of them): the
 * recovery point the failover achieved. Read-only.
 */
export const recordRecoveryPoint: SingleStep<RunContext> = {
  kind: "single",
  name: "RecordRecoveryPoint",
  idempotent: true,
  async observe(ctx): Promise<Observation> {
    const status = ctx.store.status;
    if (status.recoveryPoints?.length === ctx.volumes.length && status.dataLossWindowSeconds !== undefined) return { kind: "Done", message: describe(status.dataLossWindowSeconds) };
    const points = [];
    for (const v of ctx.volumes) {
      const rel = await relationshipOf(ctx, v);
      const name = rel.exportedSnapshot ?? v.snapshot ?? "";
      const snap = (await ctx.ontapFor(v).listSnapshots({ svm: v.svm, name: v.volume }, ctx.signal)).find((s) => s.name === name);
      v.snapshot = name;
      v.snapshotTime = snap?.createTime;
      points.push({ relationship: v.relationship, volume: v.volume, snapshot: name, ...(snap ? { createTime: snap.createTime } : {}) });
    }
    status.recoveryPoints = points;
    const times = points.map((p) => (p.createTime ? Date.parse(p.createTime) : NaN)).filter(Number.isFinite);
    status.dataLossWindowSeconds = times.length ? Math.max(0, Math.round((ctx.now() - Math.min(...times)) / 1000)) : undefined;
    status.recoveryPointSkewSeconds = times.length > 1 ? (Math.max(...times) - Math.min(...times)) / 1000 : 0;
    return { kind: "Done", message: describe(status.dataLossWindowSeconds) };
  },
  act: () => Promise.reject(new Error("RecordRecoveryPoint only observes")),
};

function describe(window: number | undefined): string {
  return window === undefined ? "recovery point recorded" : `recovering from snapshots up to ${window}s old (the data-loss window)`;
}
