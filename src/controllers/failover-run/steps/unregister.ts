import type { VmRecord } from "../../../api/v1alpha1/index.js";
import { completed } from "../../../engine/types.js";
import type { BatchStep, ItemObservation } from "../../../engine/types.js";
import type { RunContext } from "../context.js";
import { noteRemoved } from "./report.js";
import { vmAtRecovery } from "./power.js";

/**
 * UnregisterVms (cleanup): the VMs the test registered go from the recovery site's inventory;
 * reused placeholders stay registered (they become inaccessible again once their datastore is
 * unmounted, and vCenter reloads them from the replica's .vmx at a real failover).
 */
export const unregisterVms: BatchStep<RunContext, VmRecord> = {
  kind: "batch",
  name: "UnregisterVms",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.vms.filter((v) => v.registeredAs !== undefined && v.placeholder !== true),
  label: (v) => v.name,
  concurrency: (ctx) => ctx.run.spec.powerOn?.concurrency ?? 10,
  observeItem(ctx, vm): ItemObservation {
    const info = ctx.inventory(ctx.recoverySite(vm.group).metadata.name).vm(vm.registeredAs ?? "");
    if (!info) {
      if ((vm.op?.attempts ?? 0) > 0) noteRemoved(ctx, { kind: "VirtualMachine", name: `${vm.folder}/${vm.name} (${vm.registeredAs ?? ""})`, site: ctx.recoverySite(vm.group).metadata.name, action: "Unregistered" });
      return { kind: "Done" };
    }
    if (info.powerState === "poweredOn") return { kind: "Failed", message: `${vm.name} is powered on again; refusing to unregister a running VM` };
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, vm) {
    const info = vmAtRecovery(ctx, vm);
    if (info && info.ref.value === vm.registeredAs) await (await ctx.vcenter(ctx.recoverySite(vm.group))).unregisterVm(info.ref, ctx.signal);
    return completed;
  },
  failItem() {
    /* the step fails with the message */
  },
};
