import type { VolumeRecord } from "../../../api/v1alpha1/index.js";
import { completed, started } from "../../../engine/types.js";
import type { Handle, Observation, PolledOp, SingleStep } from "../../../engine/types.js";
import { isJobRef } from "../../../ontap/jobs.js";
import type { Volume } from "../../../ontap/client.js";
import { PermanentError } from "../../../runtime/errors.js";
import type { RunContext } from "../context.js";
import { exportPolicyName, isRunExportPolicy, junctionOf, volumeLabel } from "../names.js";

/*
 * A failover presents an NFS replica by its own export policy when that admits the recovery hosts,
 * else by one the run makes (vmdr_<id>), and mounts it where it was in the SVM's namespace, or at
 * /<volume> when it was not mounted (a SnapMirror destination usually is not). The replica goes
 * back to being a destination at the Reprotect, which must leave it exported as it found it: so
 * the run reads the export before it commits (RecordExports), the group's status carries it
 * through the Failback, and the Reprotect puts it back (RestoreExports) and removes the run's
 * policy once nothing uses it (DeleteExportPolicies).
 */

const nfsCopies = (ctx: RunContext): VolumeRecord[] => ctx.volumes.filter((v) => v.protocol === "NFS" && v.copy !== undefined);

/**
 * RecordExports (failovers and failbacks, before CommitFailover): each NFS volume's export policy
 * and junction as they are before the run changes anything. Reading is all it does; once
 * recorded, the record is kept (a repeat after a crash would read what the run itself set).
 */
export const recordExports: SingleStep<RunContext> = {
  kind: "single",
  name: "RecordExports",
  idempotent: true,
  observe(ctx): Promise<Observation> {
    const all = nfsCopies(ctx);
    if (all.some((v) => v.nasBefore === undefined)) return Promise.resolve({ kind: "NeedsAct" });
    return Promise.resolve({ kind: "Done", message: all.length ? all.map((v) => `${volumeLabel(v)}: ${describe(v.nasBefore)}`).join("; ") : "no NFS volumes" });
  },
  async act(ctx) {
    for (const v of nfsCopies(ctx)) {
      if (v.nasBefore) continue;
      const vol = await ctx.ontapFor(v).getVolume({ svm: v.svm, name: v.copy ?? v.volume }, ctx.signal);
      v.nasBefore = { ...(vol?.exportPolicy ? { exportPolicy: vol.exportPolicy } : {}), ...(vol?.nasPath ? { junctionPath: vol.nasPath } : {}), runPolicy: exportPolicyName(ctx.shortId) };
    }
    return completed;
  },
};

function describe(e: VolumeRecord["nasBefore"]): string {
  return `export policy ${e?.exportPolicy ?? "(none)"}, ${e?.junctionPath ? `mounted at ${e.junctionPath}` : "not mounted"}`;
}

/**
 * What restoring a replica's export takes: its own policy back (when a run's replaced it), and
 * no junction (when it had none and is still where the run mounted it). What anyone else changed
 * since is theirs and stays.
 */
export function restoreOf(v: VolumeRecord, vol: Volume): { policy?: string; unmount?: true } {
  const want = v.nasBefore ?? {};
  return {
    ...(isRunExportPolicy(vol.exportPolicy) && vol.exportPolicy !== want.exportPolicy ? { policy: want.exportPolicy ?? "default" } : {}),
    ...(want.junctionPath === undefined && vol.nasPath === junctionOf(v.volume) ? { unmount: true as const } : {}),
  };
}

const restorable = (ctx: RunContext): VolumeRecord[] => ctx.volumes.filter((v) => v.protocol === "NFS" && v.nasBefore !== undefined);

/**
 * RestoreExports (reprotect, after the resync): each NFS replica exported and mounted as it was
 * before the failover presented it (its own export policy, its junction or none). Policies and
 * junctions changed by someone else since are left as they are.
 */
export const restoreExports: SingleStep<RunContext> = {
  kind: "single",
  name: "RestoreExports",
  idempotent: true,
  async observe(ctx, _rec, ops: readonly PolledOp[]): Promise<Observation> {
    if (ops.some((o) => o.state === "running")) return { kind: "InProgress", pollAfterMs: 1_000 };
    const pending: string[] = [];
    for (const v of restorable(ctx)) {
      const vol = await ctx.ontapFor(v).getVolume({ svm: v.svm, name: v.volume }, ctx.signal);
      if (vol && Object.keys(restoreOf(v, vol)).length) pending.push(volumeLabel(v));
    }
    if (pending.length) return { kind: "NeedsAct", message: `to restore: ${pending.join(", ")}` };
    const all = restorable(ctx);
    return { kind: "Done", message: all.length ? all.map((v) => `${volumeLabel(v)}: ${describe(v.nasBefore)}`).join("; ") : "no NFS replicas" };
  },
  async act(ctx) {
    const handles: Handle[] = [];
    for (const v of restorable(ctx)) {
      const ontap = ctx.ontapFor(v);
      const ref = { svm: v.svm, name: v.volume };
      const vol = await ontap.getVolume(ref, ctx.signal);
      if (!vol) continue;
      // One change per volume per act: ONTAP runs a volume's PATCH jobs one after the other.
      const r = restoreOf(v, vol);
      const job = r.policy !== undefined ? await ontap.setExportPolicy(ref, r.policy, ctx.signal) : r.unmount ? await ontap.unmountVolume(ref, ctx.signal) : undefined;
      if (job === undefined) continue;
      ctx.log.info({ volume: volumeLabel(v), ...r }, "Restoring the replica's NFS export");
      if (isJobRef(job)) handles.push(ctx.ontapJob(ctx.ontapEndpoint(v), job));
    }
    return handles.length ? started(...handles) : completed;
  },
};

/** The run-made policies the restored replicas used, per cluster and SVM. */
function runPolicies(ctx: RunContext): { v: VolumeRecord; name: string }[] {
  const seen = new Map<string, { v: VolumeRecord; name: string }>();
  for (const v of restorable(ctx)) {
    const name = v.nasBefore?.runPolicy;
    if (name && isRunExportPolicy(name)) seen.set(`${ctx.ontapEndpoint(v)}/${v.svm}/${name}`, { v, name });
  }
  return [...seen.values()];
}

/**
 * DeleteExportPolicies (reprotect): the export policies the failover made for the replicas, now
 * that none of them uses one. A policy another volume still uses (a group of the same failover
 * not reprotected yet) is kept: ONTAP refuses the delete, and the step says so.
 */
export const deleteExportPolicies: SingleStep<RunContext> = {
  kind: "single",
  name: "DeleteExportPolicies",
  idempotent: true,
  async observe(ctx, rec): Promise<Observation> {
    const left: string[] = [];
    for (const { v, name } of runPolicies(ctx)) if (await ctx.ontapFor(v).getExportPolicy(v.svm, name, ctx.signal)) left.push(`${v.svm}:${name}`);
    if (left.length === 0) return { kind: "Done", message: runPolicies(ctx).length ? "the failover's export policies are gone" : "the failover made no export policy" };
    // Tried once and refused: other volumes still use them.
    if (rec.attempts > 0) return { kind: "Done", message: `kept ${left.join(", ")}: other volumes still use them` };
    return { kind: "NeedsAct" };
  },
  async act(ctx) {
    for (const { v, name } of runPolicies(ctx)) {
      try {
        await ctx.ontapFor(v).deleteExportPolicy(v.svm, name, ctx.signal);
      } catch (err) {
        if (!(err instanceof PermanentError)) throw err;
        ctx.log.info({ exportPolicy: `${v.svm}:${name}`, err }, "Export policy still in use; kept");
      }
    }
    return completed;
  },
};
