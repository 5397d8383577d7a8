import type { VmRecord } from "../../../api/v1alpha1/index.js";
import { completed, started } from "../../../engine/types.js";
import type { BatchStep, ItemObservation, Observation, SingleStep } from "../../../engine/types.js";
import { PermanentError } from "../../../runtime/errors.js";
import { parseDuration } from "../../../util/duration.js";
import type { VmInfo } from "../../../vsphere/types.js";
import type { RunContext } from "../context.js";

/**
 * The source site's view of a VM of the run (same instance UUID at both sites): the protected
 * site's, or for a failback the recovery site's, where the VMs run until it stops them.
 */
export function vmAtProtected(ctx: RunContext, vm: VmRecord): VmInfo | undefined {
  return ctx.inventory(ctx.sourceSiteName(vm.group)).vmByInstanceUuid(vm.instanceUuid);
}

const DEFAULT_SHUTDOWN_TIMEOUT = "5m";

/**
 * ShutdownProtectedVms (planned migration, failback): every VM of the run shut down at the site it leaves by
 * its guest OS (VMware Tools), in reverse power-on order (a wave waits until the later waves are
 * off), at most `powerOn.concurrency` at once. A VM still on after `shutdown.timeout` is powered
 * off only if `shutdown.powerOffAfterTimeout` allows it; otherwise, or when a VM has no running
 * Tools and powering off is not allowed, the VM fails and the run stops before anything breaks.
 */
export const shutdownProtectedVms: BatchStep<RunContext, VmRecord> = {
  kind: "batch",
  name: "ShutdownProtectedVms",
  idempotent: true,
  maxAttempts: 3,
  failWhenItemsFail: true,
  items: (ctx) => ctx.vms.filter((v) => !v.auxiliary),
  label: (v) => v.name,
  concurrency: (ctx) => ctx.run.spec.powerOn?.concurrency ?? 10,
  itemTimeoutMs: (ctx) => {
    const s = ctx.run.spec.shutdown;
    // With a forced power-off allowed, the item's own budget includes the wait for it.
    return parseDuration(s?.timeout ?? DEFAULT_SHUTDOWN_TIMEOUT) * (s?.powerOffAfterTimeout ? 2 : 1);
  },
  // Observing reads the watched inventory only (no call to vCenter), so it polls often: the next
  // wave starts as soon as the last guest of the one before is seen off.
  observeItem(ctx, vm, op): ItemObservation {
    const info = vmAtProtected(ctx, vm);
    if (!info || info.powerState !== "poweredOn") return { kind: "Done" };
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 1_000 };
    const later = ctx.vms.find((v) => v.wave > vm.wave && vmAtProtected(ctx, v)?.powerState === "poweredOn");
    if (later) return { kind: "Waiting", message: `waiting for ${later.name} (a later wave) to stop first`, pollAfterMs: 250 };
    if (vm.op?.startedAt) {
      const s = ctx.run.spec;
      const waited = ctx.now() - Date.parse(vm.op.startedAt);
      if (waited < parseDuration(s.shutdown?.timeout ?? DEFAULT_SHUTDOWN_TIMEOUT)) return { kind: "InProgress", pollAfterMs: 250, message: "shutting down" };
      if (!s.shutdown?.powerOffAfterTimeout) return { kind: "Failed", message: `still running ${Math.round(waited / 1000)}s after its guest was asked to shut down; set spec.shutdown.powerOffAfterTimeout to power it off` };
    }
    return { kind: "NeedsAct" };
  },
  async actItem(ctx, vm) {
    const info = vmAtProtected(ctx, vm);
    if (!info) return completed;
    const site = ctx.sourceSite(vm.group);
    const client = await ctx.vcenter(site);
    const s = ctx.run.spec;
    const timedOut = vm.op?.startedAt !== undefined && vm.op.attempts > 1;
    if (info.toolsRunningStatus === "guestToolsRunning" && !timedOut) {
      await client.shutdownGuest(info.ref, ctx.signal);
      ctx.log.info({ vm: vm.name }, "Asked the guest to shut down at the source site");
      return completed;
    }
    if (!s.shutdown?.powerOffAfterTimeout) throw new PermanentError(`${vm.name}: VMware Tools are not running, so the guest cannot be shut down; set spec.shutdown.powerOffAfterTimeout to power it off`, "CannotShutDown");
    const t = await client.powerOff(info.ref, ctx.signal);
    return t === "Done" ? completed : started({ system: "vsphere", endpoint: site.metadata.name, kind: "task", id: t.task.value, startedAt: new Date(ctx.now()).toISOString() });
  },
  failItem: (_ctx, vm, message) => {
    vm.message = `shutdown at the source site: ${message}`.slice(0, 1024);
  },
};

/**
 * VerifyProtectedOff: the fence of a planned migration. Every VM of the run is seen powered off at
 * the protected site (by its own inventory, read now) before a mirror is broken: a VM must never
 * run at both sites. A VM found running fails the run here, with nothing broken.
 */
export const verifyProtectedOff: SingleStep<RunContext> = {
  kind: "single",
  name: "VerifyProtectedOff",
  idempotent: true,
  observe(ctx): Promise<Observation> {
    const running = ctx.vms.filter((v) => !v.auxiliary && vmAtProtected(ctx, v)?.powerState === "poweredOn");
    if (running.length) {
      return Promise.resolve({ kind: "Failed", reason: "ProtectedVmRunning", message: `still running at Site ${ctx.sourceSiteName(running[0]!.group)}: ${running.slice(0, 10).map((v) => v.name).join(", ")}; no mirror was broken` });
    }
    return Promise.resolve({ kind: "Done", message: `${ctx.vms.length} VM(s) powered off at the source site` });
  },
  act: () => Promise.reject(new Error("VerifyProtectedOff only observes")),
};
