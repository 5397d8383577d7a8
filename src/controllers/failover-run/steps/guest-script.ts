import type { VmRecord, VmReip } from "../../../api/v1alpha1/index.js";
import { completed, started } from "../../../engine/types.js";
import type { ActResult, BatchStep, ItemObservation } from "../../../engine/types.js";
import type { VmToolsScript } from "../../../vsphere/client.js";
import type { VmInfo } from "../../../vsphere/types.js";
import type { RunContext } from "../context.js";
import { vmAtRecovery } from "./power.js";

// The VMbook's appendix B re-IP method (docs/reip.md): the guest re-addresses itself with a
// VMware Tools power-on script at a first boot with its NICs disconnected.

/** The guest variable the VMbook's appendix B re-IP script reads at a boot (docs/reip.md). */
export const REIP_SCRIPT_KEY = "guestinfo.vmdr.reip";

/** The group re-addresses its guests by their own power-on script, not by a customization. */
export const byGuestScript = (ctx: RunContext, vm: VmRecord): boolean => ctx.group(vm.group).spec.ipCustomization?.method === "GuestScript";

/** What the guest script is given: the NICs that move, by device position, with their new settings. */
export function guestScriptOf(r: VmReip): string {
  const nics = r.nics.flatMap((n) => (n.action === "reassign" ? [{ index: n.index, ip: n.to.ip, mask: n.to.subnetMask, gateway: n.to.gateway ?? "", dns: n.to.dns ?? [] }] : []));
  return JSON.stringify({ nics });
}

/**
 * What an act last read of a VM's script settings, by recovery-site VM, for the looks of the same
 * pass (a look calls nothing): an act that finds the VM already so returns without a change, and
 * the next look takes this read as the answer.
 */
const scriptReads = new WeakMap<RunContext, Map<string, VmToolsScript>>();
const readOf = (ctx: RunContext, ref: VmInfo["ref"]): VmToolsScript | undefined => scriptReads.get(ctx)?.get(ref.value);

async function readScript(ctx: RunContext, vm: VmRecord, ref: VmInfo["ref"]): Promise<VmToolsScript> {
  const client = await ctx.vcenter(ctx.recoverySite(vm.group));
  const now = await client.getVmToolsScript(ref, REIP_SCRIPT_KEY, ctx.signal);
  const reads = scriptReads.get(ctx) ?? new Map<string, VmToolsScript>();
  scriptReads.set(ctx, reads.set(ref.value, now));
  return now;
}

/** Armed with these addresses: scripts on, the variable holds them, no NIC connected now or at boot. */
const armed = (s: VmToolsScript, value: string): boolean => s.afterPowerOn && s.value === value && s.devices.nics.every((n) => !n.connected && !n.startConnected);
/** Disarmed: scripts off, no variable, and (when asked) every NIC connected now and at boot. */
const disarmed = (s: VmToolsScript, connect: boolean): boolean => !s.afterPowerOn && s.value === undefined && (!connect || s.devices.nics.every((n) => n.connected && n.startConnected));

/** An act's read this pass shows the VM armed for its planned addresses. */
export const seenArmed = (ctx: RunContext, vm: VmRecord, ref: VmInfo["ref"]): boolean => {
  const r = readOf(ctx, ref);
  return r !== undefined && armed(r, guestScriptOf(vm.reip!));
};
/** An act's read this pass shows the VM disarmed (connected, when asked). */
export const seenDisarmed = (ctx: RunContext, ref: VmInfo["ref"], connect: boolean): boolean => {
  const r = readOf(ctx, ref);
  return r !== undefined && disarmed(r, connect);
};

/**
 * Arms the guest script before the first boot: every NIC disconnected (the guest must not show
 * up on the network with its old address), VMware Tools' power-on scripts on, the addresses in
 * the guest variable. One ReconfigVM, and none when the VM reads so already (a repeat after a
 * crash between the act and its checkpoint changes nothing).
 */
export async function armGuestScript(ctx: RunContext, vm: VmRecord, ref: VmInfo["ref"]): Promise<ActResult> {
  const site = ctx.recoverySite(vm.group);
  const value = guestScriptOf(vm.reip!);
  const now = await readScript(ctx, vm, ref);
  if (armed(now, value)) return completed;
  const client = await ctx.vcenter(site);
  const t = await client.reconfigureVm(
    ref,
    now.devices,
    { nics: now.devices.nics.map((n) => ({ key: n.key, connected: false, startConnected: false })), toolsAfterPowerOn: true, extraConfig: [{ key: REIP_SCRIPT_KEY, value }] },
    ctx.signal,
  );
  scriptReads.get(ctx)?.delete(ref.value);
  ctx.log.info({ vm: vm.name }, "Armed the guest's re-IP script for its first boot, NICs disconnected");
  return started({ system: "vsphere", endpoint: site.metadata.name, kind: "task", id: t.task.value, startedAt: new Date(ctx.now()).toISOString() });
}

/**
 * Disarms it once the guest shows its new addresses: NICs connected (now and at every boot), the
 * power-on scripts off and the variable removed, so the guest never re-addresses itself again
 * (the .vmx replicates: left on, it would apply these addresses at the other site too). Nothing
 * is called when the VM reads so already. Without `connect` (a VM that did not come up as
 * planned) its NICs stay as they are, and a VM that holds no variable is left alone: its script
 * has nothing to apply.
 */
export async function disarmGuestScript(ctx: RunContext, vm: VmRecord, ref: VmInfo["ref"], connect: boolean): Promise<ActResult> {
  const site = ctx.recoverySite(vm.group);
  const now = await readScript(ctx, vm, ref);
  if (disarmed(now, connect) || (!connect && now.value === undefined)) return completed;
  const client = await ctx.vcenter(site);
  const t = await client.reconfigureVm(
    ref,
    now.devices,
    { ...(connect ? { nics: now.devices.nics.map((n) => ({ key: n.key, connected: true, startConnected: true })) } : {}), toolsAfterPowerOn: false, extraConfig: [{ key: REIP_SCRIPT_KEY, value: "" }] },
    ctx.signal,
  );
  scriptReads.get(ctx)?.delete(ref.value);
  ctx.log.info({ vm: vm.name, connect }, "Turned the guest's re-IP script off");
  return started({ system: "vsphere", endpoint: site.metadata.name, kind: "task", id: t.task.value, startedAt: new Date(ctx.now()).toISOString() });
}

/**
 * DisarmGuestScripts (after PowerOnVms): no VM a run re-addressed by its script is left with the
 * power-on scripts on or the variable set, whatever became of it: PowerOnVms disarms a VM once its
 * address shows; this catches the ones that failed or were skipped (their NICs stay disconnected:
 * their address is not the planned one) and a run resumed after a crash. Done when the inventory
 * shows the scripts off, an act's read finds no variable, or the disarm's task succeeded.
 */
export const disarmGuestScripts: BatchStep<RunContext, VmRecord> = {
  kind: "batch",
  name: "DisarmGuestScripts",
  idempotent: true,
  stream: true,
  failWhenItemsFail: true,
  skip: (ctx) => (ctx.vms.some((v) => v.reip !== undefined && !v.auxiliary && byGuestScript(ctx, v)) ? undefined : "no VM is re-addressed by its guest script"),
  items: (ctx) => ctx.vms.filter((v) => v.reip !== undefined && !v.auxiliary && byGuestScript(ctx, v)),
  label: (v) => v.name,
  concurrency: (ctx) => ctx.run.spec.powerOn?.concurrency ?? 10,
  observeItem(ctx, vm, op): ItemObservation {
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 500 };
    if (op?.state === "success") return { kind: "Done" };
    const info = vmAtRecovery(ctx, vm);
    if (!info || info.toolsAfterPowerOn === false) return { kind: "Done" };
    const r = readOf(ctx, info.ref);
    return r && (disarmed(r, false) || r.value === undefined) ? { kind: "Done" } : { kind: "NeedsAct" };
  },
  async actItem(ctx, vm) {
    const info = vmAtRecovery(ctx, vm);
    if (!info) return completed;
    return disarmGuestScript(ctx, vm, info.ref, false);
  },
  failItem() {
    /* the step fails: a VM must not keep re-addressing itself at every boot */
  },
};
