import { completed } from "../../../engine/types.js";
import type { Observation, SingleStep } from "../../../engine/types.js";
import type { RunContext } from "../context.js";
import { recoveryHosts } from "../hosts.js";

/** Rescans HBAs and VMFS on every recovery host of the run's groups (per host, as ESXi needs). */
export async function rescanRecoveryHosts(ctx: RunContext): Promise<number> {
  let n = 0;
  for (const site of ctx.recoverySites()) {
    const client = await ctx.vcenter(site);
    const hosts = new Map<string, NonNullable<ReturnType<typeof recoveryHosts>[number]>>();
    for (const name of ctx.groups.keys()) if (ctx.targetSiteName(name) === site.metadata.name) for (const h of recoveryHosts(ctx, name)) hosts.set(h.ref.value, h);
    await Promise.all(
      [...hosts.values()].map(async (h) => {
        if (!h.storageSystem) return;
        await client.rescanAllHba(h.storageSystem, ctx.signal);
        await client.rescanVmfs(h.storageSystem, ctx.signal);
        n++;
      }),
    );
  }
  return n;
}

/**
 * RescanHosts: every recovery host rescans its HBAs and VMFS volumes, so presented copies show up
 * (and removed ones go). A rescan changes nothing but the host's view, so it is safe to repeat;
 * what it should have found is observed by the next step, which rescans again while something is
 * still missing.
 */
export const rescanHosts: SingleStep<RunContext> = {
  kind: "single",
  name: "RescanHosts",
  idempotent: true,
  observe(_ctx, rec): Promise<Observation> {
    return Promise.resolve(rec.attempts > 0 ? { kind: "Done", message: rec.message } : { kind: "NeedsAct" });
  },
  async act(ctx, rec) {
    const n = await rescanRecoveryHosts(ctx);
    rec.message = `${n} host(s) rescanned`;
    return completed;
  },
};
