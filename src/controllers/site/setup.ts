import { ProtectionGroupType, ReplicationRelationshipType, SiteType } from "../../api/v1alpha1/index.js";
import type { ProtectionGroup, ReplicationRelationship } from "../../api/v1alpha1/index.js";
import type { Manager } from "../../runtime/manager.js";
import { secretRefsOf } from "../../sites/secrets.js";
import type { ControllerDeps } from "../index.js";
import { SiteReconciler } from "./reconciler.js";

/** Names of the Sites a ProtectionGroup or ReplicationRelationship refers to. */
export function sitesOf(o: ProtectionGroup | ReplicationRelationship): string[] {
  return "protectedSiteRef" in o.spec
    ? [o.spec.protectedSiteRef, o.spec.recoverySiteRef]
    : [o.spec.source.siteRef, o.spec.destination.siteRef];
}

/**
 * Wires the Site controller: Sites themselves; the Secrets they reference (a changed credential
 * re-checks every Site that names it; ReferencedSecrets follows only those); ProtectionGroups and ReplicationRelationships (their deletion may release a
 * Site that is being deleted).
 */
export function setupSiteController(m: Manager, deps: ControllerDeps): void {
  const sites = m.informer(SiteType);
  const groups = m.informer(ProtectionGroupType);
  const relationships = m.informer(ReplicationRelationshipType);
  const c = m.addController(
    new SiteReconciler({
      kube: deps.kube,
      clock: deps.clock,
      events: deps.events,
      connections: deps.connections,
      inventories: deps.inventories,
      pollIntervalMs: deps.sitePollIntervalMs,
      users: (name) => ({
        protectionGroups: groups.list().filter((p) => sitesOf(p).includes(name)),
        relationships: relationships.list().filter((r) => sitesOf(r).includes(name)),
      }),
    }),
  );
  m.watch(c, SiteType);
  deps.secrets.onChange((ref) => {
    for (const site of sites.list()) {
      if (secretRefsOf(site).some((r) => r.name === ref.name && r.namespace === ref.namespace)) c.enqueue(site.metadata.name);
    }
  });
  const deletingSites = (o: ProtectionGroup | ReplicationRelationship): string[] =>
    sitesOf(o).filter((name) => sites.get(name)?.metadata.deletionTimestamp !== undefined);
  m.watch(c, ProtectionGroupType, deletingSites);
  m.watch(c, ReplicationRelationshipType, deletingSites);
}
