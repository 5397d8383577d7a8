import type { OntapCapabilities, OntapVersion, VolumePath } from "./client.js";

/** A version floor as "9.9.1" (generation.major.minor). */
export type VersionFloor = `${number}.${number}.${number}`;

/** Whether `v` is `min` or later. */
export function atLeast(v: Pick<OntapVersion, "generation" | "major" | "minor">, min: VersionFloor): boolean {
  const [g, M, m] = min.split(".").map(Number) as [number, number, number];
  if (v.generation !== g) return v.generation > g;
  if (v.major !== M) return v.major > M;
  return v.minor >= m;
}

/** Fields and behaviours later than the 9.8 baseline (docs/ontap-api.md §0). */
export const SINCE = {
  reverseInPlace: "9.9.1",
  transferEndTime: "9.9.1",
  // The 9.12.1 bindings are the first that show it for sure (9.11.1 is UNCONFIRMED).
  lastTransferType: "9.12.1",
  transferSchedule: "9.11.1",
} as const satisfies Record<keyof OntapCapabilities, VersionFloor>;

export function capabilitiesOf(v: OntapVersion): OntapCapabilities {
  return {
    reverseInPlace: atLeast(v, SINCE.reverseInPlace),
    transferEndTime: atLeast(v, SINCE.transferEndTime),
    lastTransferType: atLeast(v, SINCE.lastTransferType),
    transferSchedule: atLeast(v, SINCE.transferSchedule),
  };
}

/** Fields only some versions know; asking an older cluster for them is an error (262179-style). */
export interface GatedFields {
  readonly since: VersionFloor;
  readonly fields: readonly string[];
}

/** The `fields=` value: the 9.8 fields plus those the cluster's version has. */
export function fieldsFor(base: readonly string[], gated: readonly GatedFields[], v: OntapVersion): string {
  const out = [...base];
  for (const g of gated) if (atLeast(v, g.since)) out.push(...g.fields);
  return out.join(",");
}

export const RELATIONSHIP_FIELDS: readonly string[] = [
  "uuid", "source.path", "destination.path", "policy.name", "policy.type", "state", "healthy",
  "unhealthy_reason", "lag_time", "exported_snapshot", "transfer.uuid", "transfer.state", "transfer.bytes_transferred",
];
export const RELATIONSHIP_GATED: readonly GatedFields[] = [
  { since: SINCE.transferEndTime, fields: ["transfer.end_time", "transfer.total_duration"] },
  { since: SINCE.lastTransferType, fields: ["last_transfer_type"] },
  { since: SINCE.transferSchedule, fields: ["transfer_schedule.name"] },
];

/** "svm:volume" → {svm, volume}; the volume is empty for SVM-DR paths ("svm:"). */
export function parsePath(path: string): VolumePath {
  const i = path.indexOf(":");
  return i < 0 ? { svm: path, volume: "" } : { svm: path.slice(0, i), volume: path.slice(i + 1) };
}

const DURATION = /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const UNIT_SECONDS = [365 * 86_400, 30 * 86_400, 7 * 86_400, 86_400, 3_600, 60, 1];

/**
 * Seconds in an ISO-8601 duration as ONTAP writes them ("PT8H35M42S", "P2DT", "P1DT2H");
 * years and months count as 365 and 30 days. undefined for anything else.
 */
export function parseIsoDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || !/\d/.test(text)) return undefined;
  let total = 0;
  for (let i = 0; i < UNIT_SECONDS.length; i++) {
    const v = m[i + 1];
    if (v !== undefined) total += Number(v) * (UNIT_SECONDS[i] ?? 0);
  }
  return Math.round(total);
}
