import type { VolumeRecord } from "../../../api/v1alpha1/index.js";
import { isJobRef } from "../../../ontap/jobs.js";
import type { Done, JobRef, OntapClient, SnapMirrorRelationship } from "../../../ontap/client.js";
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

function handleOf(ctx: RunContext, endpoint: string, ref: JobRef | Done): ActResult {
  return isJobRef(ref) ? started(ctx.ontapJob(endpoint, ref)) : completed;
}

/**
 * A Failback's createMissingVolumes: the protected volume, lost with its site, made again as a
 * DP volume of the replica's size on the aggregate the Site names for it, under its old name, so
 * the reverse relationship's first transfer is a baseline of everything the replica holds.
 */
async function createMissing(ctx: RunContext, v: VolumeRecord, peer: NonNullable<VolumeRecord["peer"]>): Promise<JobRef | Done> {
  const site = ctx.recoverySite(v.group);
  const controllers = site.spec.storage.controllers;
  const controller = controllers.find((c) => c.name === v.controller) ?? controllers[0];
  if (!controller?.aggregate) {
    throw new PermanentError(`${volumeLabel(v)} must be created, but Site ${site.metadata.name} names no aggregate for it: set spec.storage.controllers[].aggregate`, "NoAggregate");
  }
  const replica = await peerOntap(ctx, v).getVolume({ svm: peer.svm, name: peer.volume }, ctx.signal);
  if (!replica?.sizeBytes) throw new PermanentError(`the replica ${peer.svm}:${peer.volume} reports no size to create ${volumeLabel(v)} from`, "ReplicaNotFound");
  ctx.log.info({ volume: volumeLabel(v), aggregate: controller.aggregate, sizeBytes: replica.sizeBytes }, "Creating the missing protected volume for the failback");
  return ctx.ontapFor(v).createDpVolume({ svm: v.svm, name: v.volume, aggregate: controller.aggregate, sizeBytes: replica.sizeBytes }, ctx.signal);
}

/**
 * ReverseResync (failback): the protected volume becomes the destination of a relationship from
 * its replica, resynced from their newest common snapshot, so what the recovery site wrote since
 * the failover flows home while the VMs still run there (VMbook ch. 11, "Failback Site 2 to Site
 * 1"; ONTAP 9.8's way, on the protected cluster: create the opposite relationship, then resync).
 * The volume's own writes since the break are discarded; its VMs were removed from the protected
 * site's inventory and its datastore taken off the hosts first, so nothing uses it. Done when the
 * reverse relationship is mirrored with no transfer running. A protected volume that no longer
 * exists fails the step (nothing has stopped at the recovery site yet), unless the spec's
 * createMissingVolumes has it created (createMissing) and initialized from the replica.
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
    const ontap = ctx.ontapFor(v);
    const rel = await ontap.findRelationship({ svm: v.svm, volume: v.volume }, ctx.signal);
    if (mirrored(rel)) return { kind: "Done" };
    if (rel && transferring(rel)) return { kind: "InProgress", pollAfterMs: 1_000, message: `${rel.state === "uninitialized" ? "initializing" : "resyncing"} (${rel.transfer?.bytesTransferred ?? 0} bytes so far)` };
    if (!rel && !(await ontap.getVolume({ svm: v.svm, name: v.volume }, ctx.signal)) && !ctx.run.spec.createMissingVolumes) {
      return {
        kind: "Failed",
        message:
          `the protected volume ${volumeLabel(v)} no longer exists at Site ${ctx.recoverySite(v.group).metadata.name}: restore it, or set spec.createMissingVolumes: true ` +
          `in a new Failback to create it and copy the replica's data into it in full (a baseline transfer); nothing was stopped at Site ${ctx.sourceSite(v.group).metadata.name}`,
      };
    }
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, v) {
    const peer = peerOf(v);
    const ontap = ctx.ontapFor(v);
    if (!(await ontap.getVolume({ svm: v.svm, name: v.volume }, ctx.signal))) return handleOf(ctx, ctx.ontapEndpoint(v), await createMissing(ctx, v, peer));
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
