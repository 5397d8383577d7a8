import type { ReclaimRecord } from "../../../api/v1alpha1/index.js";
import { completed, started } from "../../../engine/types.js";
import type { ActResult, BatchStep, ItemObservation } from "../../../engine/types.js";
import { PermanentError } from "../../../runtime/errors.js";
import type { PoolLimits } from "../../../vsphere/client.js";
import { moref } from "../../../vsphere/types.js";
import type { RunContext } from "../context.js";

/**
 * MakeRoom and ReturnRoom: what the capacity pre-flight planned to reclaim at the recovery site
 * (status.capacity.reclaim; docs/capacity.md), done before the first VM of the run is touched,
 * and undone when the run is (a CleanupTest, a Test cancelled, a Failback). Suspending is a
 * vCenter task; throttling sets a pool's limits, after recording the limits it had (a first act
 * that only reads, checkpointed before the second changes anything, so a crash never records
 * the throttled limits as the ones to restore).
 */

const reclaims = (ctx: RunContext): ReclaimRecord[] => ctx.store.status.capacity?.reclaim ?? [];

const siteOf = (ctx: RunContext, r: ReclaimRecord) => {
  const s = ctx.world.site(r.site);
  if (!s) throw new PermanentError(`Site ${r.site} no longer exists`, "SiteNotFound");
  return s;
};

const vmRef = (r: ReclaimRecord) => moref("VirtualMachine", r.ref);
const poolRef = (r: ReclaimRecord) => moref("ResourcePool", r.ref);

/** The limits a throttle sets (the dimensions it leaves alone are not given). */
function wanted(l: PoolLimits): Partial<PoolLimits> {
  return { ...(l.cpuMhz >= 0 ? { cpuMhz: l.cpuMhz } : {}), ...(l.memoryMB >= 0 ? { memoryMB: l.memoryMB } : {}) };
}

/** Whether the pool has the limits (only those given). */
const hasLimits = (now: PoolLimits, want: Partial<PoolLimits>): boolean =>
  (want.cpuMhz === undefined || now.cpuMhz === want.cpuMhz) && (want.memoryMB === undefined || now.memoryMB === want.memoryMB);

/** A restore puts back what the throttle changed, to what it was before. */
function restored(r: ReclaimRecord): Partial<PoolLimits> {
  const set = r.limits ?? { cpuMhz: -1, memoryMB: -1 };
  const before = r.before ?? { cpuMhz: -1, memoryMB: -1 };
  return { ...(set.cpuMhz >= 0 ? { cpuMhz: before.cpuMhz } : {}), ...(set.memoryMB >= 0 ? { memoryMB: before.memoryMB } : {}) };
}

const task = (ctx: RunContext, site: string, id: string) => started({ system: "vsphere", endpoint: site, kind: "task", id, startedAt: new Date(ctx.now()).toISOString() });

export const makeRoom: BatchStep<RunContext, ReclaimRecord> = {
  kind: "batch",
  name: "MakeRoom",
  idempotent: true,
  failWhenItemsFail: true,
  skip: (ctx) => (reclaims(ctx).length === 0 ? ctx.store.status.capacity?.message ?? "the capacity pre-flight found room" : undefined),
  items: reclaims,
  label: (r) => `${r.action} ${r.name}`,
  concurrency: () => 8,
  async observeItem(ctx, r, op): Promise<ItemObservation> {
    if (r.state !== "Planned") return { kind: "Done" };
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 500 };
    if (r.action === "Suspend") {
      const vm = ctx.inventory(r.site).vm(r.ref);
      if (!vm) return { kind: "Failed", message: `VM ${r.name} is gone from Site ${r.site}` };
      if (vm.powerState !== "poweredOn") {
        r.state = "Done";
        r.message = `suspended (${vm.powerState ?? "unknown"})`;
        return { kind: "Done" };
      }
      return { kind: "NeedsAct" };
    }
    if (!r.before) return { kind: "NeedsAct" };
    const now = await (await ctx.vcenter(siteOf(ctx, r))).getPoolLimits(poolRef(r), ctx.signal);
    if (!hasLimits(now, wanted(r.limits ?? { cpuMhz: -1, memoryMB: -1 }))) return { kind: "NeedsAct" };
    r.state = "Done";
    r.message = `limited to ${r.limits && r.limits.cpuMhz >= 0 ? `${r.limits.cpuMhz} MHz` : "unchanged CPU"}, ${r.limits && r.limits.memoryMB >= 0 ? `${r.limits.memoryMB} MB` : "unchanged memory"}`;
    return { kind: "Done" };
  },
  async actItem(ctx, r): Promise<ActResult> {
    const site = siteOf(ctx, r);
    const client = await ctx.vcenter(site);
    if (r.action === "Suspend") {
      const t = await client.suspendVm(vmRef(r), ctx.signal);
      return t === "Done" ? completed : task(ctx, site.metadata.name, t.task.value);
    }
    if (!r.before) {
      // Only read here: the limits to restore are saved by this pass's checkpoint before any change.
      r.before = await client.getPoolLimits(poolRef(r), ctx.signal);
      return completed;
    }
    await client.setPoolLimits(poolRef(r), wanted(r.limits ?? { cpuMhz: -1, memoryMB: -1 }), ctx.signal);
    return completed;
  },
  failItem: (_ctx, r, message) => {
    r.message = `could not make room: ${message}`.slice(0, 1024);
  },
};

export const returnRoom: BatchStep<RunContext, ReclaimRecord> = {
  kind: "batch",
  name: "ReturnRoom",
  idempotent: true,
  failWhenItemsFail: false,
  skip: (ctx) => (reclaims(ctx).some((r) => r.state === "Done" || r.state === "Restored") ? undefined : ctx.store.status.capacity?.message ?? "nothing was reclaimed"),
  items: (ctx) => reclaims(ctx).filter((r) => r.state === "Done" || r.state === "Restored"),
  label: (r) => `${r.action} ${r.name}`,
  concurrency: () => 8,
  async observeItem(ctx, r, op): Promise<ItemObservation> {
    if (r.state === "Restored") return { kind: "Done" };
    if (op?.state === "running") return { kind: "InProgress", pollAfterMs: 500 };
    if (r.action === "Suspend") {
      const vm = ctx.inventory(r.site).vm(r.ref);
      if (vm?.powerState === "suspended") return { kind: "NeedsAct" };
      // Running again (resumed), or someone powered it off or removed it since: left as it is.
      r.state = vm?.powerState === "poweredOn" ? "Restored" : "Left";
      r.message = vm?.powerState === "poweredOn" ? "resumed" : `not resumed: it is ${vm ? vm.powerState ?? "in an unknown state" : "gone"} at Site ${r.site}`;
      return { kind: "Done" };
    }
    const now = await (await ctx.vcenter(siteOf(ctx, r))).getPoolLimits(poolRef(r), ctx.signal);
    if (!hasLimits(now, restored(r))) return { kind: "NeedsAct" };
    r.state = "Restored";
    r.message = `limits restored (CPU ${r.before?.cpuMhz ?? -1} MHz, memory ${r.before?.memoryMB ?? -1} MB; -1 is unlimited)`;
    return { kind: "Done" };
  },
  async actItem(ctx, r): Promise<ActResult> {
    const site = siteOf(ctx, r);
    const client = await ctx.vcenter(site);
    if (r.action === "Suspend") {
      const t = await client.powerOn(vmRef(r), ctx.signal);
      return t === "Done" ? completed : task(ctx, site.metadata.name, t.task.value);
    }
    await client.setPoolLimits(poolRef(r), restored(r), ctx.signal);
    return completed;
  },
  failItem: (_ctx, r, message) => {
    r.state = "Left";
    r.message = `not given back: ${message}`.slice(0, 1024);
  },
};
