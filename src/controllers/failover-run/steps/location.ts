import { ProtectionGroupType } from "../../../api/v1alpha1/index.js";
import type { ProtectionGroup, ProtectionGroupStatus, ReplicaExport } from "../../../api/v1alpha1/index.js";
import { completed } from "../../../engine/types.js";
import type { Observation, SingleStep } from "../../../engine/types.js";
import { isConflict } from "../../../kube/errors.js";
import { ConflictError } from "../../../runtime/errors.js";
import type { RunContext } from "../context.js";

type Failover = NonNullable<ProtectionGroupStatus["failover"]>;

/**
 * Writes one field of a group's status, read live and written conditionally (as the lock is);
 * `next` gets what the field holds now.
 */
export async function writeGroupFailover(ctx: RunContext, name: string, next: (now: Failover | undefined) => Failover | undefined): Promise<void> {
  const g = await ctx.world.kube.get(ProtectionGroupType, { namespace: ctx.run.metadata.namespace, name }, ctx.signal);
  if (!g) return;
  try {
    await ctx.world.kube.replaceStatus(ProtectionGroupType, { ...g, status: { ...(g.status ?? {}), failover: next(g.status?.failover) } }, ctx.signal);
  } catch (err) {
    if (isConflict(err)) throw new ConflictError(`ProtectionGroup ${name} changed while recording where it runs`, "Conflict", { cause: err });
    throw err;
  }
}

async function live(ctx: RunContext, name: string): Promise<ProtectionGroup | undefined> {
  return ctx.world.kube.get(ProtectionGroupType, { namespace: ctx.run.metadata.namespace, name }, ctx.signal);
}

/**
 * CommitFailover: the point of no return, written before the first mirror is quiesced. Each group's
 * status says it is failing over (or back) to the run's target site, so that from here on nothing
 * treats it as at home: the run can no longer be cancelled, deleting the run does not give the
 * group back, the ProtectionGroup controller leaves the target site alone and watches the source
 * for a split brain, and only a Failback (or Reprotect) takes the group over.
 */
export const commitFailover: SingleStep<RunContext> = {
  kind: "single",
  name: "CommitFailover",
  idempotent: true,
  async observe(ctx): Promise<Observation> {
    for (const name of ctx.groups.keys()) {
      const f = (await live(ctx, name))?.status?.failover;
      if (f?.run !== ctx.run.metadata.name || f.runningAt !== ctx.targetSiteName(name)) return { kind: "NeedsAct" };
    }
    return { kind: "Done", message: "committed: the mirrors are quiesced and broken next; the run can no longer be cancelled" };
  },
  async act(ctx) {
    for (const name of ctx.groups.keys()) await writeGroupFailover(ctx, name, (now) => record(ctx, name, ctx.backToProtected ? "FailingBack" : "FailingOver", now));
    return completed;
  },
};

/**
 * Where the group runs, and how its NFS replicas were exported before the failover presented them
 * (RecordExports): a failover records its own; a failback, which presents the protected volumes,
 * carries the failover's on to the Reprotect.
 */
function record(ctx: RunContext, group: string, state: Failover["state"], now: Failover | undefined): Failover {
  const exports: ReplicaExport[] = ctx.backToProtected
    ? (now?.replicaExports ?? [])
    : ctx.volumes
        .filter((v) => v.group === group && v.protocol === "NFS" && v.nasBefore)
        .map((v) => ({ relationship: v.relationship, ...(v.controller !== undefined ? { controller: v.controller } : {}), svm: v.svm, volume: v.volume, ...v.nasBefore }));
  return {
    state, runningAt: ctx.targetSiteName(group), run: ctx.run.metadata.name ?? "", type: ctx.run.spec.type, at: new Date(ctx.now()).toISOString(),
    ...(exports.length ? { replicaExports: exports } : {}),
  };
}

const settled = (f: Failover | undefined): boolean => f?.state === "FailedOver" || f?.state === "FailedBack";

/**
 * RecordFailover: each group's status says where it runs now (failover: FailedOver at its recovery
 * site after a PlannedMigration or Disaster; FailedBack at home after a Failback), so a later run
 * (and a user) knows, and a Test or a second failover of it is refused. The run keeps holding the
 * groups: the next run of the sequence (Failback, Reprotect) takes them over.
 */
export const recordFailover: SingleStep<RunContext> = {
  kind: "single",
  name: "RecordFailover",
  idempotent: true,
  async observe(ctx): Promise<Observation> {
    for (const name of ctx.groups.keys()) {
      const f = (await live(ctx, name))?.status?.failover;
      if (f?.run !== ctx.run.metadata.name || f.runningAt !== ctx.targetSiteName(name) || !settled(f)) return { kind: "NeedsAct" };
    }
    return { kind: "Done", message: `running at ${[...new Set([...ctx.groups.keys()].map((g) => ctx.targetSiteName(g)))].join(", ")}` };
  },
  async act(ctx) {
    for (const name of ctx.groups.keys()) await writeGroupFailover(ctx, name, (now) => record(ctx, name, ctx.backToProtected ? "FailedBack" : "FailedOver", now));
    return completed;
  },
};

/**
 * ClearFailover (reprotect): the groups are protected again in their original direction, so their
 * status no longer says where they run; the ProtectionGroup controller takes them back (shadow
 * inventory, placeholders, Ready) once the run releases them.
 */
export const clearFailover: SingleStep<RunContext> = {
  kind: "single",
  name: "ClearFailover",
  idempotent: true,
  async observe(ctx): Promise<Observation> {
    for (const name of ctx.groups.keys()) if ((await live(ctx, name))?.status?.failover) return { kind: "NeedsAct" };
    return { kind: "Done", message: "protected again from their protected sites" };
  },
  async act(ctx) {
    for (const name of ctx.groups.keys()) await writeGroupFailover(ctx, name, () => undefined);
    return completed;
  },
};
