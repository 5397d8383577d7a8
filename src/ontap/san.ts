import { PermanentError, TransientError } from "../runtime/errors.js";
import type { Igroup, IgroupSpec, Lun, LunMap, LunMapSpec, VolumeRef } from "./client.js";
import {
  classify, hasCode, IGROUP_EXISTS, isNotFound, LUN_ALREADY_MAPPED, LUN_MAP_IGROUP_NOT_FOUND, LUN_MAP_NOT_FOUND, LUN_NOT_FOUND,
  OntapReason, unexpectedResponse,
} from "./errors.js";
import { DONE, isJobRef } from "./jobs.js";
import type { Done, JobRef } from "./jobs.js";
import { segment } from "./relationships.js";
import type { OpsContext } from "./relationships.js";
import { igroupSchema, lunMapSchema, lunSchema } from "./schemas.js";
import type { WireIgroup, WireLun } from "./schemas.js";
import { filterValue } from "./transport.js";

/*
 * LUNs, igroups and LUN maps (docs/ontap-api.md §10–§12): the OntapClient verbs of the same
 * names, whose contracts client.ts states. These endpoints are synchronous in 9.8.
 */

const LUNS = "/api/storage/luns";
const IGROUPS = "/api/protocols/san/igroups";
const LUN_MAPS = "/api/protocols/san/lun-maps";
// lun_maps is an "expensive" field: only returned when named.
const LUN_FIELDS = "uuid,name,svm.name,location.volume.name,serial_number,enabled,status.state,lun_maps";

function toLun(w: WireLun): Lun {
  return {
    uuid: w.uuid,
    name: w.name,
    svm: w.svm.name,
    volume: w.location.volume.name,
    serialNumber: w.serial_number,
    enabled: w.enabled,
    state: w.status?.state ?? undefined,
    maps: (w.lun_maps ?? []).map((m) => ({ igroup: m.igroup.name, igroupUuid: m.igroup.uuid, logicalUnitNumber: m.logical_unit_number })),
  };
}

export async function listLuns(ctx: OpsContext, v: VolumeRef, signal: AbortSignal): Promise<Lun[]> {
  const what = "list luns";
  const query = { "svm.name": filterValue(v.svm, what), "location.volume.name": filterValue(v.name, what), fields: LUN_FIELDS };
  const recs = await ctx.t.list({ op: "lun_list", what, path: LUNS, query, signal }, lunSchema);
  return recs.filter((r) => r.svm.name === v.svm && r.location.volume.name === v.name).map(toLun);
}

/** `enabled` is the administrative state (status.state is read-only, docs/ontap-api.md §10). */
export async function setLunEnabled(ctx: OpsContext, uuid: string, enabled: boolean, signal: AbortSignal): Promise<JobRef | Done> {
  const what = enabled ? "online lun" : "offline lun";
  const path = `${LUNS}/${segment(uuid, what)}`;
  const cur = await ctx.t.getOne({ op: "lun_get", what, path, query: { fields: LUN_FIELDS }, signal }, lunSchema);
  if (!cur) throw new TransientError(`${what}: LUN ${uuid} does not exist`, OntapReason.NotFound);
  if (cur.enabled === enabled) return DONE;
  // 9.8 answers 200 (synchronous); later versions may answer 202 with a job.
  const ref = await ctx.t.requestJob({ op: "lun_patch", what, path, signal }, "PATCH", { enabled }, { returnTimeout: false });
  ctx.log?.info({ lun: cur.name, enabled, job: isJobRef(ref) ? ref.uuid : undefined }, enabled ? "Brought LUN online" : "Took LUN offline");
  return ref;
}

function toIgroup(w: WireIgroup): Igroup {
  return {
    uuid: w.uuid,
    name: w.name,
    svm: w.svm.name,
    ...(w.protocol ? { protocol: w.protocol } : {}),
    ...(w.os_type ? { osType: w.os_type } : {}),
    initiators: (w.initiators ?? []).map((i) => i.name),
  };
}

export async function getIgroup(ctx: OpsContext, svm: string, name: string, signal: AbortSignal, what = "get igroup"): Promise<Igroup | undefined> {
  const query = { "svm.name": filterValue(svm, what), name: filterValue(name, what), fields: "uuid,name,svm.name,protocol,os_type,initiators" };
  const recs = (await ctx.t.list({ op: "igroup_list", what, path: IGROUPS, query, signal }, igroupSchema)).filter((r) => r.name === name && r.svm.name === svm);
  if (recs.length > 1) throw unexpectedResponse(what, `GET ${IGROUPS}`, `${recs.length} igroups named ${svm}:${name}`);
  return recs[0] && toIgroup(recs[0]);
}

export async function createIgroup(ctx: OpsContext, s: IgroupSpec, signal: AbortSignal): Promise<Igroup> {
  const what = "create igroup";
  const matches = (g: Igroup): Igroup => {
    if ((g.osType === undefined || g.osType === s.osType) && (s.protocol === undefined || g.protocol === undefined || g.protocol === s.protocol)) return g;
    throw new PermanentError(
      `${what}: igroup ${s.svm}:${s.name} exists with os_type ${g.osType ?? "?"} and protocol ${g.protocol ?? "?"}`,
      OntapReason.AlreadyExists,
    );
  };
  const existing = await getIgroup(ctx, s.svm, s.name, signal, what);
  if (existing) return matches(existing);
  const body = {
    svm: { name: s.svm },
    name: s.name,
    os_type: s.osType,
    ...(s.protocol ? { protocol: s.protocol } : {}),
    ...(s.initiators?.length ? { initiators: s.initiators.map((name) => ({ name })) } : {}),
  };
  try {
    await ctx.t.requestSync({ op: "igroup_create", what, path: IGROUPS, signal }, "POST", body);
    ctx.log?.info({ igroup: `${s.svm}:${s.name}` }, "Created igroup");
  } catch (err) {
    if (!hasCode(err, IGROUP_EXISTS)) throw err;
  }
  const now = await getIgroup(ctx, s.svm, s.name, signal, what);
  if (!now) throw new TransientError(`${what}: igroup ${s.svm}:${s.name} not visible after create`, OntapReason.NotFound);
  return matches(now);
}

export async function addInitiators(ctx: OpsContext, svm: string, name: string, initiators: readonly string[], signal: AbortSignal): Promise<Done> {
  const what = "add igroup initiators";
  const missing = async (): Promise<{ g: Igroup; names: string[] }> => {
    const g = await getIgroup(ctx, svm, name, signal, what);
    if (!g) throw new TransientError(`${what}: igroup ${svm}:${name} does not exist`, OntapReason.NotFound);
    // WWPNs and IQNs are case-insensitive.
    const have = new Set(g.initiators.map((i) => i.toLowerCase()));
    return { g, names: [...new Set(initiators)].filter((i) => !have.has(i.toLowerCase())) };
  };
  const before = await missing();
  if (before.names.length === 0) return DONE;
  const path = `${IGROUPS}/${segment(before.g.uuid, what)}/initiators`;
  try {
    await ctx.t.requestSync({ op: "initiator_create", what, path, signal }, "POST", { records: before.names.map((n) => ({ name: n })) });
    ctx.log?.info({ igroup: `${svm}:${name}`, initiators: before.names }, "Added initiators to igroup");
  } catch (err) {
    // A racing add of the same initiators is success; anything still missing is the error.
    if ((await missing()).names.length > 0) throw classify(err, what);
  }
  return DONE;
}

async function findLunMap(ctx: OpsContext, s: LunMapSpec, signal: AbortSignal, what: string): Promise<LunMap | undefined> {
  const query = {
    "svm.name": filterValue(s.svm, what), "lun.name": filterValue(s.lun, what), "igroup.name": filterValue(s.igroup, what),
    fields: "lun.uuid,lun.name,igroup.uuid,igroup.name,logical_unit_number",
  };
  const recs = (await ctx.t.list({ op: "lunmap_list", what, path: LUN_MAPS, query, signal }, lunMapSchema)).filter(
    (m) => m.lun.name === s.lun && m.igroup.name === s.igroup,
  );
  const m = recs[0];
  return m && { lunUuid: m.lun.uuid, lun: m.lun.name, igroupUuid: m.igroup.uuid, igroup: m.igroup.name, logicalUnitNumber: m.logical_unit_number };
}

/** 1. Observe the map; 2. POST it (201); 3. "already mapped" (1254207) is success; 4. read it back. */
export async function mapLun(ctx: OpsContext, s: LunMapSpec, signal: AbortSignal): Promise<LunMap> {
  const what = "map lun";
  const wanted = (m: LunMap): LunMap => {
    if (s.logicalUnitNumber === undefined || m.logicalUnitNumber === s.logicalUnitNumber) return m;
    throw new PermanentError(`${what}: ${s.lun} is mapped to ${s.igroup} as LUN ${m.logicalUnitNumber}, not ${s.logicalUnitNumber}`, OntapReason.AlreadyExists);
  };
  const existing = await findLunMap(ctx, s, signal, what);
  if (existing) return wanted(existing);
  const body = {
    svm: { name: s.svm }, lun: { name: s.lun }, igroup: { name: s.igroup },
    ...(s.logicalUnitNumber !== undefined ? { logical_unit_number: s.logicalUnitNumber } : {}),
  };
  try {
    await ctx.t.requestSync({ op: "lunmap_create", what, path: LUN_MAPS, signal }, "POST", body);
    ctx.log?.info({ lun: s.lun, igroup: s.igroup }, "Mapped LUN");
  } catch (err) {
    if (!hasCode(err, LUN_ALREADY_MAPPED)) throw err;
  }
  const now = await findLunMap(ctx, s, signal, what);
  if (!now) throw new TransientError(`${what}: map of ${s.lun} to ${s.igroup} not visible after create`, OntapReason.NotFound);
  return wanted(now);
}

export async function unmapLun(ctx: OpsContext, lunUuid: string, igroupUuid: string, signal: AbortSignal): Promise<Done> {
  const what = "unmap lun";
  const path = `${LUN_MAPS}/${segment(lunUuid, what)}/${segment(igroupUuid, what)}`;
  try {
    await ctx.t.requestSync({ op: "lunmap_delete", what, path, signal }, "DELETE");
    ctx.log?.info({ lun: lunUuid, igroup: igroupUuid }, "Unmapped LUN");
  } catch (err) {
    if (!isNotFound(err) && !hasCode(err, LUN_MAP_NOT_FOUND, LUN_NOT_FOUND, LUN_MAP_IGROUP_NOT_FOUND)) throw err;
  }
  return DONE;
}
