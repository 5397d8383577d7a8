import { ConditionType, FailoverRunType, ProtectionGroupType, findCondition } from "../../../api/v1alpha1/index.js";
import type { ProtectionGroup } from "../../../api/v1alpha1/index.js";
import { completed } from "../../../engine/types.js";
import type { Observation, SingleStep } from "../../../engine/types.js";
import { isConflict } from "../../../kube/errors.js";
import { ConflictError } from "../../../runtime/errors.js";
import type { RunContext } from "../context.js";

/** The groups as the API server has them now (the lock is never judged from a cache). */
async function liveGroups(ctx: RunContext): Promise<ProtectionGroup[]> {
  const out: ProtectionGroup[] = [];
  for (const name of ctx.groups.keys()) {
    const g = await ctx.world.kube.get(ProtectionGroupType, { namespace: ctx.run.metadata.namespace, name }, ctx.signal);
    if (g) out.push(g);
  }
  return out;
}

/**
 * A run may take a group from this holder: a CleanupTest from the Test it cleans up; a Failback
 * from the PlannedMigration or Disaster that moved the group; a Reprotect from the Failback (or,
 * confirming the recovery site's writes are discarded, from the failover itself).
 */
function mayTakeOver(ctx: RunContext, holder: NonNullable<ProtectionGroup["status"]>["activeRun"]): boolean {
  if (!holder) return false;
  switch (ctx.run.spec.type) {
    case "CleanupTest":
      return holder.name === ctx.store.status.testRun && holder.type === "Test";
    case "Failback":
      return holder.type === "PlannedMigration" || holder.type === "Disaster";
    case "Reprotect":
      return holder.type === "Failback" || ((holder.type === "PlannedMigration" || holder.type === "Disaster") && (ctx.run.spec as { discardRecoverySiteChanges?: boolean }).discardRecoverySiteChanges === true);
    default:
      return false;
  }
}

/**
 * A PlannedMigration or Disaster may take over a group left failing over by a run of either type
 * that ended (failed past its point of no return) or was deleted: it resumes the failover, each of
 * its steps observing what the first one already did.
 */
async function resumesFailover(ctx: RunContext, g: ProtectionGroup): Promise<boolean> {
  const h = g.status?.activeRun;
  const type = ctx.run.spec.type;
  if (!h || (type !== "PlannedMigration" && type !== "Disaster") || g.status?.failover?.state !== "FailingOver") return false;
  if (h.type !== "PlannedMigration" && h.type !== "Disaster") return false;
  const holder = await ctx.world.kube.get(FailoverRunType, { namespace: ctx.run.metadata.namespace, name: h.name }, ctx.signal);
  if (!holder || holder.metadata.uid !== h.uid || holder.metadata.deletionTimestamp) return true;
  const c = findCondition(holder.status?.conditions, ConditionType.Succeeded);
  return c !== undefined && c.status !== "Unknown";
}

/** Writes activeRun of one group, conditional on the version just read (409: someone else wrote first). */
async function writeHolder(ctx: RunContext, g: ProtectionGroup, holder: NonNullable<ProtectionGroup["status"]>["activeRun"] | undefined): Promise<void> {
  try {
    await ctx.world.kube.replaceStatus(ProtectionGroupType, { ...g, status: { ...(g.status ?? {}), activeRun: holder } }, ctx.signal);
  } catch (err) {
    if (isConflict(err)) throw new ConflictError(`ProtectionGroup ${g.metadata.name} changed while taking its lock`, "Conflict", { cause: err });
    throw err;
  }
}

/**
 * ClaimGroups: one run per ProtectionGroup. The lock is the group's status.activeRun, taken with a
 * live read and a write conditional on what was read. A group held by another run fails this run
 * with GroupInUse before anything is touched (the reconciler then gives back what this run took).
 * A pre-registration batch in progress is waited for; a CleanupTest takes its Test's groups over.
 */
export const claimGroups: SingleStep<RunContext> = {
  kind: "single",
  name: "ClaimGroups",
  idempotent: true,
  maxAttempts: 10,
  async observe(ctx): Promise<Observation> {
    const live = await liveGroups(ctx);
    const missing = [...ctx.groups.keys()].filter((n) => !live.some((g) => g.metadata.name === n));
    if (missing.length) return { kind: "Failed", reason: "GroupNotFound", message: `ProtectionGroup(s) ${missing.join(", ")} no longer exist` };
    for (const g of live) {
      const h = g.status?.activeRun;
      if (h && h.uid !== ctx.run.metadata.uid && !mayTakeOver(ctx, h) && !(await resumesFailover(ctx, g))) {
        return { kind: "Failed", reason: "GroupInUse", message: `ProtectionGroup ${g.metadata.name} is held by FailoverRun ${h.name} (${h.type} since ${h.since}); this run touched nothing` };
      }
    }
    const batch = live.find((g) => g.status?.preRegistration);
    if (batch) return { kind: "InProgress", pollAfterMs: 2_000, message: `waiting for the pre-registration batch of ProtectionGroup ${batch.metadata.name} to finish` };
    return live.every((g) => g.status?.activeRun?.uid === ctx.run.metadata.uid) ? { kind: "Done", message: `holding ${live.map((g) => g.metadata.name).join(", ")}` } : { kind: "NeedsAct" };
  },
  async act(ctx) {
    const holder = { name: ctx.run.metadata.name, uid: ctx.run.metadata.uid ?? "", type: ctx.run.spec.type, since: new Date(ctx.now()).toISOString() };
    for (const g of await liveGroups(ctx)) {
      if (g.status?.activeRun?.uid === holder.uid) continue;
      await writeHolder(ctx, g, holder);
      ctx.log.info({ protectionGroup: g.metadata.name }, "Took ProtectionGroup lock");
    }
    return completed;
  },
};

/** ReleaseGroups: gives the groups back (only those this run holds). */
export const releaseGroups: SingleStep<RunContext> = {
  kind: "single",
  name: "ReleaseGroups",
  idempotent: true,
  maxAttempts: 10,
  async observe(ctx): Promise<Observation> {
    const held = (await liveGroups(ctx)).filter((g) => g.status?.activeRun?.uid === ctx.run.metadata.uid);
    return held.length ? { kind: "NeedsAct" } : { kind: "Done", message: "groups released" };
  },
  async act(ctx) {
    await releaseHeld(ctx);
    return completed;
  },
};

/** Clears activeRun on every group this run holds (also used when a claim fails half-way). */
export async function releaseHeld(ctx: RunContext): Promise<string[]> {
  const released: string[] = [];
  for (const g of await liveGroups(ctx)) {
    if (g.status?.activeRun?.uid !== ctx.run.metadata.uid) continue;
    await writeHolder(ctx, g, undefined);
    released.push(g.metadata.name);
    ctx.log.info({ protectionGroup: g.metadata.name }, "Released ProtectionGroup lock");
  }
  return released;
}
