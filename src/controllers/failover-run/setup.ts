import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType, SiteType } from "../../api/v1alpha1/index.js";
import type { Manager } from "../../runtime/manager.js";
import { operationRateLimiter } from "../../runtime/rate-limiter.js";
import { SitePoller } from "../../sites/poller.js";
import type { Clock } from "../../util/clock.js";
import type { ControllerDeps } from "../index.js";
import { ShadowRecordStore } from "../protection-group/records.js";
import { FailoverRunReconciler } from "./reconciler.js";
import { runWorld } from "./world.js";

/** Inventory changes a run in progress reacts to (a VM registered, powered on, a question, tools; a datastore mounted). */
const RELEVANT = new Set(["VirtualMachine", "Datastore", "HostSystem"]);

/**
 * Wires the FailoverRun controller: its own objects, the groups it holds (a released lock lets a
 * waiting run go on), and the recovery Sites' inventory watchers: a change there enqueues the
 * runs in progress at that Site, so a run reacts to vCenter as it happens instead of polling.
 */
export function setupFailoverRunController(m: Manager, deps: ControllerDeps): void {
  const sites = m.informer(SiteType);
  const groups = m.informer(ProtectionGroupType);
  const relationships = m.informer(ReplicationRelationshipType);
  const runs = m.informer(FailoverRunType);
  const site = (name: string) => sites.get(name);
  const waiters = new Set<{ sites: readonly string[]; wake: () => void }>();
  const world = { ...runWorld(deps, site), changed: (on: readonly string[], ms: number, signal: AbortSignal) => changedAt(waiters, deps.clock, on, ms, signal) };
  const active = new Map<string, readonly string[]>();
  const c = m.addController(
    new FailoverRunReconciler({
      kube: deps.kube,
      clock: deps.clock,
      world,
      poller: new SitePoller(deps.connections, site),
      sources: {
        kube: deps.kube,
        group: (ns, name) => groups.get(`${ns}/${name}`),
        relationship: (ns, name) => relationships.get(`${ns}/${name}`),
        site,
        records: (pg, signal) => new ShadowRecordStore(deps.kube).load(pg, signal),
        inventory: world.inventory,
      },
      crash: deps.crash,
      metrics: deps.failoverMetrics,
      cached: (ns, name) => runs.get(`${ns}/${name}`),
      onActive: (key, recoverySites) => {
        if (recoverySites) active.set(key, recoverySites);
        else active.delete(key);
      },
    }),
    undefined,
    operationRateLimiter(deps.clock),
  );
  m.watch(c, FailoverRunType);
  m.watch(c, ProtectionGroupType, (g) => (g.status?.activeRun ? [`${g.metadata.namespace}/${g.status.activeRun.name}`] : []));
  deps.inventories.subscribe((siteName, e) => {
    if (!RELEVANT.has(e.object.kind)) return;
    for (const [key, s] of active) if (s.includes(siteName)) c.enqueue(key);
    for (const w of waiters) if (w.sites.includes(siteName)) w.wake();
  });
}

/** Resolves at the next relevant inventory change at one of the Sites, after ms, or when signal aborts. */
function changedAt(waiters: Set<{ sites: readonly string[]; wake: () => void }>, clock: Clock, sites: readonly string[], ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const w = { sites, wake: () => finish() };
    const cancel = clock.setTimer(() => finish(), ms);
    const finish = (): void => {
      cancel();
      waiters.delete(w);
      signal.removeEventListener("abort", finish);
      resolve();
    };
    waiters.add(w);
    signal.addEventListener("abort", finish, { once: true });
  });
}
