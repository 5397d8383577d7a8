import { ConditionType, DISRUPTIVE_RUN_TYPES, FailoverRunType, ProtectionGroupType, findCondition } from "../../../api/v1alpha1/index.js";
import type { ProtectionGroup, RunType } from "../../../api/v1alpha1/index.js";
import type { KubeStore } from "../../../kube/store.js";
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
export function mayTakeOver(run: { spec: { type: string; discardRecoverySiteChanges?: boolean } }, testRun: string | undefined, holder: Holder | undefined): boolean {
  if (!holder) return false;
  switch (run.spec.type) {
    case "CleanupTest":
      return holder.name === testRun && holder.type === "Test";
    case "Failback":
      return holder.type === "PlannedMigration" || holder.type === "Disaster";
    case "Reprotect":
      return holder.type === "Failback" || ((holder.type === "PlannedMigration" || holder.type === "Disaster") && run.spec.discardRecoverySiteChanges === true);
    default:
      return false;
  }
}

type Holder = NonNullable<NonNullable<ProtectionGroup["status"]>["activeRun"]>;

/** Runs that resume one another's work: a failover of either kind, a failback, a reprotect. */
const family = (t: string): string => (t === "PlannedMigration" || t === "Disaster" ? "failover" : t);

/**
 * A disruptive run may take over a group held by a run of its own kind (a PlannedMigration or
 * Disaster, for either) that ended (failed past its point of no return) or was deleted: it
 * resumes that run's work, each of its steps observing what the first one already did. A
 * failover resumes only a group left failing over.
 */
export async function resumesHolder(kube: KubeStore, run: { metadata: { namespace?: string }; spec: { type: string } }, g: ProtectionGroup, signal: AbortSignal): Promise<boolean> {
  const h = g.status?.activeRun;
  const type = run.spec.type;
  if (!h || !DISRUPTIVE_RUN_TYPES.includes(type as RunType) || family(h.type) !== family(type)) return false;
  if (family(type) === "failover" && g.status?.failover?.state !== "FailingOver") return false;
  const holder = await kube.get(FailoverRunType, { namespace: run.metadata.namespace, name: h.name }, signal);
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
      if (h && h.uid !== ctx.run.metadata.uid && !mayTakeOver(ctx.run, ctx.store.status.testRun, h) && !(await resumesHolder(ctx.world.kube, ctx.run, g, ctx.signal))) {
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
