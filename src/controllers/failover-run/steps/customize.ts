import type { VmRecord, VmReip } from "../../../api/v1alpha1/index.js";
import { completed, started } from "../../../engine/types.js";
import type { BatchStep, ItemObservation } from "../../../engine/types.js";
import { subnetMask } from "../../../reip/ipv4.js";
import { verifyVmNics } from "../../../reip/plan.js";
import { reipPlanOf } from "../reip.js";
import { isFault } from "../../../vsphere/errors.js";
import type { GuestCustomization, NicIpSettings } from "../../../vsphere/vm-specs.js";
import { observedNics } from "../../common/guest-nics.js";
import type { RunContext } from "../context.js";
import { vmAtRecovery } from "./power.js";
import { armGuestScript, byGuestScript, seenArmed } from "./guest-script.js";

const live = (ctx: RunContext): VmRecord[] => ctx.vms.filter((v) => v.reip !== undefined && !v.auxiliary && v.state !== "Failed" && v.state !== "Skipped");

/**
 * The CustomizationSpec of a VM's re-IP: one NIC setting per NIC of the VM, in device order
 * (vCenter refuses any other count): a reassigned NIC gets its new address, gateway and DNS
 * servers; a NIC kept with a static address keeps it; the others (DHCP, nothing reported) DHCP.
 * The host name stays the guest's.
 */
export function customizationOf(r: VmReip, nicCount: number): GuestCustomization {
  const nics: NicIpSettings[] = [];
  for (let i = 0; i < Math.max(nicCount, 0); i++) {
    const p = r.nics.find((n) => n.index === i);
    if (p?.action === "reassign") nics.push(fixed(p.to.ip, p.to.subnetMask, p.to.gateway, p.to.dns));
    else if (p?.action === "keep" && !p.from.dhcp && p.from.ip !== undefined && p.from.prefixLength !== undefined && p.reason !== "NotIpv4") {
      nics.push(fixed(p.from.ip, subnetMask(p.from.prefixLength), p.from.gateway, p.from.dns));
    } else nics.push({});
  }
  const [host, ...domain] = (r.hostName ?? "").split(".");
  const dns = r.nics.flatMap((n) => (n.action === "reassign" ? (n.to.dns ?? []) : []));
  return {
    os: r.os,
    ...(host ? { hostName: host } : {}),
    ...(domain.length ? { domain: domain.join(".") } : {}),
    ...(dns.length ? { dnsServers: [...new Set(dns)] } : {}),
    nics,
  };
}

function fixed(ip: string, mask: string, gateway: string | undefined, dns: readonly string[] | undefined): NicIpSettings {
  return { ip, subnetMask: mask, ...(gateway ? { gateways: [gateway] } : {}), ...(dns ? { dnsServers: dns } : {}) };
}

/**
 * CustomizeGuests: before a recovered VM first boots, a guest customization (CustomizeVM_Task)
 * with its re-IP, which the guest applies at that boot (VMware Tools and a supported guest OS
 * needed; see docs/reip.md). Only VMs whose plan changes a NIC. vCenter refuses a second
 * customization while one is pending, so a repeat after a crash changes nothing; observe takes a
 * pending customization, a succeeded task, or that refusal as done. A VM found running already
 * cannot be customized: it is done if its guest already has the planned addresses, else failed
 * (it is not powered off behind the operator's back). A group whose ipCustomization.method is
 * GuestScript has its guests' power-on script armed instead (armGuestScript); PowerOnVms disarms
 * it once the address shows.
 */
export const customizeGuests: BatchStep<RunContext, VmRecord> = {
  kind: "batch",
  name: "CustomizeGuests",
  idempotent: true,
  stream: true,
  failWhenItemsFail: false,
  skip: (ctx) => (live(ctx).length === 0 ? "no VM changes its addresses (no ipCustomization rule or override applies, or spec.reIp is false)" : undefined),
  items: live,
  label: (v) => v.name,
  concurrency: (ctx) => ctx.run.spec.powerOn?.concurrency ?? 10,
  observeItem(ctx, vm, op): ItemObservation {
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 500 };
    const info = vmAtRecovery(ctx, vm);
    if (!info) return { kind: "Failed", message: `no longer registered at Site ${ctx.recoverySite(vm.group).metadata.name}` };
    if (info.powerState !== undefined && info.powerState !== "poweredOff") {
      const v = verifyVmNics(reipPlanOf(vm), observedNics(info));
      return v.ok ? { kind: "Done" } : { kind: "Failed", message: `${vm.name} is ${info.powerState} before its guest customization (${v.message}); power it off and run again` };
    }
    if (op?.state === "success") return { kind: "Done" };
    if (byGuestScript(ctx, vm)) return seenArmed(ctx, vm, info.ref) ? { kind: "Done" } : { kind: "NeedsAct" }; // the act reads before it arms
    if (info.pendingCustomization) return { kind: "Done" };
    if (op?.state === "failure" && isFault(op.error, "CustomizationPending")) return { kind: "Done" };
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, vm) {
    const site = ctx.recoverySite(vm.group);
    const info = vmAtRecovery(ctx, vm);
    if (!info) return completed; // gone since the look: the next one fails it
    if (byGuestScript(ctx, vm)) return armGuestScript(ctx, vm, info.ref);
    const count = info.numEthernetCards ?? Math.max(-1, ...(vm.reip?.nics ?? []).map((n) => n.index)) + 1;
    const client = await ctx.vcenter(site);
    const t = await client.customizeVm(info.ref, customizationOf(vm.reip!, count), ctx.signal);
    return started({ system: "vsphere", endpoint: site.metadata.name, kind: "task", id: t.task.value, startedAt: new Date(ctx.now()).toISOString() });
  },
  failItem: (_ctx, vm, message, outcome) => {
    vm.state = outcome;
    vm.message = `re-IP: ${message}`.slice(0, 1024);
  },
};
