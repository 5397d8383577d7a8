import { ProtectionGroupType, ReplicationRelationshipType, SiteType } from "../../api/v1alpha1/index.js";
import type { ProtectionGroup, ReplicationRelationship, Site } from "../../api/v1alpha1/index.js";
import type { Manager } from "../../runtime/manager.js";
import { SecretType } from "../../sites/credentials.js";
import type { Secret } from "../../sites/credentials.js";
import type { ControllerDeps } from "../index.js";
import { SiteReconciler } from "./reconciler.js";

/** Names of the Sites a ProtectionGroup or ReplicationRelationship refers to. */
export function sitesOf(o: ProtectionGroup | ReplicationRelationship): string[] {
  return "protectedSiteRef" in o.spec
    ? [o.spec.protectedSiteRef, o.spec.recoverySiteRef]
    : [o.spec.source.siteRef, o.spec.destination.siteRef];
}

/**
 * Wires the Site controller: Sites themselves; Secrets (a changed credential re-checks every Site
 * that names it); ProtectionGroups and ReplicationRelationships (their deletion may release a
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
  const sitesUsingSecret = (s: Secret): string[] =>
    sites
      .list()
      .filter((site: Site) =>
        [site.spec.vcenter.credentialsSecretRef, ...site.spec.storage.controllers.map((x) => x.credentialsSecretRef)].some(
          (r) => r.name === s.metadata.name && r.namespace === s.metadata.namespace,
        ),
      )
      .map((site) => site.metadata.name);
  m.watch(c, SecretType, sitesUsingSecret, { allNamespaces: true });
  const deletingSites = (o: ProtectionGroup | ReplicationRelationship): string[] =>
    sitesOf(o).filter((name) => sites.get(name)?.metadata.deletionTimestamp !== undefined);
  m.watch(c, ProtectionGroupType, deletingSites);
  m.watch(c, ReplicationRelationshipType, deletingSites);
}
