import type { ProtectionGroup } from "../../api/v1alpha1/protection-group.js";

/**
 * The isolated test portgroup for NICs on a protected portgroup: the mapping's own testPortgroup,
 * else the group's. "*" stands for any portgroup the mappings do not name.
 */
export function testPortgroupOf(g: ProtectionGroup, protectedPortgroup: string): string | undefined {
  const m = (g.spec.networkMappings ?? []).find((x) => x.protectedPortgroup === protectedPortgroup);
  return m?.testPortgroup ?? g.spec.testPortgroup;
}

/** The recovery portgroup a protected portgroup maps to (failovers), if mapped. */
export function recoveryPortgroupOf(g: ProtectionGroup, protectedPortgroup: string): string | undefined {
  return (g.spec.networkMappings ?? []).find((x) => x.protectedPortgroup === protectedPortgroup)?.recoveryPortgroup;
}
