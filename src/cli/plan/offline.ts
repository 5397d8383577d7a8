import type { FailoverRun, ProtectionGroup, ReplicationRelationship, Site } from "../../api/v1alpha1/index.js";
import { planFailover, planTest, selectGroups } from "../../controllers/failover-run/plan.js";
import type { PlanInput } from "../../controllers/failover-run/plan.js";
import { planFailback, planReprotect } from "../../controllers/failover-run/plan-return.js";
import { testPortgroupOf } from "../../controllers/failover-run/networks.js";
import { GROUP_LABEL } from "../../controllers/protection-group/records.js";
import type { ConfigMap, ShadowRecord } from "../../controllers/protection-group/records.js";
import { InventoryIndex } from "../../sites/inventory-index.js";
import type { InventoryObject } from "../../vsphere/types.js";
import { CliError } from "../command.js";
import { recordsOf } from "../map/source.js";
import type { ManifestObject } from "../validate/load.js";
import type { PlanOutcome } from "./render.js";

type Obj = ManifestObject & { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

/**
 * The plan a run would get, from saved state (kubectl get drsite,rr,pg,cm,fr -o yaml) instead of
 * the cluster, by the operator's own planning functions. Without the sites' vCenters it cannot
 * see their inventories: it takes the portgroups the groups name as existing and no copy as
 * mounted, and says so; a test location, auxiliary VMs and the capacity pre-flight need the
 * inventory and are left out, also said. A CleanupTest's plan is its Test's records: the cluster only.
 */
export function planOffline(run: FailoverRun, objects: readonly ManifestObject[]): { outcome: PlanOutcome; assumed: string[] } {
  if (run.spec.type === "CleanupTest") throw new CliError("a CleanupTest's plan comes from its Test's records in the cluster: plan it without --offline");
  const objs = objects.filter((o): o is Obj => typeof o.kind === "string" && typeof o.metadata?.name === "string");
  const ns = run.metadata.namespace ?? "default";
  const groupsInNs = objs.filter((o) => o.kind === "ProtectionGroup" && (o.metadata.namespace ?? "default") === ns) as unknown as ProtectionGroup[];
  const assumed: string[] = [];
  const { groups, missing } = selectGroups(run, groupsInNs);
  if (missing.length) return { outcome: { ok: false, reason: "GroupNotFound", message: `no ProtectionGroup ${missing.join(", ")} in namespace ${ns} in the given files` }, assumed };
  for (const g of groups) {
    const h = g.status?.activeRun;
    if (h && h.name !== run.metadata.name) assumed.push(`ProtectionGroup ${g.metadata.name} was held by FailoverRun ${h.name} (${h.type}) when saved: the operator refuses this run while it is, unless this run continues that one's sequence`);
    if (!g.status) assumed.push(`ProtectionGroup ${g.metadata.name} has no status in the files (save it with kubectl get pg -o yaml): it is refused as not Ready`);
  }

  const runSpec = { ...run.spec };
  if (runSpec.testLocation) {
    delete runSpec.testLocation;
    assumed.push("spec.testLocation: not checked (needs the recovery site's inventory); the VMs are shown in their shadow folders instead");
  }
  const planned = groups.map((g) => {
    if (!g.spec.auxiliaryVms?.length) return g;
    assumed.push(`ProtectionGroup ${g.metadata.name}'s auxiliary VMs (${g.spec.auxiliaryVms.map((a) => a.name).join(", ")}): not looked up (they are found by name at the recovery site); not in the plan`);
    const spec = { ...g.spec };
    delete spec.auxiliaryVms;
    return { ...g, spec };
  });

  // The portgroups the groups name, taken as existing at every site; nothing mounted.
  const names = new Set<string>();
  for (const g of planned) {
    for (const m of g.spec.networkMappings ?? []) [m.protectedPortgroup, m.recoveryPortgroup, testPortgroupOf(g, m.protectedPortgroup)].forEach((n) => n && names.add(n));
    for (const n of [testPortgroupOf(g, "*"), g.spec.testPortgroup]) if (n) names.add(n);
  }
  const inventory = new InventoryIndex([...names].map((name, i): InventoryObject => ({ kind: "Network", info: { ref: { type: "Network", value: `network-offline-${i}` }, name } })));
  assumed.push(`the portgroups the groups name exist at their sites (${[...names].sort().join(", ") || "none"}), and no copy of their datastores is mounted at the recovery site`);
  if (run.spec.type === "Test" || run.spec.type === "PlannedMigration" || run.spec.type === "Disaster") assumed.push("capacity: not checked (the recovery cluster's hosts and VMs are in its vCenter)");

  const records = new Map<string, ReadonlyMap<string, ShadowRecord>>();
  for (const g of planned) {
    const cms = objs.filter((o) => o.kind === "ConfigMap" && (o.metadata.namespace ?? "default") === ns && o.metadata.labels?.[GROUP_LABEL] === g.metadata.name) as unknown as ConfigMap[];
    if (!cms.length) assumed.push(`ProtectionGroup ${g.metadata.name}: no shadow-record ConfigMaps in the files (kubectl get cm -l ${GROUP_LABEL}=${g.metadata.name}), so no VMs`);
    records.set(`${ns}/${g.metadata.name}`, new Map(recordsOf(cms).map(({ uuid, ...r }) => [uuid, r])));
  }
  const input: PlanInput = {
    run: { ...run, spec: runSpec },
    groups: planned,
    records,
    relationship: (n, name) => objs.find((o) => o.kind === "ReplicationRelationship" && (o.metadata.namespace ?? "default") === n && o.metadata.name === name) as unknown as ReplicationRelationship | undefined,
    site: (name) => objs.find((o) => o.kind === "Site" && o.metadata.name === name) as unknown as Site | undefined,
    recoveryInventory: () => inventory,
  };
  const t = run.spec.type;
  const r = t === "Test" ? planTest(input) : t === "Failback" ? planFailback(input) : t === "Reprotect" ? planReprotect(input) : planFailover(input);
  return { outcome: r.ok ? { ok: true, plan: r.plan, volumes: r.volumes, vms: r.vms } : { ok: false, reason: r.reason, message: r.message }, assumed };
}
