import type { VmRecord } from "../../../api/v1alpha1/index.js";
import { completed, started } from "../../../engine/types.js";
import type { BatchStep, ItemObservation } from "../../../engine/types.js";
import { PermanentError } from "../../../runtime/errors.js";
import { child } from "../../../vsphere/soap/xml.js";
import { moref } from "../../../vsphere/types.js";
import type { NicChange, NicInfo, NicTarget, VmDevices } from "../../../vsphere/vm-specs.js";
import type { RunContext } from "../context.js";
import { recoveryPortgroupOf, testPortgroupOf } from "../networks.js";

/** Devices read during this pass (batched by prepare, or by an act), per run context. */
const devicesOf = new WeakMap<RunContext, Map<string, VmDevices>>();
const switchUuids = new Map<string, string>();

const DISCONNECTED = "disconnected";

/** Registered → Configured, with the time for the report's timeline. */
function configured(ctx: RunContext, vm: VmRecord): void {
  if (vm.state !== "Registered") return;
  vm.state = "Configured";
  vm.configuredAt = new Date(ctx.now()).toISOString();
}
const MEDIA_IMAGES = /IsoBackingInfo|ImageBackingInfo/;

/** The portgroup a recovered NIC was on at the protected site (its backing still names it). */
function protectedPortgroup(ctx: RunContext, vm: VmRecord, nic: NicInfo): string | undefined {
  if (nic.networkName) return nic.networkName;
  return ctx.group(vm.group).status?.protectedNetworks?.find((n) => n.portgroupKey !== undefined && n.portgroupKey === nic.portgroupKey)?.name;
}

/** A run's network mode: a Test's default is Isolated, a failover's Mapped. */
export function networkModeOf(ctx: RunContext): "Isolated" | "Mapped" | "Disconnected" {
  return ctx.run.spec.networkMode ?? (ctx.run.spec.type === "Test" ? "Isolated" : "Mapped");
}

/** Where one NIC must go in this run: the test or mapped portgroup (by name), or nowhere (disconnected). */
function targetName(ctx: RunContext, vm: VmRecord, nic: NicInfo): string {
  const mode = networkModeOf(ctx);
  if (mode === "Disconnected") return DISCONNECTED;
  const g = ctx.group(vm.group);
  if (mode === "Mapped") {
    if (ctx.backToProtected) {
      // Back home: the protected portgroup whose mapping led to the one the NIC is on now.
      const home = (g.spec.networkMappings ?? []).find((m) => m.recoveryPortgroup === nic.networkName || recoveryKey(ctx, vm, m.recoveryPortgroup) === nic.portgroupKey);
      if (home) return home.protectedPortgroup;
      const original = protectedPortgroup(ctx, vm, nic);
      if (original) return original;
      throw new PermanentError(`${vm.name}'s ${nic.label} is on no recovery portgroup the group maps`, "InvalidSpec");
    }
    // Already moved (a pass before this one reconfigured it): the NIC is on a recovery portgroup.
    const moved = (g.spec.networkMappings ?? []).find((m) => m.recoveryPortgroup === nic.networkName || (nic.portgroupKey !== undefined && targetKey(ctx, vm, m.recoveryPortgroup) === nic.portgroupKey));
    if (moved) return moved.recoveryPortgroup;
    const from = protectedPortgroup(ctx, vm, nic);
    const to = from !== undefined ? recoveryPortgroupOf(g, from) : undefined;
    if (!to) throw new PermanentError(`${vm.name}'s ${nic.label} is on ${from ?? "an unknown portgroup"}, which the group maps to no recovery portgroup`, "InvalidSpec");
    return to;
  }
  // Already isolated (a pass before this one reconfigured it): the NIC is on one of the group's test portgroups.
  const tests = [...new Set([g.spec.testPortgroup, ...(g.spec.networkMappings ?? []).map((m) => m.testPortgroup)].filter((x): x is string => x !== undefined))];
  const isolated = tests.find((t) => t === nic.networkName || (nic.portgroupKey !== undefined && targetKey(ctx, vm, t) === nic.portgroupKey));
  if (isolated) return isolated;
  const name = testPortgroupOf(g, protectedPortgroup(ctx, vm, nic) ?? "*");
  if (!name) throw new PermanentError(`no test portgroup for ${vm.name}'s ${nic.label} (on ${protectedPortgroup(ctx, vm, nic) ?? `an unknown portgroup, key ${nic.portgroupKey ?? "none"}`}): set the mapping's testPortgroup or spec.testPortgroup`, "InvalidSpec");
  return name;
}

/** The distributed portgroup key of a portgroup at the site the run brings the VMs up at. */
function targetKey(ctx: RunContext, vm: VmRecord, name: string): string | undefined {
  return [...ctx.inventory(ctx.recoverySite(vm.group).metadata.name).networks.values()].find((n) => n.name === name)?.portgroupKey;
}

/** The distributed portgroup key of a recovery-site portgroup, if it is one. */
function recoveryKey(ctx: RunContext, vm: VmRecord, name: string): string | undefined {
  return [...ctx.inventory(ctx.sourceSiteName(vm.group)).networks.values()].find((n) => n.name === name)?.portgroupKey;
}

function onTarget(ctx: RunContext, vm: VmRecord, nic: NicInfo, target: string): boolean {
  if (target === DISCONNECTED) return !nic.startConnected && !nic.connected;
  const net = [...ctx.inventory(ctx.recoverySite(vm.group).metadata.name).networks.values()].find((n) => n.name === target);
  const here = net?.portgroupKey !== undefined ? nic.portgroupKey === net.portgroupKey : nic.networkName === target;
  return here && nic.startConnected;
}

function mediaClean(d: VmDevices): boolean {
  return d.media.every((m) => !m.startConnected && !m.connected && !MEDIA_IMAGES.test(child(d.raw.get(m.key), "backing")?.xsiType ?? ""));
}

/**
 * IsolateNetworks (VMbook ch. 8: a test must not reach production): before power-on, every NIC of
 * every recovered VM moves to its group's isolated test portgroup (or is disconnected, with
 * networkMode Disconnected), keeping its MAC address and device type; CD-ROM and floppy drives
 * are disconnected and their ISO and image backings removed. Observed from the VM's devices
 * (read in one round trip for the VMs a look may act on, or by the act itself; a VM whose
 * reconfigure task succeeded is done); a reconfigure is a vCenter task.
 */
export const isolateNetworks: BatchStep<RunContext, VmRecord> = {
  kind: "batch",
  name: "IsolateNetworks",
  idempotent: true,
  stream: true,
  failWhenItemsFail: false,
  items: (ctx) => ctx.vms.filter((v) => v.state !== "Failed" && v.state !== "Skipped" && !v.auxiliary),
  label: (v) => v.name,
  concurrency: (ctx) => ctx.run.spec.powerOn?.concurrency ?? 10,
  async prepare(ctx, items, signal, room) {
    // Only what this look may act on, and only once per pass: a VM whose reconfigure task just
    // succeeded needs no read, and one read earlier in a streaming pass is still what it was.
    const read = devicesOf.get(ctx) ?? new Map<string, VmDevices>();
    devicesOf.set(ctx, read);
    const want = items.filter((v) => v.registeredAs && !v.op?.handle && !read.has(v.registeredAs)).slice(0, Math.max(room, 0));
    for (const site of ctx.recoverySites()) {
      const refs = want.filter((v) => ctx.targetSiteName(v.group) === site.metadata.name).map((v) => moref("VirtualMachine", v.registeredAs ?? ""));
      if (refs.length) for (const [k, d] of await (await ctx.vcenter(site)).getVmsDevices(refs, signal)) read.set(k, d);
    }
  },
  observeItem(ctx, vm, op): ItemObservation {
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 500 };
    if (op?.state === "success" && vm.network !== undefined) {
      // vCenter applied the whole change (NICs and media) or none of it: its task's success is the world's answer.
      configured(ctx, vm);
      return { kind: "Done" };
    }
    const site = ctx.recoverySite(vm.group).metadata.name;
    if (!ctx.inventory(site).vm(vm.registeredAs ?? "")) return { kind: "Failed", message: `no longer registered at Site ${site}` };
    const d = devicesOf.get(ctx)?.get(vm.registeredAs ?? "");
    if (!d) return { kind: "NeedsAct" }; // not read by this look: the act reads them
    const targets = d.nics.map((n) => targetName(ctx, vm, n));
    if (d.nics.every((n, i) => onTarget(ctx, vm, n, targets[i]!)) && mediaClean(d)) {
      vm.network = [...new Set(targets)].join(",") || "none";
      configured(ctx, vm);
      return { kind: "Done" };
    }
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, vm) {
    const site = ctx.recoverySite(vm.group);
    const client = await ctx.vcenter(site);
    const ref = moref("VirtualMachine", vm.registeredAs ?? "");
    const cache = devicesOf.get(ctx) ?? new Map<string, VmDevices>();
    devicesOf.set(ctx, cache);
    const d = cache.get(ref.value) ?? (await client.getVmDevices(ref, ctx.signal));
    cache.set(ref.value, d);
    // Read just now and nothing to change: the next look finds the VM done.
    if (d.nics.every((n) => onTarget(ctx, vm, n, targetName(ctx, vm, n))) && mediaClean(d)) return completed;
    const inv = ctx.inventory(site.metadata.name);
    const changes: NicChange[] = [];
    vm.network = [...new Set(d.nics.map((n) => targetName(ctx, vm, n)))].join(",") || "none";
    for (const nic of d.nics) {
      const target = targetName(ctx, vm, nic);
      if (onTarget(ctx, vm, nic, target)) continue;
      if (target === DISCONNECTED) {
        changes.push({ key: nic.key, connected: false, startConnected: false });
        continue;
      }
      const net = [...inv.networks.values()].find((n) => n.name === target);
      if (!net) throw new PermanentError(`portgroup ${target} does not exist at Site ${site.metadata.name}`, "InvalidSpec");
      let t: NicTarget = { kind: "standard", name: target, network: net.ref };
      if (net.portgroupKey !== undefined && net.dvSwitch) {
        const key = `${site.metadata.name}/${net.dvSwitch.value}`;
        const uuid = switchUuids.get(key) ?? (await client.getDvsUuid(net.dvSwitch, ctx.signal));
        switchUuids.set(key, uuid);
        t = { kind: "distributed", portgroupKey: net.portgroupKey, switchUuid: uuid };
      }
      changes.push({ key: nic.key, target: t, startConnected: true });
    }
    vm.devicesChanged = changes.length + (mediaClean(d) ? 0 : d.media.length);
    const task = await client.reconfigureVm(ref, d, { nics: changes, disconnectMedia: true }, ctx.signal);
    return started({ system: "vsphere", endpoint: site.metadata.name, kind: "task", id: task.task.value, startedAt: new Date(ctx.now()).toISOString() });
  },
  failItem: (_ctx, vm, message) => {
    vm.state = "Failed";
    vm.message = `reconfigure: ${message}`.slice(0, 1024);
  },
};

/** ConfigureNetworks (failovers): the same reconfiguration onto the mapped recovery portgroups (or back home for a failback). */
export const configureNetworks: BatchStep<RunContext, VmRecord> = { ...isolateNetworks, name: "ConfigureNetworks" };
