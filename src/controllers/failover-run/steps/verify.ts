import type { Observation, SingleStep } from "../../../engine/types.js";
import type { RunContext } from "../context.js";
import { copyOf, exportPolicyName } from "../names.js";

/**
 * VerifyClean: checks the world, not the checkpoint, for anything the test made: a clone volume,
 * its LUN maps, the run's export policy, a mounted copy of the groups' datastores, a VM it
 * registered or left running at the recovery site. Clean → the report is verified; otherwise the
 * step fails naming what is left (a cleanup run again removes it).
 */
export const verifyClean: SingleStep<RunContext> = {
  kind: "single",
  name: "VerifyClean",
  idempotent: true,
  async observe(ctx): Promise<Observation> {
    const left: string[] = [];
    for (const v of ctx.volumes) {
      const site = ctx.recoverySite(v.group).metadata.name;
      const ontap = ctx.ontapFor(v);
      const clone = copyOf(v, ctx.shortId);
      if (await ontap.getVolume({ svm: v.svm, name: clone }, ctx.signal)) left.push(`volume ${v.svm}:${clone} at Site ${site}`);
      if (v.protocol === "NFS" && (await ontap.getExportPolicy(v.svm, exportPolicyName(ctx.shortId), ctx.signal))) left.push(`export policy ${v.svm}:${exportPolicyName(ctx.shortId)}`);
      const ds = ctx.inventory(site).datastoreByName(v.datastore);
      if (ds?.accessible) left.push(`datastore ${v.datastore} mounted at Site ${site}`);
    }
    for (const vm of ctx.vms) {
      const site = ctx.recoverySite(vm.group).metadata.name;
      const inv = ctx.inventory(site);
      if (vm.registeredAs && vm.placeholder !== true && inv.vms.some((x) => x.ref.value === vm.registeredAs)) left.push(`VM ${vm.name} (${vm.registeredAs}) registered at Site ${site}`);
      const running = inv.vmByInstanceUuid(vm.instanceUuid);
      if (running?.powerState === "poweredOn") left.push(`VM ${vm.name} powered on at Site ${site}`);
    }
    const report = (ctx.store.status.cleanup ??= { removed: [] });
    if (left.length) {
      report.remaining = left.slice(0, 1000);
      return { kind: "Failed", reason: "CleanupIncomplete", message: `left behind: ${left.slice(0, 10).join("; ")}${left.length > 10 ? "; …" : ""}` };
    }
    report.remaining = undefined;
    report.verifiedAt = new Date(ctx.now()).toISOString();
    return { kind: "Done", message: `nothing of the test is left (${report.removed.length} object(s) removed)` };
  },
  act() {
    return Promise.reject(new Error("VerifyClean only observes"));
  },
};
