/*
 * IPv4 addresses and networks as unsigned 32-bit integers. Parsing is strict (four decimal octets,
 * no leading zeros, which some parsers read as octal) so that what we re-address is exactly what
 * the user wrote.
 */

/** An IPv4 network: `base` has no host bits set. */
export interface Ipv4Net {
  readonly base: number;
  readonly prefixLength: number;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** The address as an unsigned integer, or undefined when `s` is not a dotted-quad IPv4 address. */
export function parseIpv4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Whether `s` looks like an IPv6 address or network (to say so, rather than "malformed"). */
export function looksLikeIpv6(s: string): boolean {
  return s.includes(":");
}

/** The netmask of a prefix length as an unsigned integer (0 for /0). */
export function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** Dotted-quad subnet mask of a prefix length (24 → 255.255.255.0), as Windows guests want it. */
export function subnetMask(prefixLength: number): string {
  return formatIpv4(maskOf(prefixLength));
}

export type CidrParse = { ok: true; net: Ipv4Net } | { ok: false; problem: string };

/**
 * Parses "a.b.c.d/len". Host bits must be zero ("20.1.1.5/24" is refused with the network it
 * probably means), so a rule always names a network, not an address in it.
 */
export function parseCidr(s: string): CidrParse {
  if (looksLikeIpv6(s)) return { ok: false, problem: `${s} is IPv6; re-IP rules map IPv4 networks only` };
  const m = /^([^/]+)\/([0-9]{1,2})$/.exec(s);
  const addr = m ? parseIpv4(m[1]!) : undefined;
  const len = m ? Number(m[2]) : NaN;
  if (addr === undefined || !(len >= 0 && len <= 32)) {
    return { ok: false, problem: `${s} is not an IPv4 CIDR such as 20.1.1.0/24` };
  }
  const base = (addr & maskOf(len)) >>> 0;
  if (base !== addr) {
    return { ok: false, problem: `${s} has host bits set; the network is ${formatIpv4(base)}/${len}` };
  }
  return { ok: true, net: { base, prefixLength: len } };
}

export function formatCidr(net: Ipv4Net): string {
  return `${formatIpv4(net.base)}/${net.prefixLength}`;
}

export function contains(net: Ipv4Net, addr: number): boolean {
  return ((addr & maskOf(net.prefixLength)) >>> 0) === net.base;
}

/** Two networks overlap exactly when one contains the other's base address. */
export function overlaps(a: Ipv4Net, b: Ipv4Net): boolean {
  return contains(a, b.base) || contains(b, a.base);
}

/** The address with `from`'s network bits replaced by `to`'s (equal prefix lengths): the host part is kept. */
export function translate(addr: number, from: Ipv4Net, to: Ipv4Net): number {
  const host = (addr & ~maskOf(from.prefixLength)) >>> 0;
  return (to.base | host) >>> 0;
}

/**
 * Whether `addr` can be a host of `net`: not its network or broadcast address, except on /31 and
 * /32 where every address is a host (RFC 3021).
 */
export function isHostOf(net: Ipv4Net, addr: number): boolean {
  if (!contains(net, addr)) return false;
  if (net.prefixLength >= 31) return true;
  const broadcast = (net.base | ~maskOf(net.prefixLength)) >>> 0;
  return addr !== net.base && addr !== broadcast;
}
