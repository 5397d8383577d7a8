import { PermanentError, TransientError, WaitError } from "../runtime/errors.js";
import type { DpVolumeSpec, FlexCloneSpec, Snapshot, Volume, VolumeRef } from "./client.js";
import { DUPLICATE_ENTRY, hasCode, isNotFound, OntapReason, TRANSFER_RETRY_MS, unexpectedResponse } from "./errors.js";
import { DONE, isJobRef } from "./jobs.js";
import type { Done, JobRef } from "./jobs.js";
import { segment } from "./relationships.js";
import type { OpsContext } from "./relationships.js";
import { snapshotSchema, volumeSchema } from "./schemas.js";
import type { WireVolume } from "./schemas.js";
import { filterValue } from "./transport.js";

/*
 * Volumes, snapshots and FlexClones (docs/ontap-api.md §8, §9): the OntapClient verbs of the same
 * names, whose contracts client.ts states. Volumes are addressed by SVM and name; each verb reads
 * the volume first (which also yields its uuid) and acts only when the state differs.
 */

const VOLUMES = "/api/storage/volumes";
// clone.parent_* and nas.path are "expensive" fields: they come only when asked for by name.
const VOLUME_FIELDS = [
  "uuid", "name", "svm.name", "type", "state", "size", "nas.path", "nas.export_policy.name",
  "clone.is_flexclone", "clone.parent_volume.name", "clone.parent_snapshot.name", "clone.split_initiated", "clone.split_complete_percent",
].join(",");

export function toVolume(w: WireVolume): Volume {
  const c = w.clone;
  return {
    uuid: w.uuid,
    name: w.name,
    svm: w.svm.name,
    type: w.type,
    state: w.state,
    sizeBytes: w.size ?? undefined,
    nasPath: w.nas?.path ? w.nas.path : undefined,
    exportPolicy: w.nas?.export_policy?.name ?? undefined,
    clone: c?.is_flexclone
      ? {
          parentVolume: c.parent_volume?.name ?? undefined,
          parentSnapshot: c.parent_snapshot?.name ?? undefined,
          splitInitiated: c.split_initiated ?? undefined,
          splitCompletePercent: c.split_complete_percent ?? undefined,
        }
      : undefined,
  };
}

export async function getVolume(ctx: OpsContext, v: VolumeRef, signal: AbortSignal, what = "get volume"): Promise<Volume | undefined> {
  const query = { "svm.name": filterValue(v.svm, what), name: filterValue(v.name, what), fields: VOLUME_FIELDS };
  const recs = (await ctx.t.list({ op: "volume_list", what, path: VOLUMES, query, signal }, volumeSchema)).filter(
    (r) => r.name === v.name && r.svm.name === v.svm,
  );
  if (recs.length > 1) throw unexpectedResponse(what, `GET ${VOLUMES}`, `${recs.length} volumes named ${v.svm}:${v.name}`);
  return recs[0] && toVolume(recs[0]);
}

async function mustGet(ctx: OpsContext, v: VolumeRef, what: string, signal: AbortSignal): Promise<Volume> {
  const vol = await getVolume(ctx, v, signal, what);
  // Usually a create job that has not finished yet: a prerequisite, not a failure.
  if (!vol) throw new WaitError(`${what}: volume ${v.svm}:${v.name} does not exist`, OntapReason.NotFound, TRANSFER_RETRY_MS);
  return vol;
}

async function patchVolume(ctx: OpsContext, vol: Volume, what: string, body: object, started: string, signal: AbortSignal): Promise<JobRef | Done> {
  const ref = await ctx.t.requestJob({ op: "volume_patch", what, path: `${VOLUMES}/${segment(vol.uuid, what)}`, signal }, "PATCH", body);
  if (isJobRef(ref)) ctx.log?.info({ volume: `${vol.svm}:${vol.name}`, job: ref.uuid }, started);
  return ref;
}

/**
 * POSTs a volume unless `observe` finds it. A duplicate answer is re-observed: when the volume is
 * not visible yet its create job is still running (Wait).
 */
async function createVolume(
  ctx: OpsContext, v: VolumeRef, what: string, body: object, observe: (vol: Volume) => Done, started: string, signal: AbortSignal,
): Promise<JobRef | Done> {
  const existing = await getVolume(ctx, v, signal, what);
  if (existing) return observe(existing);
  try {
    const ref = await ctx.t.requestJob({ op: "volume_create", what, path: VOLUMES, signal }, "POST", body);
    if (isJobRef(ref)) ctx.log?.info({ volume: `${v.svm}:${v.name}`, job: ref.uuid }, started);
    return ref;
  } catch (err) {
    if (!hasCode(err, DUPLICATE_ENTRY)) throw err;
    const now = await getVolume(ctx, v, signal, what);
    if (!now) throw new WaitError(`${what}: volume ${v.svm}:${v.name} is being created`, OntapReason.Busy, TRANSFER_RETRY_MS, { cause: err });
    return observe(now);
  }
}

export function createDpVolume(ctx: OpsContext, s: DpVolumeSpec, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "create dp volume";
  const body = { name: s.name, svm: { name: s.svm }, aggregates: [{ name: s.aggregate }], size: s.sizeBytes, type: "dp" };
  return createVolume(ctx, { svm: s.svm, name: s.name }, what, body, (vol) => {
    if (vol.type === "dp") return DONE;
    throw new PermanentError(`${what}: volume ${s.svm}:${s.name} exists with type ${vol.type}`, OntapReason.AlreadyExists);
  }, "Started DP volume create", signal);
}

export function createFlexClone(ctx: OpsContext, s: FlexCloneSpec, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "create flexclone";
  const body = {
    name: s.name,
    svm: { name: s.svm },
    clone: { is_flexclone: true, parent_volume: { name: s.parentVolume }, parent_snapshot: { name: s.parentSnapshot } },
    // A DR test's copy takes no space up front (the VMbook's FlexClone with space guarantee none).
    guarantee: { type: "none" },
    ...(s.junctionPath ? { nas: { path: s.junctionPath } } : {}),
  };
  return createVolume(ctx, { svm: s.svm, name: s.name }, what, body, (vol) => {
    if (vol.clone?.parentVolume === s.parentVolume && vol.clone.parentSnapshot === s.parentSnapshot) return DONE;
    const is = vol.clone ? `a FlexClone of ${vol.clone.parentVolume ?? "?"}@${vol.clone.parentSnapshot ?? "?"}` : `not a FlexClone (type ${vol.type})`;
    throw new PermanentError(`${what}: volume ${s.svm}:${s.name} exists and is ${is}`, OntapReason.AlreadyExists);
  }, "Started FlexClone create", signal);
}

export async function mountVolume(ctx: OpsContext, v: VolumeRef, junction: string, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "mount volume";
  if (!junction.startsWith("/")) throw new PermanentError(`${what}: junction path ${JSON.stringify(junction)} must start with /`, OntapReason.InvalidSpec);
  const vol = await mustGet(ctx, v, what, signal);
  if (vol.nasPath === junction) return DONE;
  return patchVolume(ctx, vol, what, { nas: { path: junction } }, "Started volume mount", signal);
}

export async function unmountVolume(ctx: OpsContext, v: VolumeRef, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "unmount volume";
  const vol = await mustGet(ctx, v, what, signal);
  if (!vol.nasPath) return DONE;
  return patchVolume(ctx, vol, what, { nas: { path: "" } }, "Started volume unmount", signal);
}

export async function setExportPolicy(ctx: OpsContext, v: VolumeRef, policy: string, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "set export policy";
  const vol = await mustGet(ctx, v, what, signal);
  if (vol.exportPolicy === policy) return DONE;
  return patchVolume(ctx, vol, what, { nas: { export_policy: { name: policy } } }, "Started export policy assignment", signal);
}

export async function offlineVolume(ctx: OpsContext, v: VolumeRef, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "offline volume";
  const vol = await mustGet(ctx, v, what, signal);
  if (vol.state === "offline") return DONE;
  return patchVolume(ctx, vol, what, { state: "offline" }, "Started volume offline", signal);
}

async function deleteByUuid(ctx: OpsContext, vol: Volume, what: string, signal: AbortSignal): Promise<JobRef | Done> {
  try {
    const ref = await ctx.t.requestJob({ op: "volume_delete", what, path: `${VOLUMES}/${segment(vol.uuid, what)}`, signal }, "DELETE");
    if (isJobRef(ref)) ctx.log?.info({ volume: `${vol.svm}:${vol.name}`, job: ref.uuid }, "Started volume delete");
    return ref;
  } catch (err) {
    if (isNotFound(err)) return DONE;
    throw err;
  }
}

export async function deleteVolume(ctx: OpsContext, v: VolumeRef, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "delete volume";
  const vol = await getVolume(ctx, v, signal, what);
  return vol ? deleteByUuid(ctx, vol, what, signal) : DONE;
}

export async function deleteClone(ctx: OpsContext, v: VolumeRef, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "delete flexclone";
  const vol = await getVolume(ctx, v, signal, what);
  if (!vol) return DONE;
  if (!vol.clone) throw new PermanentError(`${what}: volume ${v.svm}:${v.name} is not a FlexClone; refusing to delete it`, OntapReason.InvalidSpec);
  // The docs ask for an unmount before the delete (docs/ontap-api.md §8).
  if (vol.nasPath) return patchVolume(ctx, vol, what, { nas: { path: "" } }, "Started volume unmount", signal);
  return deleteByUuid(ctx, vol, what, signal);
}

export async function splitClone(ctx: OpsContext, v: VolumeRef, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "split flexclone";
  const vol = await getVolume(ctx, v, signal, what);
  if (!vol) throw new TransientError(`${what}: volume ${v.svm}:${v.name} does not exist`, OntapReason.NotFound);
  if (!vol.clone) return DONE;
  if (vol.clone.splitInitiated) {
    throw new WaitError(`${what}: split of ${v.svm}:${v.name} is ${vol.clone.splitCompletePercent ?? 0}% done`, OntapReason.Busy, TRANSFER_RETRY_MS);
  }
  return patchVolume(ctx, vol, what, { clone: { split_initiated: true } }, "Started FlexClone split", signal);
}

export async function listSnapshots(ctx: OpsContext, v: VolumeRef, signal: AbortSignal): Promise<Snapshot[]> {
  const what = "list snapshots";
  const vol = await getVolume(ctx, v, signal, what);
  if (!vol) throw new TransientError(`${what}: volume ${v.svm}:${v.name} does not exist`, OntapReason.NotFound);
  const recs = await ctx.t.list(
    {
      op: "snapshot_list", what, path: `${VOLUMES}/${segment(vol.uuid, what)}/snapshots`,
      query: { fields: "uuid,name,create_time,owners" }, signal,
    },
    snapshotSchema,
  );
  const snaps = recs.map((s) => ({ uuid: s.uuid, name: s.name, createTime: s.create_time, owners: s.owners ?? [] }));
  // Oldest first by create time; ONTAP's own order breaks ties.
  return snaps.map((s, i) => ({ s, i, t: Date.parse(s.createTime) })).sort((a, b) => (a.t - b.t) || (a.i - b.i)).map((x) => x.s);
}

/** SnapMirror names its snapshots snapmirror.<uuid>_<n>.<timestamp> (docs/ontap-api.md §9). */
export async function findNewestSnapMirrorSnapshot(ctx: OpsContext, v: VolumeRef, signal: AbortSignal): Promise<Snapshot | undefined> {
  return (await listSnapshots(ctx, v, signal)).filter((s) => s.name.startsWith("snapmirror.")).at(-1);
}
