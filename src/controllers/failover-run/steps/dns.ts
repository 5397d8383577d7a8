import type { ProtectionGroup, VmRecord } from "../../../api/v1alpha1/index.js";
import { planAddressChange } from "../../../dns/client.js";
import type { DnsClient, HostRecords } from "../../../dns/client.js";
import { DEFAULT_TTL_SECONDS } from "../../../dns/config.js";
import { completed } from "../../../engine/types.js";
import type { BatchStep, ItemObservation } from "../../../engine/types.js";
import { PermanentError } from "../../../runtime/errors.js";
import type { RunContext } from "../context.js";

/** How long one VM's records may take (a server that does not answer): then the VM's DNS fails, the VM runs on. */
export const DNS_ITEM_TIMEOUT_MS = 60_000;

/** The addresses a VM's re-IP gives it: those its A record should hold. */
export function reassignedAddresses(vm: VmRecord): string[] {
  return [...new Set((vm.reip?.nics ?? []).flatMap((n) => (n.action === "reassign" ? [n.to.ip] : [])))].sort();
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The host label of a VM's records: the first label of the host name its guest reported, or else
 * its VM name made a DNS label ("HR Database" → "hr-database"); undefined when neither is one.
 * The label is taken inside the group's forward zone.
 */
export function dnsHostLabel(vm: Pick<VmRecord, "name" | "reip">): string | undefined {
  const guest = (vm.reip?.hostName ?? "").split(".")[0]!.toLowerCase();
  const fromName = vm.name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  const label = guest || fromName;
  return LABEL.test(label) ? label : undefined;
}

const dnsOf = (ctx: RunContext, group: string): ProtectionGroup["spec"]["dns"] => ctx.group(group).spec.dns;

/** The VMs whose records follow: re-addressed, verified (Ready), in a group with spec.dns. */
const items = (ctx: RunContext): VmRecord[] => ctx.vms.filter((v) => v.state === "Ready" && !v.auxiliary && reassignedAddresses(v).length > 0 && dnsOf(ctx, v.group) !== undefined);

/** The group's DNS client, built once per look (its TSIG key read from its Secret then). */
function clientFor(ctx: RunContext, group: string): Promise<DnsClient> {
  const dns = ctx.world.dns;
  if (!dns) return Promise.reject(new PermanentError("this operator was started without DNS updates", "DnsUnavailable"));
  return ctx.memo(`dns:client:${group}`, () => dns(ctx.group(group), ctx.signal));
}

function describe(r: HostRecords): string {
  return `A ${r.a.values.join(",") || "(none)"}`;
}

/**
 * UpdateDns: after a VM's new addresses are verified, its forward (A) and reverse (PTR) records on
 * the group's DNS server follow them (docs/dns.md): the A record holds exactly the new addresses,
 * the PTR of each new address names the host, the PTR of an old one stops naming it. The records
 * found are kept on the VM's record (`dns.before`). A failback runs the same step toward the home
 * addresses, which puts the records back. Dynamic updates (RFC 2136) signed with the group's TSIG
 * key, each conditional on what was just read; a repeat after a crash reads the records, finds
 * them as wanted and sends nothing. A VM whose records cannot be changed keeps running: its
 * `dns.state` is Failed with the reason, and the run goes on.
 */
export const updateDns: BatchStep<RunContext, VmRecord> = {
  kind: "batch",
  name: "UpdateDns",
  idempotent: true,
  stream: true,
  failWhenItemsFail: false,
  skip: (ctx) => {
    if (![...ctx.groups.values()].some((g) => g.spec.dns)) return "no group has spec.dns";
    return items(ctx).length === 0 ? "no recovered VM of a group with spec.dns changed its addresses" : undefined;
  },
  items,
  label: (v) => v.name,
  concurrency: (ctx) => ctx.run.spec.powerOn?.concurrency ?? 10,
  itemTimeoutMs: () => DNS_ITEM_TIMEOUT_MS,
  observeItem(_ctx, vm): ItemObservation {
    // Written only once the server answered that it holds the records (ensureHost); the act is idempotent.
    if (vm.dns?.state === "Updated" || vm.dns?.state === "Unchanged") return { kind: "Done" };
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, vm) {
    const label = dnsHostLabel(vm);
    if (!label) throw new PermanentError(`neither its guest's host name nor its VM name "${vm.name}" is a DNS label`, "InvalidHostName");
    const settings = dnsOf(ctx, vm.group)!;
    const addresses = reassignedAddresses(vm);
    const client = await clientFor(ctx, vm.group);
    const before = await client.observeHost(label, addresses, ctx.signal);
    // What was just read is what the update is conditional on: no second read of the same records.
    const result = await client.ensureHost(planAddressChange(before, addresses, settings.ttl ?? DEFAULT_TTL_SECONDS), ctx.signal, before);
    vm.dns = {
      name: before.name,
      before,
      state: result.updates > 0 ? "Updated" : "Unchanged",
      message: (result.updates > 0
        ? `${before.name}: ${describe(before)} → A ${addresses.join(",")}; ${result.changed.length} record set(s) replaced in ${result.updates} update(s)`
        : `${before.name}: already A ${addresses.join(",")}`
      ).slice(0, 1024),
    };
    return completed;
  },
  failItem: (_ctx, vm, message) => {
    // The VM runs: only its records are reported as not following it.
    vm.dns = { ...(vm.dns ?? { name: dnsHostLabel(vm) ?? vm.name }), state: "Failed", message: `DNS: ${message}`.slice(0, 1024) };
  },
};
