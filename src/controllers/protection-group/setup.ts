import { ProtectionGroupType, ReplicationRelationshipType, SiteType } from "../../api/v1alpha1/index.js";
import { keyOf, keyString } from "../../kube/types.js";
import type { Manager } from "../../runtime/manager.js";
import type { ControllerDeps } from "../index.js";
import { DatastoreResolver } from "./datastores.js";
import { Placeholders } from "./placeholders.js";
import { runWorld } from "../failover-run/world.js";
import { SitePoller } from "../../sites/poller.js";
import { ProtectionGroupReconciler } from "./reconciler.js";

/** Inventory changes that can matter to a group (VMs, folders, datastores, pools, hosts). */
const RELEVANT = new Set(["VirtualMachine", "Folder", "Datastore", "ResourcePool", "HostSystem", "ComputeResource"]);

/**
 * Wires the ProtectionGroup controller. Besides its own objects it is driven by the vCenter
 * inventory watchers of both its Sites (each relevant change enqueues the groups on that Site:
 * event-driven, no polling), by its ReplicationRelationships (health, spec) and by Sites.
 */
export function setupProtectionGroupController(m: Manager, deps: ControllerDeps): void {
  const sites = m.informer(SiteType);
  const groups = m.informer(ProtectionGroupType);
  const relationships = m.informer(ReplicationRelationshipType);
  const datastores = new DatastoreResolver(deps.connections, deps.clock);
  const c = m.addController(
    new ProtectionGroupReconciler({
      kube: deps.kube,
      clock: deps.clock,
      events: deps.events,
      connections: deps.connections,
      inventories: deps.inventories,
      datastores,
      placeholders: new Placeholders({ world: runWorld(deps, (name) => sites.get(name)), poller: new SitePoller(deps.connections, (name) => sites.get(name)), clock: deps.clock, events: deps.events }),
      site: (name) => sites.get(name),
      relationship: (ns, name) => relationships.get(`${ns}/${name}`),
      groups: () => groups.list(),
      resyncMs: deps.groupResyncMs,
    }),
  );
  m.watch(c, ProtectionGroupType);
  deps.groupMetrics.follow(() => groups.list());
  const onSite = (site: string): string[] =>
    groups
      .list()
      .filter((g) => g.spec.protectedSiteRef === site || g.spec.recoverySiteRef === site)
      .map((g) => keyString(keyOf(g)));
  m.watch(c, SiteType, (s) => {
    datastores.invalidate();
    return onSite(s.metadata.name);
  });
  m.watch(c, ReplicationRelationshipType, (r) => {
    return groups
      .list()
      .filter((g) => g.metadata.namespace === r.metadata.namespace && g.spec.replicationRefs.includes(r.metadata.name))
      .map((g) => keyString(keyOf(g)));
  });
  deps.inventories.subscribe((site, e) => {
    if (!RELEVANT.has(e.object.kind)) return;
    for (const k of onSite(site)) c.enqueue(k);
  });
}
