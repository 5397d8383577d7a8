import type { VmRecord, VolumeRecord } from "../../../api/v1alpha1/index.js";
import { started } from "../../../engine/types.js";
import type { BatchStep, ItemObservation } from "../../../engine/types.js";
import { WaitError } from "../../../runtime/errors.js";
import { searchResultPaths } from "../../../vsphere/tasks.js";
import type { XNode } from "../../../vsphere/soap/xml.js";
import type { RunContext } from "../context.js";
import { volumeLabel } from "../names.js";

export const datastoreOfVmx = (vmx: string): string | undefined => /^\[([^\]]+)\]/.exec(vmx)?.[1];

/** Marks a VM failed (or skipped) with a message; it leaves the steps that follow. */
export function settleVm(vm: VmRecord, state: "Failed" | "Skipped", message: string): void {
  vm.state = state;
  vm.message = message.slice(0, 1024);
}

/**
 * FindVms (VMbook: search the datastores for *.vmx, compare with the inventory): one
 * SearchDatastoreSubFolders task per mounted copy, then per VM of the plan:
 *  - its .vmx is not in the copy → Failed (created after the snapshot the run recovers from);
 *  - a VM with its instance UUID is running at the recovery site → Failed: a VM never runs twice;
 *  - a VM with its instance UUID is registered there (the group's pre-registered placeholder) →
 *    it is reused (it becomes accessible now that its datastore is back) instead of registering.
 * Searching is read-only, so a search whose result was lost is simply run again.
 */
export const findVms: BatchStep<RunContext, VolumeRecord> = {
  kind: "batch",
  name: "FindVms",
  idempotent: true,
  failWhenItemsFail: true,
  items: (ctx) => ctx.volumes,
  label: volumeLabel,
  concurrency: () => 16,
  observeItem(ctx, v, op): ItemObservation {
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 500 };
    if (op?.state !== "success") return { kind: "NeedsAct" };
    const found = new Set(searchResultPaths(op.result as XNode | undefined));
    const inv = ctx.inventory(ctx.recoverySite(v.group).metadata.name);
    for (const vm of ctx.vms) {
      if (vm.group !== v.group || datastoreOfVmx(vm.vmx) !== v.datastore || vm.state !== "Pending") continue;
      if (!found.has(vm.vmx)) {
        settleVm(vm, "Failed", `${vm.vmx} is not in the recovered copy of ${v.datastore} (the VM was created after snapshot ${v.snapshot ?? "?"}; it is recovered after the next transfer)`);
        continue;
      }
      const there = inv.vmByInstanceUuid(vm.instanceUuid);
      if (there?.powerState === "poweredOn") {
        settleVm(vm, "Failed", `a VM with its instance UUID (${there.name}, ${there.ref.value}) is already running at Site ${ctx.recoverySite(v.group).metadata.name}: refused, a VM must never run twice`);
        continue;
      }
      vm.placeholder = there !== undefined;
    }
    return { kind: "Done" };
  },
  async actItem(ctx, v) {
    const site = ctx.recoverySite(v.group);
    const ds = ctx.inventory(site.metadata.name).datastoreByName(v.datastore);
    if (!ds?.accessible || !ds.browser) throw new WaitError(`datastore ${v.datastore} is not mounted at Site ${site.metadata.name} yet`, "WaitingForDatastore", 2_000);
    const t = await (await ctx.vcenter(site)).searchDatastoreForVmx(ds.browser, ds.name, ctx.signal);
    return started({ system: "vsphere", endpoint: site.metadata.name, kind: "task", id: t.task.value, startedAt: new Date(ctx.now()).toISOString() });
  },
  failItem() {
    /* the step fails: a copy that cannot be searched cannot be recovered */
  },
};
