import type { IpRule, NicOverride } from "../api/v1alpha1/protection-group.js";
import type { SiteNetwork } from "../api/v1alpha1/site.js";
import { PermanentError } from "../runtime/errors.js";
import { formatCidr, isHostOf, looksLikeIpv6, maskOf, overlaps, parseCidr, parseIpv4 } from "./ipv4.js";
import type { Ipv4Net } from "./ipv4.js";

/** A ProtectionGroup's `spec.ipCustomization`. */
export interface IpCustomization {
  rules?: IpRule[];
  overrides?: { vm: string; nics: NicOverride[] }[];
}

/** failover: protected → recovery addresses (planned migration, disaster); failback: the inverse. */
export type ReipDirection = "failover" | "failback";

/** One thing wrong with the rules; `field` is the spec path ("ipCustomization.rules[1].toCidr"). */
export interface ReipProblem {
  readonly field: string;
  readonly message: string;
}

/** Condition reason of a PermanentError from compileIpCustomization. */
export const INVALID_IP_CUSTOMIZATION = "InvalidIpCustomization";

/** A rule oriented for one direction: NICs in `from` move to `to`, keeping their host part. */
export interface DirectedRule {
  /** "rules[0] (20.1.1.0/24 → 30.1.1.0/24)": names the rule as the user wrote it. */
  readonly label: string;
  readonly from: Ipv4Net;
  readonly to: Ipv4Net;
  /** Only on failover: the rule's gateway and DNS describe the recovery network. */
  readonly gateway?: string;
  readonly dns?: readonly string[];
}

/** A network of the site NICs move to, whose gateway and DNS fill in what a rule leaves out. */
export interface TargetNetwork {
  readonly net: Ipv4Net;
  readonly gateway?: string;
  readonly dns?: readonly string[];
}

/** Validated rules for one direction, ready for planVmNics. */
export interface CompiledReip {
  readonly direction: ReipDirection;
  /** In spec order: the first whose `from` contains a NIC's address applies. */
  readonly rules: readonly DirectedRule[];
  /** vm → NIC index → override (failover only: an override names a recovery address). */
  readonly overrides: ReadonlyMap<string, ReadonlyMap<number, NicOverride>>;
  readonly targetNetworks: readonly TargetNetwork[];
}

/**
 * Every problem in the rules and overrides, empty when they are usable. Rules: both CIDRs IPv4
 * networks with equal prefix lengths (keeping the host part needs it); no two fromCidrs overlap,
 * no two toCidrs overlap (two protected networks cannot land on one), and no toCidr overlaps a
 * fromCidr (a re-run could not tell a re-addressed NIC from one still to move, and failback would
 * be ambiguous); a gateway is a host of its toCidr. Overrides: one entry per VM and per NIC index,
 * IPv4 addresses with a gateway inside the NIC's subnet.
 */
export function validateIpCustomization(spec: IpCustomization | undefined): ReipProblem[] {
  const problems: ReipProblem[] = [];
  const parsed = parseRules(spec?.rules ?? [], problems);
  checkOverlaps(parsed, problems);
  checkOverrides(spec?.overrides ?? [], problems);
  return problems;
}

/**
 * The rules for `direction`, or a PermanentError (InvalidIpCustomization) listing every problem,
 * each with its field. `targetNetworks` are the networks of the site the NICs move to (the
 * recovery Site's on failover, the protected Site's on failback): where a rule has no gateway or
 * DNS (always, on failback), the network that contains the new address supplies them. Pure.
 */
export function compileIpCustomization(
  spec: IpCustomization | undefined,
  direction: ReipDirection,
  targetNetworks: readonly SiteNetwork[] = [],
): CompiledReip {
  const problems = validateIpCustomization(spec);
  if (problems.length > 0) {
    const list = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
    throw new PermanentError(`invalid IP customization: ${list}`, INVALID_IP_CUSTOMIZATION);
  }
  const rules = parseRules(spec?.rules ?? [], []).map((r): DirectedRule => {
    const arrow = `rules[${r.index}] (${r.rule.fromCidr} → ${r.rule.toCidr})`;
    if (direction === "failover") return { label: arrow, from: r.from, to: r.to, gateway: r.rule.gateway, dns: r.rule.dns };
    return { label: `${arrow} reversed`, from: r.to, to: r.from };
  });
  const overrides = new Map<string, Map<number, NicOverride>>();
  if (direction === "failover") {
    for (const o of spec?.overrides ?? []) overrides.set(o.vm, new Map(o.nics.map((n) => [n.index, n])));
  }
  const nets = targetNetworks.flatMap((n): TargetNetwork[] => {
    const p = parseCidr(n.cidr);
    return p.ok ? [{ net: p.net, gateway: n.gateway, dns: n.dns }] : [];
  });
  return { direction, rules, overrides, targetNetworks: nets };
}

interface ParsedRule {
  readonly index: number;
  readonly rule: IpRule;
  readonly from: Ipv4Net;
  readonly to: Ipv4Net;
}

function parseRules(rules: readonly IpRule[], problems: ReipProblem[]): ParsedRule[] {
  const out: ParsedRule[] = [];
  rules.forEach((rule, index) => {
    const field = `ipCustomization.rules[${index}]`;
    const from = parseCidr(rule.fromCidr);
    const to = parseCidr(rule.toCidr);
    if (!from.ok) problems.push({ field: `${field}.fromCidr`, message: from.problem });
    if (!to.ok) problems.push({ field: `${field}.toCidr`, message: to.problem });
    if (!from.ok || !to.ok) return;
    if (from.net.prefixLength !== to.net.prefixLength) {
      problems.push({
        field,
        message:
          `fromCidr ${rule.fromCidr} and toCidr ${rule.toCidr} have different prefix lengths; ` +
          `a rule keeps each address's host part, so both must have the same length`,
      });
      return;
    }
    checkGateway(rule.gateway, to.net, `${field}.gateway`, `toCidr ${rule.toCidr}`, problems);
    checkDns(rule.dns, `${field}.dns`, problems);
    out.push({ index, rule, from: from.net, to: to.net });
  });
  return out;
}

function checkOverlaps(rules: readonly ParsedRule[], problems: ReipProblem[]): void {
  const name = (r: ParsedRule): string => `rules[${r.index}] (${r.rule.fromCidr} → ${r.rule.toCidr})`;
  for (let i = 0; i < rules.length; i++) {
    const a = rules[i]!;
    for (let j = i + 1; j < rules.length; j++) {
      const b = rules[j]!;
      if (overlaps(a.from, b.from)) {
        problems.push({ field: "ipCustomization.rules", message: `${name(a)} and ${name(b)}: their fromCidrs overlap, so one protected address would match both` });
      }
      if (overlaps(a.to, b.to)) {
        problems.push({ field: "ipCustomization.rules", message: `${name(a)} and ${name(b)}: their toCidrs overlap, so two protected networks would land on one` });
      }
    }
    for (const b of rules) {
      if (overlaps(a.to, b.from)) {
        const which = a === b ? `${name(a)}: its toCidr overlaps its own fromCidr` : `${name(a)} and ${name(b)}: the toCidr of the first overlaps the fromCidr of the second`;
        problems.push({ field: "ipCustomization.rules", message: `${which}; a recovery network cannot also be a protected network of the group` });
      }
    }
  }
}

function checkOverrides(overrides: NonNullable<IpCustomization["overrides"]>, problems: ReipProblem[]): void {
  const seenVms = new Set<string>();
  overrides.forEach((o, i) => {
    const field = `ipCustomization.overrides[${i}]`;
    if (seenVms.has(o.vm)) problems.push({ field: `${field}.vm`, message: `VM ${o.vm} has more than one override entry; put all its NICs in one` });
    seenVms.add(o.vm);
    const seenNics = new Set<number>();
    o.nics.forEach((nic, j) => {
      const f = `${field}.nics[${j}]`;
      if (seenNics.has(nic.index)) problems.push({ field: `${f}.index`, message: `NIC ${nic.index} of VM ${o.vm} is listed twice` });
      seenNics.add(nic.index);
      const ip = parseIpv4(nic.ip);
      if (ip === undefined) {
        const why = looksLikeIpv6(nic.ip) ? "is IPv6; re-IP sets IPv4 addresses only" : "is not an IPv4 address";
        problems.push({ field: `${f}.ip`, message: `${nic.ip} ${why}` });
        return;
      }
      if (!(Number.isInteger(nic.prefixLength) && nic.prefixLength >= 1 && nic.prefixLength <= 32)) {
        problems.push({ field: `${f}.prefixLength`, message: `${nic.prefixLength} is not an IPv4 prefix length (1-32)` });
        return;
      }
      const subnet: Ipv4Net = { base: (ip & maskOf(nic.prefixLength)) >>> 0, prefixLength: nic.prefixLength };
      if (!isHostOf(subnet, ip)) problems.push({ field: `${f}.ip`, message: `${nic.ip} is the network or broadcast address of ${formatCidr(subnet)}` });
      checkGateway(nic.gateway, subnet, `${f}.gateway`, `the NIC's subnet ${formatCidr(subnet)}`, problems);
      checkDns(nic.dns, `${f}.dns`, problems);
    });
  });
}

function checkGateway(gateway: string | undefined, net: Ipv4Net, field: string, where: string, problems: ReipProblem[]): void {
  if (gateway === undefined) return;
  const gw = parseIpv4(gateway);
  if (gw === undefined) problems.push({ field, message: `${gateway} is not an IPv4 address` });
  else if (!isHostOf(net, gw)) problems.push({ field, message: `gateway ${gateway} is not a host address inside ${where}` });
}

function checkDns(dns: readonly string[] | undefined, field: string, problems: ReipProblem[]): void {
  (dns ?? []).forEach((d, k) => {
    if (parseIpv4(d) === undefined) problems.push({ field: `${field}[${k}]`, message: `${d} is not an IPv4 address` });
  });
}
