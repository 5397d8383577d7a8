import type { Logger } from "../log/logger.js";
import { PermanentError, TransientError, WaitError } from "../runtime/errors.js";
import { formatPath } from "./client.js";
import type { DeleteScope, RelationshipSpec, RelationshipState, SnapMirrorPolicy, SnapMirrorRelationship, TransferRef, VolumePath } from "./client.js";
import {
  classify, DUPLICATE_ENTRY, hasCode, isNotFound, OntapReason, SNAPMIRROR_DESTINATION_EXISTS, SNAPMIRROR_TRANSFER_STATE_INVALID,
  TRANSFER_RETRY_MS, unexpectedResponse,
} from "./errors.js";
import { capabilitiesOf, fieldsFor, parseIsoDuration, parsePath, RELATIONSHIP_FIELDS, RELATIONSHIP_GATED } from "./format.js";
import { DONE, isJobRef } from "./jobs.js";
import type { Done, JobRef } from "./jobs.js";
import { policySchema, relationshipSchema } from "./schemas.js";
import type { WireRelationship } from "./schemas.js";
import { filterValue } from "./transport.js";
import type { OntapTransport, Query } from "./transport.js";

/*
 * SnapMirror relationships and policies (docs/ontap-api.md §6, §7): the OntapClient verbs of the
 * same names, whose contracts client.ts states. Every state change observes first, never issues a
 * PATCH whose meaning depends on a state it did not see, and returns the job unawaited.
 */

/** What the operation modules share: the transport and the (optional) logger. */
export interface OpsContext {
  readonly t: OntapTransport;
  readonly log: Logger | undefined;
}

const RELATIONSHIPS = "/api/snapmirror/relationships";

/** A uuid or key as one path segment (refusing anything that could change the path). */
export function segment(id: string, what: string): string {
  if (!/^[A-Za-z0-9._:-]+$/.test(id)) throw new PermanentError(`${what}: ${JSON.stringify(id)} is not a valid ONTAP identifier`, OntapReason.InvalidSpec);
  return encodeURIComponent(id);
}

/** The snapmirrored state of the relationship's policy type: in_sync for sync policies. */
const mirroredState = (r: SnapMirrorRelationship): "snapmirrored" | "in_sync" => (r.policy.type === "sync" ? "in_sync" : "snapmirrored");
const MIRRORED: ReadonlySet<RelationshipState> = new Set(["snapmirrored", "in_sync", "out_of_sync", "synchronizing"]);
export const isMirrored = (r: SnapMirrorRelationship): boolean => MIRRORED.has(r.state);
export const transferActive = (r: SnapMirrorRelationship): boolean => r.transfer?.state === "transferring" || r.transfer?.state === "queued";

export function toRelationship(w: WireRelationship): SnapMirrorRelationship {
  const lag = w.lag_time ? parseIsoDuration(w.lag_time) : undefined;
  const t = w.transfer;
  return {
    uuid: w.uuid,
    source: parsePath(w.source.path),
    destination: parsePath(w.destination.path),
    policy: { name: w.policy?.name ?? undefined, type: w.policy?.type ?? undefined },
    state: w.state,
    healthy: w.healthy ?? undefined,
    unhealthyReasons: (w.unhealthy_reason ?? []).map((u) => u.message ?? "").filter((m) => m !== ""),
    lagTimeSeconds: lag,
    exportedSnapshot: w.exported_snapshot ?? undefined,
    transfer: t
      ? {
          uuid: t.uuid ?? undefined,
          state: t.state,
          bytesTransferred: t.bytes_transferred ?? undefined,
          endTime: t.end_time ?? undefined,
          totalDurationSeconds: t.total_duration ? parseIsoDuration(t.total_duration) : undefined,
        }
      : undefined,
    lastTransferType: w.last_transfer_type ?? undefined,
    schedule: w.transfer_schedule?.name ?? undefined,
  };
}

async function fields(ctx: OpsContext, signal: AbortSignal): Promise<string> {
  return fieldsFor(RELATIONSHIP_FIELDS, RELATIONSHIP_GATED, await ctx.t.clusterVersion(signal));
}

export async function getRelationship(ctx: OpsContext, uuid: string, signal: AbortSignal): Promise<SnapMirrorRelationship | undefined> {
  const what = "get relationship";
  const w = await ctx.t.getOne(
    { op: "relationship_get", what, path: `${RELATIONSHIPS}/${segment(uuid, what)}`, query: { fields: await fields(ctx, signal) }, signal },
    relationshipSchema,
  );
  return w && toRelationship(w);
}

/** One relationship matching `filter` in the destination view, or in the source view with atSource. */
async function findOne(ctx: OpsContext, what: string, filter: Query, atSource: boolean, signal: AbortSignal): Promise<SnapMirrorRelationship | undefined> {
  const query = { ...filter, list_destinations_only: atSource ? true : undefined, fields: await fields(ctx, signal) };
  const recs = await ctx.t.list({ op: "relationship_list", what, path: RELATIONSHIPS, query, signal }, relationshipSchema);
  // ONTAP filtered already; compare again so a query-language surprise can never pick another one.
  const match = recs.filter((r) => Object.entries(filter).every(([k, v]) => (k === "uuid" ? r.uuid : r.destination.path) === v));
  if (match.length > 1) throw unexpectedResponse(what, `GET ${RELATIONSHIPS}`, `${match.length} relationships match ${JSON.stringify(filter)}`);
  return match[0] && toRelationship(match[0]);
}

export function findRelationship(ctx: OpsContext, destination: VolumePath, atSource: boolean, signal: AbortSignal): Promise<SnapMirrorRelationship | undefined> {
  const what = atSource ? "find relationship at source" : "find relationship";
  return findOne(ctx, what, { "destination.path": pathFilter(destination, what) }, atSource, signal);
}

function pathFilter(p: VolumePath, what: string): string {
  return `${filterValue(p.svm, what)}:${filterValue(p.volume, what)}`;
}

async function mustGet(ctx: OpsContext, uuid: string, what: string, signal: AbortSignal): Promise<SnapMirrorRelationship> {
  const r = await getRelationship(ctx, uuid, signal);
  if (!r) throw new TransientError(`${what}: relationship ${uuid} does not exist on this cluster`, OntapReason.NotFound);
  return r;
}

const transferWait = (what: string, r: SnapMirrorRelationship): WaitError =>
  new WaitError(`${what}: relationship ${formatPath(r.destination)} has a transfer in progress`, OntapReason.TransferInProgress, TRANSFER_RETRY_MS);

const refuse = (what: string, r: SnapMirrorRelationship, why: string): PermanentError =>
  new PermanentError(`${what}: relationship ${formatPath(r.destination)} is ${r.state}; ${why}`, OntapReason.InvalidStateTransition);

async function patch(ctx: OpsContext, r: SnapMirrorRelationship, what: string, body: object, started: string, signal: AbortSignal): Promise<JobRef | Done> {
  const ref = await ctx.t.requestJob({ op: "relationship_patch", what, path: `${RELATIONSHIPS}/${segment(r.uuid, what)}`, signal }, "PATCH", body);
  if (isJobRef(ref)) ctx.log?.info({ relationship: r.uuid, destination: formatPath(r.destination), job: ref.uuid }, started);
  return ref;
}

/** uninitialized → mirrored (baseline). */
export async function initialize(ctx: OpsContext, uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "initialize relationship";
  const r = await mustGet(ctx, uuid, what, signal);
  if (isMirrored(r)) return DONE;
  if (r.state !== "uninitialized") throw refuse(what, r, "only an uninitialized relationship can be initialized");
  if (transferActive(r)) throw transferWait(what, r);
  return patch(ctx, r, what, { state: mirroredState(r) }, "Started SnapMirror initialize", signal);
}

async function requireSchedules(ctx: OpsContext, what: string, signal: AbortSignal): Promise<void> {
  const v = await ctx.t.clusterVersion(signal);
  if (!capabilitiesOf(v).transferSchedule) {
    throw new PermanentError(`${what}: ONTAP ${v.full} has no per-relationship transfer schedule (9.11.1+); the policy's schedule applies`, OntapReason.Unsupported);
  }
}

export async function setSchedule(ctx: OpsContext, uuid: string, schedule: string | undefined, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "set relationship schedule";
  await requireSchedules(ctx, what, signal);
  const r = await mustGet(ctx, uuid, what, signal);
  if (r.schedule === schedule) return DONE;
  return patch(ctx, r, what, { transfer_schedule: schedule ? { name: schedule } : null }, "Started SnapMirror schedule change", signal);
}

export async function quiesce(ctx: OpsContext, uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "quiesce relationship";
  const r = await mustGet(ctx, uuid, what, signal);
  if (r.state === "paused") return DONE;
  return patch(ctx, r, what, { state: "paused" }, "Started SnapMirror quiesce", signal);
}

export async function resume(ctx: OpsContext, uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "resume relationship";
  const r = await mustGet(ctx, uuid, what, signal);
  if (isMirrored(r)) return DONE;
  // PATCH snapmirrored means resync on broken_off and initialize on uninitialized: never by accident.
  if (r.state === "broken_off") throw refuse(what, r, "resuming would resync it and discard the destination's writes (use resync)");
  if (r.state !== "paused") throw refuse(what, r, "only a paused relationship can be resumed");
  return patch(ctx, r, what, { state: mirroredState(r) }, "Started SnapMirror resume", signal);
}

export async function breakOff(ctx: OpsContext, uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "break relationship";
  const r = await mustGet(ctx, uuid, what, signal);
  if (r.state === "broken_off") return DONE;
  // ONTAP would fail the job with 13303808; waiting here spares a failed job.
  if (transferActive(r)) throw transferWait(what, r);
  return patch(ctx, r, what, { state: "broken_off" }, "Started SnapMirror break", signal);
}

export async function resync(ctx: OpsContext, uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "resync relationship";
  const r = await mustGet(ctx, uuid, what, signal);
  if (isMirrored(r)) return DONE;
  if (transferActive(r)) throw transferWait(what, r);
  return patch(ctx, r, what, { state: mirroredState(r) }, "Started SnapMirror resync", signal);
}

/**
 * 9.9.1+ in-place reverse. 1. Refuse on older clusters. 2. Find the relationship in this
 * cluster's destination view and PATCH swapped paths. 3. If it is gone from there but this cluster
 * is now its source, the reverse happened: DONE.
 */
export async function reverse(ctx: OpsContext, uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "reverse relationship";
  const v = await ctx.t.clusterVersion(signal);
  if (!capabilitiesOf(v).reverseInPlace) {
    throw new PermanentError(
      `${what}: ONTAP ${v.generation}.${v.major}.${v.minor} cannot reverse a relationship in place (needs 9.9.1); create the reverse relationship on the old source cluster and resync it`,
      OntapReason.Unsupported,
    );
  }
  const r = await findOne(ctx, what, { uuid: segment(uuid, what) }, false, signal);
  if (!r) {
    if (await findOne(ctx, what, { uuid }, true, signal)) return DONE;
    throw new TransientError(`${what}: relationship ${uuid} does not exist on this cluster`, OntapReason.NotFound);
  }
  if (r.state === "uninitialized") throw refuse(what, r, "there is nothing to reverse before the baseline transfer");
  if (transferActive(r)) throw transferWait(what, r);
  const body = { source: { path: formatPath(r.destination) }, destination: { path: formatPath(r.source) }, state: mirroredState(r) };
  return patch(ctx, r, what, body, "Started SnapMirror reverse resync", signal);
}

/**
 * Creates `spec` unless a relationship with that destination exists. A duplicate answer (a create
 * racing ours, or a retry after a lost answer) is re-observed: same source → DONE.
 */
export async function createRelationship(ctx: OpsContext, spec: RelationshipSpec, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "create relationship";
  const existing = await findRelationship(ctx, spec.destination, false, signal);
  if (existing) return sameSource(what, existing, spec);
  if (spec.schedule !== undefined) await requireSchedules(ctx, what, signal);
  const body = {
    source: { path: pathFilter(spec.source, what) },
    destination: { path: pathFilter(spec.destination, what) },
    ...(spec.policy ? { policy: { name: spec.policy } } : {}),
    ...(spec.schedule ? { transfer_schedule: { name: spec.schedule } } : {}),
  };
  try {
    const ref = await ctx.t.requestJob({ op: "relationship_create", what, path: RELATIONSHIPS, signal }, "POST", body);
    if (isJobRef(ref)) ctx.log?.info({ source: body.source.path, destination: body.destination.path, job: ref.uuid }, "Started SnapMirror relationship create");
    return ref;
  } catch (err) {
    if (!hasCode(err, DUPLICATE_ENTRY, SNAPMIRROR_DESTINATION_EXISTS)) throw err;
    const now = await findRelationship(ctx, spec.destination, false, signal);
    if (!now) throw new WaitError(`${what}: ${body.destination.path} is being created`, OntapReason.Busy, TRANSFER_RETRY_MS, { cause: err });
    return sameSource(what, now, spec);
  }
}

function sameSource(what: string, r: SnapMirrorRelationship, spec: RelationshipSpec): Done {
  if (formatPath(r.source) === formatPath(spec.source)) return DONE;
  throw new PermanentError(
    `${what}: ${formatPath(spec.destination)} already replicates from ${formatPath(r.source)}, not ${formatPath(spec.source)}`,
    OntapReason.AlreadyExists,
  );
}

/** §6.6 way 2, one step per call: create the reverse relationship, then resync it. */
export async function establishReverse(ctx: OpsContext, spec: RelationshipSpec, signal: AbortSignal): Promise<JobRef | Done> {
  const what = "establish reverse relationship";
  const r = await findRelationship(ctx, spec.destination, false, signal);
  if (!r) return createRelationship(ctx, spec, signal);
  sameSource(what, r, spec);
  if (isMirrored(r)) return DONE;
  if (transferActive(r)) throw transferWait(what, r);
  return patch(ctx, r, what, { state: mirroredState(r) }, "Started SnapMirror reverse resync", signal);
}

export async function deleteRelationship(ctx: OpsContext, uuid: string, scope: DeleteScope, signal: AbortSignal): Promise<JobRef | Done> {
  const what = scope === "source_only" ? "release relationship" : "delete relationship";
  const query = scope === "full" ? {} : { [scope]: true };
  try {
    const ref = await ctx.t.requestJob({ op: "relationship_delete", what, path: `${RELATIONSHIPS}/${segment(uuid, what)}`, query, signal }, "DELETE");
    if (isJobRef(ref)) ctx.log?.info({ relationship: uuid, scope, job: ref.uuid }, "Started SnapMirror relationship delete");
    return ref;
  } catch (err) {
    if (isNotFound(err)) return DONE;
    throw err;
  }
}

/** POST /transfers (201, no job); the Location header names the transfer when ONTAP sends it. */
export async function update(ctx: OpsContext, uuid: string, signal: AbortSignal): Promise<TransferRef> {
  const what = "update relationship";
  const res = await ctx.t.requestSync({ op: "transfer_create", what, path: `${RELATIONSHIPS}/${segment(uuid, what)}/transfers`, signal }, "POST", {});
  const loc = res.headers.location;
  const m = typeof loc === "string" ? /\/transfers\/([^/?#]+)$/.exec(loc) : null;
  ctx.log?.info({ relationship: uuid, transfer: m?.[1] }, "Started SnapMirror update");
  return { kind: "transfer", relationshipUuid: uuid, ...(m?.[1] ? { uuid: decodeURIComponent(m[1]) } : {}) };
}

export async function abortTransfer(ctx: OpsContext, uuid: string, signal: AbortSignal): Promise<Done> {
  const what = "abort transfer";
  const r = await mustGet(ctx, uuid, what, signal);
  const tid = r.transfer?.uuid;
  if (!transferActive(r) || !tid) return DONE;
  const path = `${RELATIONSHIPS}/${segment(uuid, what)}/transfers/${segment(tid, what)}`;
  try {
    await ctx.t.requestSync({ op: "transfer_patch", what, path, signal }, "PATCH", { state: "aborted" });
    ctx.log?.info({ relationship: uuid, transfer: tid }, "Aborted SnapMirror transfer");
  } catch (err) {
    // It ended on its own meanwhile.
    if (!isNotFound(err) && !hasCode(err, SNAPMIRROR_TRANSFER_STATE_INVALID)) throw classify(err, what);
  }
  return DONE;
}

export async function getPolicy(ctx: OpsContext, name: string, signal: AbortSignal): Promise<SnapMirrorPolicy | undefined> {
  const what = "get snapmirror policy";
  const recs = await ctx.t.list(
    { op: "policy_list", what, path: "/api/snapmirror/policies", query: { name: filterValue(name, what), fields: "uuid,name,type,sync_type" }, signal },
    policySchema,
  );
  const p = recs.find((x) => x.name === name);
  return p && { uuid: p.uuid, name: p.name, type: p.type, ...(p.sync_type ? { syncType: p.sync_type } : {}) };
}
