import type { VolumeRecord } from "../../../api/v1alpha1/index.js";
import { isJobRef } from "../../../ontap/jobs.js";
import type { JobRef, OntapClient, SnapMirrorRelationship } from "../../../ontap/client.js";
import { completed, started } from "../../../engine/types.js";
import type { ActResult, BatchStep, ItemObservation } from "../../../engine/types.js";
import { PermanentError } from "../../../runtime/errors.js";
import type { RunContext } from "../context.js";
import { volumeLabel } from "../names.js";

const transferring = (r: SnapMirrorRelationship): boolean => r.transfer?.state === "transferring" || r.transfer?.state === "queued";
const mirrored = (r: SnapMirrorRelationship | undefined): boolean => r?.state === "snapmirrored" && !transferring(r);

function peerOf(v: VolumeRecord): NonNullable<VolumeRecord["peer"]> {
  if (!v.peer) throw new PermanentError(`${volumeLabel(v)} has no replication peer in the run's plan`, "InvalidPlan");
  return v.peer;
}

/** The cluster of a volume's peer: at the Site the run's VMs leave (its source site). */
function peerOntap(ctx: RunContext, v: VolumeRecord): OntapClient {
  return ctx.world.ontap(ctx.sourceSite(v.group), peerOf(v).controller);
}

function handleOf(ctx: RunContext, endpoint: string, ref: JobRef | "Done" | { kind: string }): ActResult {
  return isJobRef(ref as JobRef) ? started({ system: "ontap", endpoint, kind: "job", id: (ref as JobRef).uuid, startedAt: new Date(ctx.now()).toISOString() }) : completed;
}

/**
 * ReverseResync (failback): the protected volume becomes the destination of a relationship from
 * its replica, resynced from their newest common snapshot, so what the recovery site wrote since
 * the failover flows home while the VMs still run there (VMbook ch. 11, "Failback Site 2 to Site
 * 1"; ONTAP 9.8's way, on the protected cluster: create the opposite relationship, then resync).
 * The volume's own writes since the break are discarded; its VMs were removed from the protected
 * site's inventory and its datastore taken off the hosts first, so nothing uses it. Done when the
 * reverse relationship is mirrored with no transfer running.
 */
export const reverseResync: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "ReverseResync",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes,
  label: volumeLabel,
  concurrency: () => 16,
  maxAttempts: 5,
  async observeItem(ctx, v, op): Promise<ItemObservation> {
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 1_000 };
    const rel = await ctx.ontapFor(v).findRelationship({ svm: v.svm, volume: v.volume }, ctx.signal);
    if (mirrored(rel)) return { kind: "Done" };
    if (rel && transferring(rel)) return { kind: "InProgress", pollAfterMs: 1_000, message: `resyncing (${rel.transfer?.bytesTransferred ?? 0} bytes so far)` };
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, v) {
    const peer = peerOf(v);
    // The reverse relationship carries the forward one's policy (the same snapshots are kept).
    const forward = await peerOntap(ctx, v).findRelationship({ svm: peer.svm, volume: peer.volume }, ctx.signal);
    const ref = await ctx.ontapFor(v).establishReverse(
      { source: { svm: peer.svm, volume: peer.volume }, destination: { svm: v.svm, volume: v.volume }, ...(forward?.policy.name ? { policy: forward.policy.name } : {}) },
      ctx.signal,
    );
    ctx.log.info({ relationship: v.relationship, from: `${peer.svm}:${peer.volume}` }, "Reverse resync toward the protected site");
    return handleOf(ctx, ctx.ontapEndpoint(v), ref);
  },
  failItem() {
    /* the step fails: nothing is stopped at the recovery site without its data on the way home */
  },
};

/**
 * ResyncForward (reprotect): the original relationship resynced over the replica, which becomes a
 * SnapMirror destination again: what the recovery site wrote since the failover is discarded
 * (after a failback it is at home already). Its VMs were unregistered and its datastore taken off
 * the recovery hosts first: a LUN must never turn read-only under a mounted VMFS.
 */
export const resyncForward: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "ResyncForward",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes,
  label: volumeLabel,
  concurrency: () => 16,
  maxAttempts: 5,
  async observeItem(ctx, v, op): Promise<ItemObservation> {
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 1_000 };
    const rel = await ctx.ontapFor(v).findRelationship({ svm: v.svm, volume: v.volume }, ctx.signal);
    if (!rel) return { kind: "Failed", message: `no SnapMirror relationship has ${volumeLabel(v)} as its destination any more` };
    if (mirrored(rel)) return { kind: "Done" };
    if (transferring(rel)) return { kind: "InProgress", pollAfterMs: 1_000, message: "resyncing" };
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, v) {
    const rel = await ctx.ontapFor(v).findRelationship({ svm: v.svm, volume: v.volume }, ctx.signal);
    if (!rel) return completed;
    ctx.log.info({ relationship: v.relationship }, "Resyncing the original SnapMirror relationship");
    return handleOf(ctx, ctx.ontapEndpoint(v), await ctx.ontapFor(v).resync(rel.uuid, ctx.signal));
  },
  failItem() {
    /* the step fails */
  },
};

/**
 * ReleaseReverse (reprotect): the failback's reverse relationship deleted on the protected cluster
 * (its destination), which also releases it at the recovery cluster (its source) and drops its
 * snapshots there. Runs after ResyncForward, which no longer needs them. Done when the protected
 * volume is the destination of no relationship.
 */
export const releaseReverse: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "ReleaseReverse",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes,
  label: volumeLabel,
  concurrency: () => 16,
  maxAttempts: 5,
  async observeItem(ctx, v, op): Promise<ItemObservation> {
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 1_000 };
    const peer = peerOf(v);
    const rel = await peerOntap(ctx, v).findRelationship({ svm: peer.svm, volume: peer.volume }, ctx.signal);
    return rel ? { kind: "NeedsAct" } : { kind: "Done" };
  },
  async actItem(ctx, v) {
    const peer = peerOf(v);
    const ontap = peerOntap(ctx, v);
    const rel = await ontap.findRelationship({ svm: peer.svm, volume: peer.volume }, ctx.signal);
    if (!rel) return completed;
    ctx.log.info({ relationship: v.relationship, reverse: rel.uuid }, "Releasing the reverse SnapMirror relationship");
    return handleOf(ctx, `${ctx.sourceSite(v.group).metadata.name}/${peer.controller ?? ""}`, await ontap.deleteRelationship(rel.uuid, "full", ctx.signal));
  },
  failItem() {
    /* the step fails */
  },
};
