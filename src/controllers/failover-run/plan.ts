import { ConditionType, findCondition } from "../../api/v1alpha1/conditions.js";
import type { FailoverRun, RunPlan, RunType, VmRecord, VolumeRecord } from "../../api/v1alpha1/failover-run.js";
import type { PriorityGroup, ProtectionGroup } from "../../api/v1alpha1/protection-group.js";
import type { ReplicationRelationship } from "../../api/v1alpha1/replication-relationship.js";
import type { Site } from "../../api/v1alpha1/site.js";
import type { InventoryIndex } from "../../sites/inventory-index.js";
import { globToRegExp } from "../protection-group/membership.js";
import type { ShadowRecord } from "../protection-group/records.js";
import { testPortgroupOf } from "./networks.js";
import { groupReip, reipOn, vmReip } from "./reip.js";
import { INVALID_IP_CUSTOMIZATION } from "../../reip/rules.js";

/** The ordered steps of each run type (the engine runs them in this order). */
export const STEPS: Readonly<Partial<Record<RunType, readonly string[]>>> = {
  Test: ["ClaimGroups", "MakeRoom", "SelectSnapshots", "CloneVolumes", "PresentClones", "RescanHosts", "MountDatastores", "FindVms", "RegisterVms", "IsolateNetworks", "CustomizeGuests", "PowerOnVms", "DisarmGuestScripts"],
  CleanupTest: ["ClaimGroups", "PowerOffVms", "ReturnRoom", "UnregisterVms", "UnmountDatastores", "DetachDevices", "UnpresentClones", "DeleteClones", "RescanHosts", "VerifyClean", "ReleaseGroups"],
  PlannedMigration: [
    "ClaimGroups", "MakeRoom", "ShutdownProtectedVms", "VerifyProtectedOff", "FinalUpdate", "RecordExports", "CommitFailover", "QuiesceReplication", "BreakReplication",
    "RecordRecoveryPoint", "PresentReplicas", "RescanHosts", "MountDatastores", "FindVms", "RegisterVms", "ConfigureNetworks", "CustomizeGuests", "PowerOnVms", "DisarmGuestScripts", "UpdateDns", "RecordFailover",
  ],
  Disaster: [
    "ClaimGroups", "MakeRoom", "RecordExports", "CommitFailover", "QuiesceReplication", "BreakReplication", "RecordRecoveryPoint", "PresentReplicas", "RescanHosts", "MountDatastores", "FindVms",
    "RegisterVms", "ConfigureNetworks", "CustomizeGuests", "PowerOnVms", "DisarmGuestScripts", "UpdateDns", "RecordFailover",
  ],
  // Home first: the stale copies at the protected site go (unregistered, unmounted, detached)
  // before the reverse resync overwrites their volumes; then as a planned migration, backwards.
  Failback: [
    "ClaimGroups", "UnregisterVms", "UnmountDatastores", "DetachDevices", "ReverseResync", "ShutdownProtectedVms", "VerifyProtectedOff", "ReturnRoom", "FinalUpdate",
    "RecordExports", "CommitFailover", "QuiesceReplication", "BreakReplication", "RecordRecoveryPoint", "PresentReplicas", "RescanHosts", "MountDatastores", "FindVms",
    "RegisterVms", "ConfigureNetworks", "CustomizeGuests", "PowerOnVms", "DisarmGuestScripts", "UpdateDns", "RecordFailover",
  ],
  // The recovery site's copies go the same way before the original direction is resynced over
  // them; then the replicas are exported as they were before the failover.
  Reprotect: [
    "ClaimGroups", "UnregisterVms", "UnmountDatastores", "DetachDevices", "ResyncForward", "ReleaseReverse", "RestoreExports", "DeleteExportPolicies", "ClearFailover",
    "ReleaseGroups",
  ],
};

/** The cleanup a Test runs on itself when it is cancelled or deleted (the CleanupTest steps but the claim). */
export const SELF_CLEANUP_STEPS = (STEPS.CleanupTest ?? []).filter((s) => s !== "ClaimGroups");

/** Everything the plan is computed from, read by the reconciler (groups live, the rest from caches). */
export interface PlanInput {
  readonly run: FailoverRun;
  readonly groups: readonly ProtectionGroup[];
  readonly relationship: (namespace: string, name: string) => ReplicationRelationship | undefined;
  readonly site: (name: string) => Site | undefined;
  /** The group's shadow records (one per protected VM), keyed by instance UUID. */
  readonly records: ReadonlyMap<string, ReadonlyMap<string, ShadowRecord>>;
  /** The recovery Site's inventory, when its watcher has synced. */
  readonly recoveryInventory: (site: string) => InventoryIndex | undefined;
}

export type PlanResult =
  | { readonly ok: true; readonly plan: RunPlan; readonly volumes: VolumeRecord[]; readonly vms: VmRecord[] }
  | { readonly ok: false; readonly reason: string; readonly message: string };

const refuse = (reason: string, message: string): PlanResult => ({ ok: false, reason, message });

/**
 * A group that is not Ready refuses the run, unless it only waits for the operator's own
 * inventories (just after a restart or a leader change): then the run waits for them.
 */
function notReady(name: string, ready: { reason?: string; message?: string } | undefined, none: string, why = ""): PlanResult {
  const message = `ProtectionGroup ${name} is not Ready (${ready?.reason ?? "no status yet"}: ${ready?.message ?? none})${why}`;
  return refuse(ready?.reason === "WaitingForInventory" ? "WaitingForInventory" : "GroupNotReady", message);
}

/** The ProtectionGroups a run names (protectionGroups, or every group protecting its `site`), sorted by name. */
export function selectGroups(run: FailoverRun, all: readonly ProtectionGroup[]): { groups: ProtectionGroup[]; missing: string[] } {
  if (run.spec.site !== undefined) {
    return { groups: all.filter((g) => g.spec.protectedSiteRef === run.spec.site).sort(byName), missing: [] };
  }
  const wanted = run.spec.protectionGroups ?? [];
  const groups = all.filter((g) => wanted.includes(g.metadata.name)).sort(byName);
  return { groups, missing: wanted.filter((n) => !groups.some((g) => g.metadata.name === n)) };
}

const byName = (a: { metadata: { name: string } }, b: { metadata: { name: string } }): number => a.metadata.name.localeCompare(b.metadata.name);

/**
 * Computes what a Test would do, and refuses before anything is touched when it cannot work:
 *  1. every group is Ready (aligned, shadowed, replicating) and none has its replica broken off
 *     or a copy of its datastores already mounted at the recovery site;
 *  2. the priority groups' dependencies form no cycle and name existing priority groups;
 *  3. the isolated test portgroup of every network exists at the recovery site (networkMode
 *     Isolated), and the test location (when named) exists there;
 *  4. volumes: one per relationship of each group; VMs: the groups' shadow records, each with its
 *     target folder and pool and its power-on wave.
 */
export function planTest(i: PlanInput): PlanResult {
  const { run } = i;
  if (i.groups.length === 0) return refuse("InvalidSpec", run.spec.site !== undefined ? `no ProtectionGroup protects Site ${run.spec.site}` : "no ProtectionGroup selected");
  const volumes: VolumeRecord[] = [];
  const vms: VmRecord[] = [];
  const waves = new Map<number, Set<string>>();
  const waveCounts = new Map<number, number>();
  for (const g of i.groups) {
    const name = g.metadata.name;
    const ns = g.metadata.namespace ?? "";
    const ready = findCondition(g.status?.conditions, ConditionType.Ready);
    if (ready?.status !== "True") return notReady(name, ready, "the controller has not reconciled it");
    const site = i.site(g.spec.recoverySiteRef);
    if (!site) return refuse("SiteNotFound", `recovery Site ${g.spec.recoverySiteRef} of ProtectionGroup ${name} does not exist`);
    const inv = i.recoveryInventory(site.metadata.name);
    if (!inv) return refuse("WaitingForInventory", `the inventory of Site ${site.metadata.name} is not synced yet (is the Site Ready?)`);

    const cycle = dependencyCycle(g.spec.powerOn?.priorityGroups ?? []);
    if (cycle) return refuse("InvalidSpec", `ProtectionGroup ${name}: ${cycle}`);

    if ((run.spec.networkMode ?? "Isolated") === "Isolated") {
      for (const pg of portgroupsOf(g)) {
        const test = testPortgroupOf(g, pg);
        if (!test) return refuse("InvalidSpec", `ProtectionGroup ${name} has no test portgroup for network ${pg} (set spec.testPortgroup or the mapping's testPortgroup)`);
        if (![...inv.networks.values()].some((n) => n.name === test)) {
          return refuse("InvalidSpec", `test portgroup "${test}" of ProtectionGroup ${name} does not exist at Site ${site.metadata.name}`);
        }
      }
    }
    const loc = run.spec.testLocation;
    if (loc?.folder !== undefined && !inv.folderByPath(trimPath(loc.folder))) return refuse("InvalidSpec", `test folder "${loc.folder}" does not exist at Site ${site.metadata.name}`);
    if (loc?.resourcePool !== undefined && !poolExists(inv, g, trimPath(loc.resourcePool))) {
      return refuse("InvalidSpec", `test resource pool "${loc.resourcePool}" does not exist in the recovery cluster at Site ${site.metadata.name}`);
    }

    for (const ref of g.spec.replicationRefs) {
      const rr = i.relationship(ns, ref);
      if (!rr) return refuse("RelationshipNotFound", `ReplicationRelationship ${ns}/${ref} of ProtectionGroup ${name} does not exist`);
      if (rr.status?.state === "broken_off") return refuse("ReplicaBrokenOff", `the replica ${rr.spec.destination.volume} of ProtectionGroup ${name} is broken off: a failover or another operation owns it`);
      const carried = g.status?.volumes?.find((x) => x.relationship === ref);
      const datastore = carried?.datastores[0];
      if (!carried || datastore === undefined) return refuse("GroupNotReady", `ProtectionGroup ${name} does not know the datastore of relationship ${ref} yet (is the volume mounted at the protected site?)`);
      if (carried.datastores.length > 1) {
        return refuse("InvalidSpec", `the volume of relationship ${ref} carries several datastores (${carried.datastores.join(", ")}); a run recovers one datastore per volume`);
      }
      const svm = rr.spec.destination.svm ?? site.spec.storage.controllers.find((c) => c.name === rr.spec.destination.controller)?.svm ?? site.spec.storage.controllers[0]?.svm ?? "";
      volumes.push({
        group: name,
        relationship: ref,
        ...(rr.spec.destination.controller !== undefined ? { controller: rr.spec.destination.controller } : {}),
        svm,
        volume: rr.spec.destination.volume,
        protocol: carried.protocol ?? "SAN",
        datastore,
      });
    }
    const records = [...(i.records.get(`${ns}/${name}`) ?? new Map<string, ShadowRecord>()).entries()].filter(([, r]) => !r.removedAt);
    if (g.spec.vmfsCopies === "Resignature" && records.some(([, r]) => r.placeholder)) {
      return refuse("InvalidSpec", `ProtectionGroup ${name} resignatures its VMFS copies but has pre-registered placeholders, which refer to the original signature: use vmfsCopies KeepSignature, or turn pre-registration off`);
    }
    // A Test rehearses the failover's re-IP only when asked to (spec.reIp: true).
    const reip = reipOn(run) ? groupReip(g, "failover", site) : undefined;
    if (typeof reip === "string") return refuse(INVALID_IP_CUSTOMIZATION, reip);
    const mounted = new Set([...inv.datastores.values()].filter((d) => d.accessible).map((d) => d.name));
    for (const [uuid, r] of records) {
      for (const ds of r.datastores) {
        if (mounted.has(ds)) return refuse("ReplicaPresented", `datastore ${ds} of ProtectionGroup ${name} is already mounted at Site ${site.metadata.name}: a test or failover of it is in progress`);
      }
      if (!r.vmx) continue;
      const addressing = vmReip(reip, r.name, r.guest);
      const pri = priorityOf(g, r.name);
      waves.set(pri.priority, (waves.get(pri.priority) ?? new Set()).add(pri.group ?? "(unprioritized)"));
      waveCounts.set(pri.priority, (waveCounts.get(pri.priority) ?? 0) + 1);
      vms.push({
        name: r.name,
        group: name,
        instanceUuid: uuid,
        vmx: r.vmx,
        folder: loc?.folder !== undefined ? trimPath(loc.folder) : r.shadowFolder,
        resourcePool: loc?.resourcePool !== undefined ? trimPath(loc.resourcePool) : trimPath(r.resourcePool),
        ...(pri.group !== undefined ? { priorityGroup: pri.group } : {}),
        wave: pri.priority,
        state: "Pending",
        ...(addressing ? { reip: addressing } : {}),
      });
    }
  }
  // Waves are the distinct priorities in order; a VM's wave is its priority's position.
  const priorities = [...waves.keys()].sort((a, b) => a - b);
  for (const v of vms) v.wave = priorities.indexOf(v.wave);
  vms.sort((a, b) => a.wave - b.wave || a.group.localeCompare(b.group) || a.name.localeCompare(b.name));
  return {
    ok: true,
    plan: {
      groups: i.groups.map((g) => g.metadata.name),
      vmCount: vms.length,
      steps: [...(STEPS.Test ?? [])],
      waves: priorities.map((p) => ({ priority: p, priorityGroups: [...(waves.get(p) ?? [])].sort(), vms: waveCounts.get(p) ?? 0 })),
      volumes: volumes.length,
      location: run.spec.testLocation?.folder !== undefined ? `folder ${run.spec.testLocation.folder}` : "the groups' shadow trees",
    },
    volumes,
    vms,
  };
}

/** Unprioritized VMs start after every priority group. */
const UNPRIORITIZED = 1_000;

/** The priority group a VM belongs to: the first (by priority, then name) whose patterns match its name. */
export function priorityOf(g: ProtectionGroup, vm: string): { priority: number; group?: string } {
  const groups = [...(g.spec.powerOn?.priorityGroups ?? [])].sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name));
  for (const p of groups) if (p.vms.some((pattern) => globToRegExp(pattern).test(vm))) return { priority: p.priority, group: p.name };
  return { priority: UNPRIORITIZED };
}

/** A message naming a dependency cycle or an unknown dependency, or undefined when the graph is a DAG. */
export function dependencyCycle(groups: readonly PriorityGroup[]): string | undefined {
  const byName = new Map(groups.map((g) => [g.name, g]));
  for (const g of groups) {
    for (const d of g.dependsOn ?? []) if (!byName.has(d)) return `priority group ${g.name} depends on unknown priority group ${d}`;
  }
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (n: string): string | undefined => {
    if (state.get(n) === "done") return undefined;
    if (state.get(n) === "visiting") return `priority groups depend on each other in a cycle: ${[...path.slice(path.indexOf(n)), n].join(" → ")}`;
    state.set(n, "visiting");
    path.push(n);
    for (const d of byName.get(n)?.dependsOn ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    path.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const g of groups) {
    const c = visit(g.name);
    if (c) return c;
  }
  return undefined;
}

/** The protected portgroups a group's VMs use, as far as the spec says (its network mappings). */
function portgroupsOf(g: ProtectionGroup): string[] {
  const mapped = (g.spec.networkMappings ?? []).map((m) => m.protectedPortgroup);
  return mapped.length ? mapped : ["*"];
}

function poolExists(inv: InventoryIndex, g: ProtectionGroup, path: string): boolean {
  const compute = inv.compute(g.spec.shadow.cluster);
  return [...inv.pools.values()].some((p) => p.owner?.value === compute?.ref.value && inv.poolPath(p.ref) === path);
}

export const trimPath = (p: string): string => p.replace(/^\/+|\/+$/g, "");

/**
 * Computes what a PlannedMigration or a Disaster would do, refusing before anything is touched:
 *  1. no group is held by another run or already failed over; a planned migration needs every
 *     group Ready (its protected site answering); a disaster only needs what the groups recorded
 *     while the protected site was there (datastores of the replicas, networks, shadow records);
 *  2. every protected network the VMs use maps to a recovery portgroup that exists at the
 *     recovery site (a missing portgroup would strand the VMs);
 *  3. volumes: each replica, mounted as itself; VMs: the shadow records, registered into their
 *     shadow folders and pools, with their power-on waves and where they lived at the protected site.
 */
export function planFailover(i: PlanInput): PlanResult {
  const { run } = i;
  const disaster = run.spec.type === "Disaster";
  if (i.groups.length === 0) return refuse("InvalidSpec", run.spec.site !== undefined ? `no ProtectionGroup protects Site ${run.spec.site}` : "no ProtectionGroup selected");
  const volumes: VolumeRecord[] = [];
  const vms: VmRecord[] = [];
  const waves = new Map<number, Set<string>>();
  const waveCounts = new Map<number, number>();
  for (const g of i.groups) {
    const name = g.metadata.name;
    const ns = g.metadata.namespace ?? "";
    if (g.status?.failover?.state === "FailedOver") return refuse("AlreadyFailedOver", `ProtectionGroup ${name} already runs at Site ${g.status.failover.runningAt} (FailoverRun ${g.status.failover.run}); fail it back first`);
    if (g.status?.failover && g.status.failover.state !== "FailingOver") {
      return refuse("NotProtected", `ProtectionGroup ${name} is ${g.status.failover.state} at Site ${g.status.failover.runningAt} (FailoverRun ${g.status.failover.run}); reprotect it first`);
    }
    const ready = findCondition(g.status?.conditions, ConditionType.Ready);
    const resuming = g.status?.failover?.state === "FailingOver";
    if (!disaster && !resuming && ready?.status !== "True") return notReady(name, ready, "", "; a planned migration needs both sites answering");
    const site = i.site(g.spec.recoverySiteRef);
    if (!site) return refuse("SiteNotFound", `recovery Site ${g.spec.recoverySiteRef} of ProtectionGroup ${name} does not exist`);
    const inv = i.recoveryInventory(site.metadata.name);
    if (!inv) return refuse("WaitingForInventory", `the inventory of Site ${site.metadata.name} is not synced yet (is the Site Ready?)`);
    const cycle = dependencyCycle(g.spec.powerOn?.priorityGroups ?? []);
    if (cycle) return refuse("InvalidSpec", `ProtectionGroup ${name}: ${cycle}`);
    if ((run.spec.networkMode ?? "Mapped") === "Mapped") {
      for (const net of g.status?.protectedNetworks ?? []) {
        const to = (g.spec.networkMappings ?? []).find((m) => m.protectedPortgroup === net.name)?.recoveryPortgroup;
        if (!to) return refuse("InvalidSpec", `ProtectionGroup ${name}'s VMs use portgroup ${net.name}, which its networkMappings do not map to a recovery portgroup`);
        if (![...inv.networks.values()].some((n) => n.name === to)) return refuse("InvalidSpec", `recovery portgroup "${to}" of ProtectionGroup ${name} does not exist at Site ${site.metadata.name}`);
      }
    }
    for (const ref of g.spec.replicationRefs) {
      const rr = i.relationship(ns, ref);
      if (!rr) return refuse("RelationshipNotFound", `ReplicationRelationship ${ns}/${ref} of ProtectionGroup ${name} does not exist`);
      const carried = g.status?.volumes?.find((x) => x.relationship === ref);
      const datastore = carried?.datastores[0];
      if (!carried || datastore === undefined) return refuse("GroupNotReady", `ProtectionGroup ${name} does not know the datastore of relationship ${ref} (was it ever Ready?)`);
      if (carried.datastores.length > 1) return refuse("InvalidSpec", `the volume of relationship ${ref} carries several datastores (${carried.datastores.join(", ")}); a run recovers one datastore per volume`);
      const svm = rr.spec.destination.svm ?? site.spec.storage.controllers.find((c) => c.name === rr.spec.destination.controller)?.svm ?? site.spec.storage.controllers[0]?.svm ?? "";
      volumes.push({
        group: name,
        relationship: ref,
        ...(rr.spec.destination.controller !== undefined ? { controller: rr.spec.destination.controller } : {}),
        svm,
        volume: rr.spec.destination.volume,
        copy: rr.spec.destination.volume,
        protocol: carried.protocol ?? "SAN",
        datastore,
      });
    }
    const reip = reipOn(run) ? groupReip(g, "failover", site) : undefined;
    if (typeof reip === "string") return refuse(INVALID_IP_CUSTOMIZATION, reip);
    for (const [uuid, r] of i.records.get(`${ns}/${name}`) ?? new Map<string, ShadowRecord>()) {
      if (r.removedAt || !r.vmx) continue;
      const addressing = vmReip(reip, r.name, r.guest);
      const pri = priorityOf(g, r.name);
      waves.set(pri.priority, (waves.get(pri.priority) ?? new Set()).add(pri.group ?? "(unprioritized)"));
      waveCounts.set(pri.priority, (waveCounts.get(pri.priority) ?? 0) + 1);
      vms.push({
        name: r.name,
        group: name,
        instanceUuid: uuid,
        vmx: r.vmx,
        folder: r.shadowFolder,
        resourcePool: trimPath(r.resourcePool),
        ...(pri.group !== undefined ? { priorityGroup: pri.group } : {}),
        wave: pri.priority,
        state: "Pending",
        protectedFolder: r.protectedFolder,
        ...(r.protectedPool !== undefined ? { protectedPool: r.protectedPool } : {}),
        ...(addressing ? { reip: addressing } : {}),
      });
    }
  }
  for (const g of i.groups) {
    const aux = auxiliaryVms(g, i.recoveryInventory(g.spec.recoverySiteRef));
    if (!Array.isArray(aux)) return aux;
    for (const v of aux) {
      waves.set(v.wave, (waves.get(v.wave) ?? new Set()).add("(auxiliary)"));
      waveCounts.set(v.wave, (waveCounts.get(v.wave) ?? 0) + 1);
      vms.push(v);
    }
  }
  const priorities = [...waves.keys()].sort((a, b) => a - b);
  for (const v of vms) v.wave = priorities.indexOf(v.wave);
  vms.sort((a, b) => a.wave - b.wave || a.group.localeCompare(b.group) || a.name.localeCompare(b.name));
  return {
    ok: true,
    plan: {
      groups: i.groups.map((g) => g.metadata.name),
      vmCount: vms.length,
      steps: [...(STEPS[run.spec.type] ?? [])],
      waves: priorities.map((p) => ({ priority: p, priorityGroups: [...(waves.get(p) ?? [])].sort(), vms: waveCounts.get(p) ?? 0 })),
      volumes: volumes.length,
      location: "the groups' shadow trees at the recovery site",
    },
    volumes,
    vms,
  };
}

/**
 * The recovery site's own VMs a group starts with it (spec.auxiliaryVms; VMbook ch. 5: directory
 * servers, desktops): each found by name at the recovery site, exactly once, and powered on in its
 * priority's wave (no priority: after the group's prioritized VMs). They are not registered,
 * reconfigured or re-addressed: they already live there.
 */
export function auxiliaryVms(g: ProtectionGroup, inv: InventoryIndex | undefined): VmRecord[] | PlanResult {
  const out: VmRecord[] = [];
  for (const a of g.spec.auxiliaryVms ?? []) {
    const found = inv ? [...inv.vms].filter((v) => v.name === a.name) : [];
    if (found.length !== 1) {
      return refuse("InvalidSpec", `auxiliary VM ${a.name} of ProtectionGroup ${g.metadata.name} ${found.length ? `is not unique at Site ${g.spec.recoverySiteRef} (${found.length} VMs have that name)` : `does not exist at Site ${g.spec.recoverySiteRef}`}`);
    }
    const vm = found[0]!;
    out.push({
      name: a.name,
      group: g.metadata.name,
      instanceUuid: vm.instanceUuid ?? "",
      vmx: vm.vmPathName ?? "",
      folder: "",
      resourcePool: "",
      wave: a.priority ?? UNPRIORITIZED,
      auxiliary: true,
      state: "Configured",
      registeredAs: vm.ref.value,
    });
  }
  return out;
}
