import { ProtectionGroupType, ReplicationRelationshipType, SiteType } from "../../api/v1alpha1/index.js";
import type { ProtectionGroup, ReplicationRelationship } from "../../api/v1alpha1/index.js";
import { keyOf, keyString } from "../../kube/types.js";
import type { Manager } from "../../runtime/manager.js";
import type { ControllerDeps } from "../index.js";
import { ReplicationRelationshipReconciler } from "./reconciler.js";

/** The FailoverRun holding a group that uses the relationship, if any. */
function holderOf(rr: ReplicationRelationship, groups: readonly ProtectionGroup[]): string | undefined {
  const g = groups.find((p) => p.metadata.namespace === rr.metadata.namespace && p.spec.replicationRefs.includes(rr.metadata.name) && p.status?.activeRun);
  return g?.status?.activeRun?.name;
}

/**
 * Wires the ReplicationRelationship controller: its own objects; Sites (a Site's credentials or
 * endpoints changing re-checks its relationships); ProtectionGroups (a FailoverRun taking or
 * releasing a group changes whether the controller may act).
 */
export function setupReplicationRelationshipController(m: Manager, deps: ControllerDeps): void {
  const sites = m.informer(SiteType);
  const groups = m.informer(ProtectionGroupType);
  const relationships = m.informer(ReplicationRelationshipType);
  const c = m.addController(
    new ReplicationRelationshipReconciler({
      kube: deps.kube,
      clock: deps.clock,
      events: deps.events,
      connections: deps.connections,
      metrics: deps.replicationMetrics,
      pollIntervalMs: deps.ontapPollIntervalMs,
      site: (name) => sites.get(name),
      heldBy: (rr: ReplicationRelationship) => holderOf(rr, groups.list()),
      heldByLive: async (rr: ReplicationRelationship, signal: AbortSignal) =>
        holderOf(rr, (await deps.kube.list(ProtectionGroupType, { namespace: rr.metadata.namespace }, signal)).items),
    }),
  );
  m.watch(c, ReplicationRelationshipType);
  m.watch(c, SiteType, (site) =>
    relationships
      .list()
      .filter((r) => r.spec.source.siteRef === site.metadata.name || r.spec.destination.siteRef === site.metadata.name)
      .map((r) => keyString(keyOf(r))),
  );
  m.watch(c, ProtectionGroupType, (g) => g.spec.replicationRefs.map((name) => `${g.metadata.namespace}/${name}`));
}
