import type { HostInfo } from "../../vsphere/types.js";
import { refKey } from "../../vsphere/types.js";
import type { RunContext } from "./context.js";

/**
 * The hosts that can run a group at its recovery site: those of its recovery cluster (the shadow
 * layout's cluster, or the datacenter's first) that are connected and not in maintenance mode.
 */
export function recoveryHosts(ctx: RunContext, group: string): HostInfo[] {
  const g = ctx.group(group);
  const inv = ctx.inventory(ctx.targetSiteName(group));
  // Back at the protected site (a failback), the datacenter's first cluster; else the shadow layout's.
  const compute = inv.compute(ctx.backToProtected ? undefined : g.spec.shadow.cluster);
  return (compute?.hosts ?? [])
    .map((h) => inv.hosts.get(refKey(h)))
    .filter((h): h is HostInfo => h !== undefined && (h.connectionState ?? "connected") === "connected" && h.inMaintenanceMode !== true)
    .sort((a, b) => a.name.localeCompare(b.name));
}
