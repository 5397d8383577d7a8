import type { VolumeRecord } from "../../../api/v1alpha1/index.js";
import { isJobRef } from "../../../ontap/jobs.js";
import { completed, started } from "../../../engine/types.js";
import type { BatchStep, ItemObservation } from "../../../engine/types.js";
import type { RunContext } from "../context.js";
import { cloneName, junctionOf, volumeLabel } from "../names.js";
import { noteRemoved } from "./report.js";

/**
 * CloneVolumes: a FlexClone of each replica at the recorded snapshot (space guarantee none),
 * named from the run so it is found again after a crash. An ONTAP job failure is retried with
 * backoff and then fails the step with ONTAP's message. NFS clones are mounted in the namespace
 * at creation (junction /<clone>), SAN clones' LUNs come up online and unmapped.
 */
export const cloneVolumes: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "CloneVolumes",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes,
  label: volumeLabel,
  concurrency: () => 16,
  async observeItem(ctx, v, op): Promise<ItemObservation> {
    const name = cloneName(v, ctx.shortId);
    const vol = await ctx.ontapFor(v).getVolume({ svm: v.svm, name }, ctx.signal);
    if (vol) {
      if (vol.clone?.parentVolume !== v.volume || vol.clone.parentSnapshot !== v.snapshot) {
        return { kind: "Failed", message: `volume ${v.svm}:${name} exists and is not this run's clone of ${v.volume}@${v.snapshot ?? "?"}` };
      }
      if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 1_000 };
      v.clone = name;
      return vol.state === "online" ? { kind: "Done" } : { kind: "InProgress", pollAfterMs: 1_000, message: `${name} is ${vol.state}` };
    }
    return op?.state === "running" ? { kind: "InProgress", pollAfterMs: 1_000 } : { kind: "NeedsAct" };
  },
  async actItem(ctx, v) {
    const name = cloneName(v, ctx.shortId);
    const ref = await ctx.ontapFor(v).createFlexClone(
      { svm: v.svm, name, parentVolume: v.volume, parentSnapshot: v.snapshot ?? "", ...(v.protocol === "NFS" ? { junctionPath: junctionOf(name) } : {}) },
      ctx.signal,
    );
    ctx.log.info({ clone: name, snapshot: v.snapshot }, "Started FlexClone");
    return isJobRef(ref) ? started({ system: "ontap", endpoint: ctx.ontapEndpoint(v), kind: "job", id: ref.uuid, startedAt: new Date(ctx.now()).toISOString() }) : completed;
  },
  failItem() {
    /* the step fails: the run stops and its cleanup removes what exists */
  },
};

/**
 * DeleteClones: removes the run's FlexClones (one ONTAP call per pass each: unmount, then delete).
 * deleteClone refuses a volume that is not a FlexClone, so a cleanup can never destroy a replica.
 */
export const deleteClones: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "DeleteClones",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes,
  label: volumeLabel,
  concurrency: () => 16,
  async observeItem(ctx, v, op): Promise<ItemObservation> {
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 1_000 };
    const name = cloneName(v, ctx.shortId);
    const vol = await ctx.ontapFor(v).getVolume({ svm: v.svm, name }, ctx.signal);
    if (vol) return { kind: "NeedsAct" };
    if ((v.op?.attempts ?? 0) > 0) noteRemoved(ctx, { kind: "Volume", name: `${v.svm}:${name}`, site: ctx.recoverySite(v.group).metadata.name, action: "Deleted" });
    return { kind: "Done" };
  },
  async actItem(ctx, v) {
    const ref = await ctx.ontapFor(v).deleteClone({ svm: v.svm, name: cloneName(v, ctx.shortId) }, ctx.signal);
    return isJobRef(ref) ? started({ system: "ontap", endpoint: ctx.ontapEndpoint(v), kind: "job", id: ref.uuid, startedAt: new Date(ctx.now()).toISOString() }) : completed;
  },
  failItem() {
    /* the step fails and says which clone is left */
  },
};
