import { contains, formatIpv4, looksLikeIpv6, parseIpv4, subnetMask, translate } from "./ipv4.js";
import type { CompiledReip, DirectedRule } from "./rules.js";

/**
 * What the guest reports for one NIC (VMware Tools guest.net / guest.ipStack): its IPv4 address
 * and prefix, gateway and DNS servers, or that it is on DHCP.
 */
export interface ReportedNic {
  /** NIC position in the VM (0 = first), as overrides name it. */
  readonly index: number;
  readonly dhcp?: boolean;
  readonly ip?: string;
  readonly prefixLength?: number;
  readonly gateway?: string;
  readonly dns?: readonly string[];
}

/** The static IPv4 settings a NIC is given. */
export interface Ipv4Settings {
  readonly ip: string;
  readonly prefixLength: number;
  /** The prefix as a dotted mask (24 → 255.255.255.0), for guests that want one. */
  readonly subnetMask: string;
  /** Absent when neither the rule, the record nor the target Site's networks name one (see `notes`). */
  readonly gateway?: string;
  readonly dns?: readonly string[];
}

/** Why a NIC is left as it is. */
export type KeepReason = "Dhcp" | "NoMatchingRule" | "AlreadyAssigned" | "NotIpv4" | "NoAddress";

export type NicPlan =
  | {
      readonly index: number;
      readonly action: "reassign";
      /** override: the VM's override for this NIC; rule: the first matching rule; recorded: failback to what the failover found. */
      readonly source: "override" | "rule" | "recorded";
      /** The rule's label when source is rule. */
      readonly rule?: string;
      /** What the guest reported before (absent for an override of a NIC the guest did not report). */
      readonly from?: ReportedNic;
      readonly to: Ipv4Settings;
      /** Things a human may want to know, e.g. that no gateway is known for the new network. */
      readonly notes?: readonly string[];
    }
  | { readonly index: number; readonly action: "keep"; readonly reason: KeepReason; readonly message: string; readonly from: ReportedNic };

/** One VM's re-IP plan: one entry per NIC, in NIC order. JSON-serialisable, to persist in a run's status. */
export interface VmReipPlan {
  readonly vm: string;
  readonly direction: CompiledReip["direction"];
  readonly nics: readonly NicPlan[];
}

/**
 * The new settings for each of a VM's NICs, in this order of precedence:
 *  1. failover: the VM's override for that NIC (also for a DHCP NIC or one the guest did not report:
 *     the override is an explicit request);
 *  2. failback: what `recorded` (the VM's failover plan) found on that NIC before, when the NIC
 *     still has the address the failover gave it;
 *  3. the first rule whose `from` network contains the NIC's address: the host part is kept, the
 *     prefix length is the rule's; gateway and DNS from the rule, else from the target network
 *     that contains the new address;
 *  4. otherwise the NIC is kept: on DHCP, without an IPv4 address, already inside a rule's `to`
 *     network (a re-run, or a VM that never left), or matching no rule (reported, never guessed).
 * Pure.
 */
export function planVmNics(c: CompiledReip, vm: string, nics: readonly ReportedNic[], recorded?: VmReipPlan): VmReipPlan {
  const overrides = c.overrides.get(vm);
  const byIndex = new Map(nics.map((n) => [n.index, n]));
  const plans: NicPlan[] = [];
  for (const [index, o] of overrides ?? []) {
    const from = byIndex.get(index);
    const to = settings(o.ip, o.prefixLength, o.gateway, o.dns);
    plans.push(sameAddress(from, to) ? keep(from!, "AlreadyAssigned", `already has ${o.ip}/${o.prefixLength} (override)`) : { index, action: "reassign", source: "override", from, to });
  }
  for (const nic of nics) {
    if (overrides?.has(nic.index)) continue;
    plans.push(planNic(c, nic, recordedFor(recorded, nic)));
  }
  plans.sort((a, b) => a.index - b.index);
  return { vm, direction: c.direction, nics: plans };
}

function planNic(c: CompiledReip, nic: ReportedNic, recorded: ReportedNic | undefined): NicPlan {
  if (nic.dhcp) return keep(nic, "Dhcp", "on DHCP: left alone");
  if (nic.ip === undefined) return keep(nic, "NoAddress", "reports no IPv4 address");
  const addr = parseIpv4(nic.ip);
  if (addr === undefined) {
    return keep(nic, "NotIpv4", looksLikeIpv6(nic.ip) ? `${nic.ip} is IPv6; re-IP changes IPv4 addresses only` : `${nic.ip} is not an IPv4 address`);
  }
  if (recorded?.ip !== undefined && recorded.prefixLength !== undefined) {
    const to = settings(recorded.ip, recorded.prefixLength, recorded.gateway, recorded.dns);
    return { index: nic.index, action: "reassign", source: "recorded", from: nic, to };
  }
  const rule = c.rules.find((r) => contains(r.from, addr));
  if (!rule) {
    const home = c.rules.find((r) => contains(r.to, addr));
    if (home) return keep(nic, "AlreadyAssigned", `${nic.ip} is already in ${cidrOf(home.to)}, the target of ${home.label}`);
    return keep(nic, "NoMatchingRule", `${nic.ip} matches no rule: left unchanged`);
  }
  return ruleTarget(c, rule, nic, addr, recorded);
}

function ruleTarget(c: CompiledReip, rule: DirectedRule, nic: ReportedNic, addr: number, recorded: ReportedNic | undefined): NicPlan {
  const ip = translate(addr, rule.from, rule.to);
  const net = c.targetNetworks.find((n) => contains(n.net, ip));
  const gateway = rule.gateway ?? recorded?.gateway ?? net?.gateway;
  const dns = rule.dns ?? recorded?.dns ?? net?.dns;
  const notes: string[] = [];
  if (gateway === undefined) notes.push(`no gateway known for ${cidrOf(rule.to)}: give the rule a gateway or the Site a network for it`);
  if (dns === undefined) notes.push(`no DNS servers known for ${cidrOf(rule.to)}: the guest keeps its own`);
  const to = settings(formatIpv4(ip), rule.to.prefixLength, gateway, dns);
  return { index: nic.index, action: "reassign", source: "rule", rule: rule.label, from: nic, to, ...(notes.length ? { notes } : {}) };
}

/**
 * On failback, what the failover found on this NIC, if the failover moved it and the NIC still
 * has the address the failover gave it (otherwise someone changed it since, and the rules decide).
 */
function recordedFor(recorded: VmReipPlan | undefined, nic: ReportedNic): ReportedNic | undefined {
  const p = recorded?.direction === "failover" ? recorded.nics.find((n) => n.index === nic.index) : undefined;
  if (p?.action !== "reassign" || p.from === undefined || p.to.ip !== nic.ip) return undefined;
  return p.from;
}

function settings(ip: string, prefixLength: number, gateway?: string, dns?: readonly string[]): Ipv4Settings {
  return { ip, prefixLength, subnetMask: subnetMask(prefixLength), ...(gateway !== undefined ? { gateway } : {}), ...(dns !== undefined ? { dns: [...dns] } : {}) };
}

function sameAddress(from: ReportedNic | undefined, to: Ipv4Settings): boolean {
  return from?.ip === to.ip && (from.prefixLength === undefined || from.prefixLength === to.prefixLength);
}

function keep(from: ReportedNic, reason: KeepReason, message: string): NicPlan {
  return { index: from.index, action: "keep", reason, message: `NIC ${from.index}: ${message}`, from };
}

function cidrOf(net: { base: number; prefixLength: number }): string {
  return `${formatIpv4(net.base)}/${net.prefixLength}`;
}

/** What the guest reports after boot for one NIC: its addresses ("30.1.1.50" or "30.1.1.50/24"), maybe its gateway. */
export interface ObservedNic {
  readonly index: number;
  readonly addresses: readonly string[];
  readonly gateway?: string;
}

export interface NicVerification {
  readonly index: number;
  readonly ok: boolean;
  /** "30.1.1.50/24" */
  readonly expected: string;
  /** The guest's IPv4 addresses on that NIC, as reported. */
  readonly observed: readonly string[];
  readonly message: string;
}

export interface VmVerification {
  readonly vm: string;
  readonly ok: boolean;
  readonly nics: readonly NicVerification[];
  /** The mismatches, joined, for a per-VM failure; empty when ok. */
  readonly message: string;
}

/**
 * Compares what the guest reports after boot with each reassigned NIC's intent. A NIC is ok when
 * one of its IPv4 addresses is the intended address (with the intended prefix, if the guest
 * reports one) and, when both are known, its gateway is the intended one. A mismatch names the
 * observed address. Kept NICs are not checked. Pure.
 */
export function verifyVmNics(plan: VmReipPlan, observed: readonly ObservedNic[]): VmVerification {
  const results: NicVerification[] = [];
  for (const p of plan.nics) {
    if (p.action !== "reassign") continue;
    const expected = `${p.to.ip}/${p.to.prefixLength}`;
    const o = observed.find((n) => n.index === p.index);
    const v4 = (o?.addresses ?? []).filter((a) => parseIpv4(a.split("/")[0]!) !== undefined);
    const fail = (why: string): NicVerification => ({ index: p.index, ok: false, expected, observed: v4, message: `NIC ${p.index}: ${why}, expected ${expected}` });
    if (!o) results.push(fail("the guest reports no such NIC"));
    else if (v4.length === 0) results.push(fail("the guest reports no IPv4 address"));
    else if (!v4.some((a) => addressMatches(a, p.to))) results.push(fail(`the guest reports ${v4.join(", ")}`));
    else if (o.gateway !== undefined && p.to.gateway !== undefined && o.gateway !== p.to.gateway) {
      results.push({ ...fail(`the guest reports gateway ${o.gateway}`), message: `NIC ${p.index}: the guest reports gateway ${o.gateway}, expected ${p.to.gateway}` });
    } else results.push({ index: p.index, ok: true, expected, observed: v4, message: `NIC ${p.index}: has ${expected}` });
  }
  const bad = results.filter((r) => !r.ok);
  return { vm: plan.vm, ok: bad.length === 0, nics: results, message: bad.map((r) => r.message).join("; ") };
}

function addressMatches(reported: string, to: Ipv4Settings): boolean {
  const [ip, len] = reported.split("/");
  return ip === to.ip && (len === undefined || Number(len) === to.prefixLength);
}
