import { isIP } from "node:net";

/** An IPv4 or IPv6 prefix as a range of 128-bit integers (IPv4 mapped into its own space). */
export interface Range {
  readonly family: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
}

function toBigInt(ip: string): { family: 4 | 6; value: bigint } | undefined {
  const family = isIP(ip);
  if (family === 4) return { family: 4, value: ip.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  if (family !== 6) return undefined;
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const part = (s: string | undefined): string[] => (s ? s.split(":") : []);
  let groups = part(head);
  let rest = part(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const last = (tail === undefined ? groups : rest).at(-1);
  if (last?.includes(".")) {
    const v4 = toBigInt(last);
    if (!v4) return undefined;
    const hi = ((v4.value >> 16n) & 0xffffn).toString(16);
    const lo = (v4.value & 0xffffn).toString(16);
    if (tail === undefined) groups = [...groups.slice(0, -1), hi, lo];
    else rest = [...rest.slice(0, -1), hi, lo];
  }
  const fill = tail === undefined ? [] : new Array<string>(8 - groups.length - rest.length).fill("0");
  const all = [...groups, ...fill, ...rest];
  if (all.length !== 8) return undefined;
  return { family: 6, value: all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || "0", 16)), 0n) };
}

/** The range a CIDR covers (host bits ignored, as the API server's isCIDR accepts them), or undefined. */
export function cidrRange(cidr: string): Range | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  if (!m) return undefined;
  const ip = toBigInt(m[1] as string);
  if (!ip) return undefined;
  const width = ip.family === 4 ? 32 : 128;
  const bits = Number(m[2]);
  if (bits > width) return undefined;
  const host = (1n << BigInt(width - bits)) - 1n;
  const first = ip.value & ~host;
  return { family: ip.family, first, last: first | host };
}

export function overlaps(a: Range, b: Range): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

export function contains(r: Range, ip: string): boolean {
  const v = toBigInt(ip);
  return v !== undefined && v.family === r.family && v.value >= r.first && v.value <= r.last;
}
