import { findCondition } from "../../api/v1alpha1/index.js";
import type { ProtectionGroup, ReplicationRelationship } from "../../api/v1alpha1/index.js";
import type { ShadowRecord } from "../../controllers/protection-group/records.js";
import { parseDuration } from "../../util/duration.js";

export interface MapVm {
  readonly name: string;
  readonly uuid: string;
  readonly folder: string;
  readonly datastores: readonly string[];
  readonly shadowFolder: string;
  readonly shadowed: boolean;
  readonly placeholder?: string;
  readonly problems: readonly string[];
}

export interface MapDatastore {
  readonly name: string;
  /** The relationship whose source volume carries it (none: not replicated by this group). */
  readonly relationship?: string;
  readonly problems: readonly string[];
}

export interface MapRelationship {
  readonly name: string;
  readonly found: boolean;
  readonly sourceSite?: string;
  readonly sourceVolume?: string;
  readonly destinationSite?: string;
  readonly destinationVolume?: string;
  readonly state?: string;
  readonly healthy?: boolean;
  readonly lagSeconds?: number;
  readonly rpoSeconds?: number;
  /** Datastores on the source volume, as the group's status records them (undefined: not recorded). */
  readonly datastores?: readonly string[];
  readonly problems: readonly string[];
}

export interface MapProblem {
  readonly subject: string;
  readonly kind: string;
  readonly message: string;
}

/** The VMbook's "Map view" of one group: VMs → datastores → volumes → relationships → replicas. */
export interface MapModel {
  readonly namespace: string;
  readonly name: string;
  readonly protectedSite: string;
  readonly recoverySite: string;
  readonly conditions: readonly { type: string; status: string; reason: string }[];
  readonly counts?: { members: number; shadowed: number; placeholders: number; problems: number };
  readonly vms: readonly MapVm[];
  readonly datastores: readonly MapDatastore[];
  readonly relationships: readonly MapRelationship[];
  /** Everything wrong, for the list under the diagram: the group's own findings first. */
  readonly problems: readonly MapProblem[];
}

const GOOD_STATES = new Set(["snapmirrored", "in_sync"]);

/**
 * Builds the map from what the controllers wrote: the group's spec and status (datastores, the
 * datastores each volume carries, alignment problems), its relationships' status (state, health,
 * lag) and its shadow records (each VM's datastores and shadow folder). Reads nothing else; pure.
 */
export function buildMap(pg: ProtectionGroup, relationships: readonly ReplicationRelationship[], records: readonly (ShadowRecord & { uuid: string })[]): MapModel {
  const st = pg.status ?? {};
  const problems: MapProblem[] = (st.problems ?? []).map((p) => ({ subject: p.subject, kind: p.kind, message: p.message }));
  const bySubject = (s: string): string[] => problems.filter((p) => p.subject === s).map((p) => `${p.kind}: ${p.message}`);

  const volumeOf = new Map<string, string>();
  for (const v of st.volumes ?? []) for (const d of v.datastores) volumeOf.set(d, v.relationship);

  const rels: MapRelationship[] = pg.spec.replicationRefs.map((name) => {
    const r = relationships.find((x) => x.metadata.name === name);
    const recorded = st.volumes?.find((v) => v.relationship === name);
    if (!r) {
      const p = { subject: name, kind: "RelationshipNotFound", message: `ReplicationRelationship ${name} does not exist` };
      problems.push(p);
      return { name, found: false, problems: [p.message] };
    }
    const own: string[] = [];
    const rs = r.status ?? {};
    let rpoSeconds: number | undefined;
    try {
      rpoSeconds = parseDuration(r.spec.rpo) / 1000;
    } catch {
      rpoSeconds = undefined;
    }
    if (rs.healthy === false) own.push(`unhealthy${rs.unhealthyReasons?.length ? `: ${rs.unhealthyReasons.join("; ")}` : ""}`);
    if (rs.state !== undefined && !GOOD_STATES.has(rs.state)) own.push(`state ${rs.state}`);
    if (rs.lagSeconds !== undefined && rpoSeconds !== undefined && rs.lagSeconds > rpoSeconds) own.push(`lag ${human(rs.lagSeconds)} is over the RPO ${r.spec.rpo}`);
    if (recorded && recorded.datastores.length === 0) own.push(`volume ${recorded.volume} carries no datastore at ${pg.spec.protectedSiteRef}`);
    for (const m of own) problems.push({ subject: name, kind: "Replication", message: m });
    return {
      name,
      found: true,
      sourceSite: r.spec.source.siteRef,
      sourceVolume: r.spec.source.volume,
      destinationSite: r.spec.destination.siteRef,
      destinationVolume: r.spec.destination.volume,
      state: rs.state,
      healthy: rs.healthy,
      lagSeconds: rs.lagSeconds,
      rpoSeconds,
      datastores: recorded?.datastores,
      problems: own,
    };
  });

  const vms: MapVm[] = records
    .filter((r) => !r.removedAt)
    .map((r) => {
      const own = bySubject(r.name);
      const outside = r.datastores.filter((d) => st.volumes && !volumeOf.has(d));
      if (outside.length && !own.some((m) => m.startsWith("VmOutsideGroupDatastores"))) {
        const message = `${r.name} has files on ${outside.join(", ")}, which no relationship of the group replicates`;
        problems.push({ subject: r.name, kind: "VmOutsideGroupDatastores", message });
        own.push(`VmOutsideGroupDatastores: ${message}`);
      }
      if (!r.shadowed) own.push(`no shadow folder yet at ${pg.spec.recoverySiteRef} (${r.shadowFolder})`);
      return { name: r.name, uuid: r.uuid, folder: r.protectedFolder, datastores: r.datastores, shadowFolder: r.shadowFolder, shadowed: r.shadowed, ...(r.placeholder ? { placeholder: r.placeholder } : {}), problems: own };
    })
    .sort((a, b) => a.name.localeCompare(b.name));

  const dsNames = new Set<string>([...(st.datastores ?? []), ...vms.flatMap((v) => v.datastores), ...volumeOf.keys()]);
  const datastores: MapDatastore[] = [...dsNames].sort().map((name) => {
    const own = bySubject(name);
    if (st.volumes && !volumeOf.has(name)) own.push("not replicated by this group");
    return { name, ...(volumeOf.has(name) ? { relationship: volumeOf.get(name) } : {}), problems: own };
  });

  return {
    namespace: pg.metadata.namespace ?? "",
    name: pg.metadata.name,
    protectedSite: pg.spec.protectedSiteRef,
    recoverySite: pg.spec.recoverySiteRef,
    conditions: ["Ready", "Aligned", "ShadowInSync", "ReplicationHealthy"].flatMap((t) => {
      const c = findCondition(st.conditions, t);
      return c ? [{ type: t, status: c.status, reason: c.reason }] : [];
    }),
    ...(st.counts ? { counts: st.counts } : {}),
    vms,
    datastores,
    relationships: rels,
    problems,
  };
}

/** 3725 → "1h2m5s". */
export function human(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${r || (!h && !m) ? `${r}s` : ""}`;
}
