/*
 * Pure name arithmetic: host names inside the forward zone, and which configured reverse zone
 * holds an address's PTR record (RFC 1035 §3.5 in-addr.arpa, RFC 2317 classless delegation).
 */

/** A reverse zone on the server: octet-aligned ("1.1.30.in-addr.arpa"), or classless with its network. */
export interface ReverseZone {
  /** The zone's name, e.g. "1.1.30.in-addr.arpa" (a /24) or "48/28.1.1.30.in-addr.arpa" (RFC 2317). */
  zone: string;
  /**
   * Only for an RFC 2317 zone (a network longer than /24): its network, e.g. "30.1.1.48/28"; the
   * PTR of 30.1.1.50 is then "50.<zone>". Octet-aligned zones derive their network from the name.
   */
  cidr?: string;
}

/** A reverse zone with its network, ready to match addresses. */
export interface ResolvedReverseZone {
  readonly zone: string;
  readonly base: number;
  readonly prefixLength: number;
  readonly classless: boolean;
}

/** Where an address's PTR record lives. */
export interface PtrLocation {
  readonly zone: string;
  readonly owner: string;
}

/** "App01.Site2.vmbook.lab." → "app01.site2.vmbook.lab". */
export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Whether every label is a plain host-name label (letters, digits, hyphen, underscore). */
export function isHostName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split(".").every((l) => LABEL.test(l));
}

/**
 * The fully qualified host name for `name` in `zone`: a name inside the zone (or ending with a
 * dot) as it is, a single label with the zone appended. Undefined for a dotted name outside the
 * zone, which we would otherwise have to guess about.
 */
export function qualify(name: string, zone: string): string | undefined {
  const z = normalizeName(zone);
  const absolute = name.trim().endsWith(".");
  const n = normalizeName(name);
  if (n === z || n.endsWith(`.${z}`)) return n;
  if (absolute) return undefined;
  if (!n.includes(".")) return `${n}.${z}`;
  return undefined;
}

function parseIpv4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255)) return undefined;
  return parts.map(Number);
}

function toInt(o: readonly number[]): number {
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

/** "30.1.1.50" → "50.1.1.30.in-addr.arpa". */
export function reverseName(ip: string): string {
  const o = parseIpv4(ip);
  if (!o) throw new RangeError(`${ip} is not an IPv4 address`);
  return `${[...o].reverse().join(".")}.in-addr.arpa`;
}

/** A reverse zone's network, or a sentence saying why it cannot be used. */
export function resolveReverseZone(rz: ReverseZone): ResolvedReverseZone | string {
  const zone = normalizeName(rz.zone);
  if (!zone.endsWith(".in-addr.arpa")) return `reverse zone ${rz.zone} is not under in-addr.arpa (IPv4 only)`;
  const labels = zone.slice(0, -".in-addr.arpa".length).split(".");
  if (rz.cidr === undefined) {
    const octets = labels.map((l) => (/^(0|[1-9][0-9]{0,2})$/.test(l) && Number(l) <= 255 ? Number(l) : NaN)).reverse();
    if (octets.length < 1 || octets.length > 3 || octets.some(Number.isNaN)) {
      return `reverse zone ${rz.zone} is not an octet-aligned in-addr.arpa zone such as 1.1.30.in-addr.arpa; for a classless (RFC 2317) zone give its cidr`;
    }
    const full = [...octets, 0, 0, 0].slice(0, 4);
    return { zone, base: toInt(full), prefixLength: octets.length * 8, classless: false };
  }
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(rz.cidr);
  const o = m ? parseIpv4(m[1]!) : undefined;
  const len = m ? Number(m[2]) : NaN;
  if (!o || !(len >= 25 && len <= 32)) return `reverse zone ${rz.zone}: cidr ${rz.cidr} must be an IPv4 network from /25 to /32 (shorter networks use octet-aligned zones)`;
  const base = toInt(o);
  const mask = (0xffffffff << (32 - len)) >>> 0;
  if ((base & mask) >>> 0 !== base) return `reverse zone ${rz.zone}: cidr ${rz.cidr} has host bits set`;
  const parent = `${o[2]}.${o[1]}.${o[0]}.in-addr.arpa`;
  if (!zone.endsWith(`.${parent}`)) return `reverse zone ${rz.zone} is not below ${parent}, the /24 of its cidr ${rz.cidr}`;
  return { zone, base, prefixLength: len, classless: true };
}

/**
 * The PTR owner and zone for `ip`: the most specific configured zone that contains it (as DNS
 * delegation would pick). Octet-aligned zones hold the full reverse name; an RFC 2317 zone holds
 * "<last octet>.<zone>". Undefined when no configured zone contains the address.
 */
export function locatePtr(ip: string, zones: readonly ResolvedReverseZone[]): PtrLocation | undefined {
  const o = parseIpv4(ip);
  if (!o) return undefined;
  const addr = toInt(o);
  let best: ResolvedReverseZone | undefined;
  for (const z of zones) {
    const mask = z.prefixLength === 0 ? 0 : (0xffffffff << (32 - z.prefixLength)) >>> 0;
    if ((addr & mask) >>> 0 === z.base && (!best || z.prefixLength > best.prefixLength)) best = z;
  }
  if (!best) return undefined;
  return { zone: best.zone, owner: best.classless ? `${o[3]}.${best.zone}` : reverseName(ip) };
}
