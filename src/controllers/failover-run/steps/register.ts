import type { VmRecord } from "../../../api/v1alpha1/index.js";
import { completed, started } from "../../../engine/types.js";
import type { BatchStep, ItemObservation } from "../../../engine/types.js";
import { PermanentError, WaitError } from "../../../runtime/errors.js";
import { isFault } from "../../../vsphere/errors.js";
import { readRef } from "../../../vsphere/property-collector.js";
import type { XNode } from "../../../vsphere/soap/xml.js";
import type { VmInfo } from "../../../vsphere/types.js";
import type { RunContext } from "../context.js";
import { recoveryHosts, targetCompute } from "../hosts.js";
import { datastoreOfVmx } from "./find-vms.js";

const live = (ctx: RunContext): VmRecord[] => ctx.vms.filter((v) => v.state !== "Failed" && v.state !== "Skipped" && !v.auxiliary);

/** A registration at the recovery site of the same .vmx under another identity (a leftover from an earlier test). */
function staleEntry(ctx: RunContext, vm: VmRecord): VmInfo | undefined {
  const inv = ctx.inventory(ctx.recoverySite(vm.group).metadata.name);
  return inv.vmsAt(vm.vmx).find((x) => x.instanceUuid !== vm.instanceUuid);
}

/**
 * RegisterVms: each VM of the plan into its folder and resource pool at the recovery site, always
 * by full inventory path (folder names repeat: "Finance/Tier1-VMs" and "Procurement/Tier1-VMs"),
 * never by a name match. A placeholder found by FindVms is reused: it is done once vCenter has
 * reloaded it from its datastore. A stale registration of the same .vmx is unregistered first.
 * vCenter refuses a second registration of one .vmx, so a registration whose handle was lost in a
 * crash is never made twice; observe finds it by instance UUID.
 */
export const registerVms: BatchStep<RunContext, VmRecord> = {
  kind: "batch",
  name: "RegisterVms",
  idempotent: true,
  stream: true,
  failWhenItemsFail: false,
  items: live,
  label: (v) => v.name,
  concurrency: (ctx) => ctx.run.spec.powerOn?.concurrency ?? 10,
  observeItem(ctx, vm, op): ItemObservation {
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 500 };
    const inv = ctx.inventory(ctx.recoverySite(vm.group).metadata.name);
    const made = op?.state === "success" ? readRef(op.result as XNode | undefined) : undefined;
    const there = (made && made.type === "VirtualMachine" ? inv.vm(made.value) : undefined) ?? inv.vmByInstanceUuid(vm.instanceUuid);
    if (there && (there.vmPathName === vm.vmx || vm.placeholder)) {
      vm.registeredAs = there.ref.value;
      if (there.connectionState !== undefined && there.connectionState !== "connected") {
        return { kind: "InProgress", pollAfterMs: 1_000, message: `${vm.name} is ${there.connectionState}` };
      }
      if (vm.state === "Pending") {
        vm.state = "Registered";
        vm.registeredAt = new Date(ctx.now()).toISOString();
      }
      return { kind: "Done" };
    }
    if (made) return { kind: "InProgress", pollAfterMs: 500, message: "waiting for the inventory to show the new VM" };
    if (op?.state === "failure" && isFault(op.error, "AlreadyExists")) return { kind: "InProgress", pollAfterMs: 1_000, message: "registered by an earlier attempt; waiting for the inventory" };
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, vm) {
    const site = ctx.recoverySite(vm.group);
    const client = await ctx.vcenter(site);
    const stale = staleEntry(ctx, vm);
    if (stale) {
      if (stale.powerState === "poweredOn") throw new PermanentError(`${stale.name} (${stale.ref.value}) runs from ${vm.vmx} at Site ${site.metadata.name}: refused`, "VmRunning");
      await client.unregisterVm(stale.ref, ctx.signal);
      ctx.log.info({ vm: stale.name, ref: stale.ref.value }, "Unregistered a stale registration of the same .vmx");
      return completed;
    }
    const inv = ctx.inventory(site.metadata.name);
    const folder = inv.folderByPath(vm.folder);
    if (!folder) throw new WaitError(`folder ${vm.folder} does not exist at Site ${site.metadata.name} yet`, "WaitingForFolder", 5_000);
    const compute = targetCompute(ctx, vm.group);
    const pool = [...inv.pools.values()].find((p) => p.owner?.value === compute?.ref.value && inv.poolPath(p.ref) === vm.resourcePool);
    if (!pool) throw new WaitError(`resource pool ${vm.resourcePool} does not exist in the recovery cluster yet`, "WaitingForPool", 5_000);
    const ds = inv.datastoreByName(datastoreOfVmx(vm.vmx) ?? "");
    const host = recoveryHosts(ctx, vm.group).find((h) => ds?.hosts.some((m) => m.host.value === h.ref.value && m.accessible && m.mounted));
    const t = await client.registerVm({ folder: folder.ref, vmxPath: vm.vmx, name: vm.name, pool: pool.ref, ...(host ? { host: host.ref } : {}) }, ctx.signal);
    return started({ system: "vsphere", endpoint: site.metadata.name, kind: "task", id: t.task.value, startedAt: new Date(ctx.now()).toISOString() });
  },
  failItem: (_ctx, vm, message) => {
    vm.state = "Failed";
    vm.message = `register: ${message}`.slice(0, 1024);
  },
};
