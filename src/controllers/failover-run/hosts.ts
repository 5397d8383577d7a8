import type { ComputeResourceInfo, HostInfo } from "../../vsphere/types.js";
import { refKey } from "../../vsphere/types.js";
import type { RunContext } from "./context.js";

/**
 * The hosts that can run a group at its recovery site: those of its recovery cluster (the shadow
 * layout's cluster, or the datacenter's first) that are connected and not in maintenance mode.
 */
export function recoveryHosts(ctx: RunContext, group: string): HostInfo[] {
  const inv = ctx.inventory(ctx.targetSiteName(group));
  return (targetCompute(ctx, group)?.hosts ?? [])
    .map((h) => inv.hosts.get(refKey(h)))
    .filter((h): h is HostInfo => h !== undefined && (h.connectionState ?? "connected") === "connected" && h.inMaintenanceMode !== true)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The cluster a run brings a group's VMs up in: the shadow layout's at the recovery site; back at
 * the protected site (a failback), the datacenter's first cluster.
 */
export function targetCompute(ctx: RunContext, group: string): ComputeResourceInfo | undefined {
  const inv = ctx.inventory(ctx.targetSiteName(group));
  return inv.compute(ctx.backToProtected ? undefined : ctx.group(group).spec.shadow.cluster);
}
