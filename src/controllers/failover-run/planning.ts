import { ConditionType, FailoverRunType, ProtectionGroupType, findCondition } from "../../api/v1alpha1/index.js";
import type { CapacityReport, FailoverRun, ProtectionGroup, ReclaimRecord, ReplicationRelationship, Site, VmRecord, VolumeRecord } from "../../api/v1alpha1/index.js";
import type { KubeStore } from "../../kube/store.js";
import type { InventoryIndex } from "../../sites/inventory-index.js";
import { ConfigMapType } from "../protection-group/records.js";
import type { ShadowRecord } from "../protection-group/records.js";
import { STEPS, planFailover, planTest, selectGroups } from "./plan.js";
import type { RunStore } from "./store.js";
import { planFailback, planReprotect } from "./plan-return.js";
import { mayTakeOver, resumesHolder } from "./steps/claim.js";
import { INSUFFICIENT_CAPACITY, planCapacity } from "./capacity.js";

/** Where a plan's inputs come from (groups and runs live from the API server; the rest from caches). */
export interface PlanSources {
  readonly kube: KubeStore;
  readonly group: (namespace: string, name: string) => ProtectionGroup | undefined;
  readonly relationship: (namespace: string, name: string) => ReplicationRelationship | undefined;
  readonly site: (name: string) => Site | undefined;
  readonly records: (pg: ProtectionGroup, signal: AbortSignal) => Promise<ReadonlyMap<string, ShadowRecord>>;
  readonly inventory: (site: string) => InventoryIndex | undefined;
}

export type Planning =
  | { readonly kind: "Planned" }
  | { readonly kind: "Refused"; readonly reason: string; readonly message: string }
  | { readonly kind: "Wait"; readonly reason: string; readonly message: string; readonly retryAfterMs: number };

const refused = (reason: string, message: string): Planning => ({ kind: "Refused", reason, message });

/**
 * Computes the run's plan and writes it into the store (status.plan, pending step records, the
 * volume and VM records), or says why not. Nothing outside Kubernetes is read but caches and the
 * groups' shadow records, and nothing anywhere is changed.
 */
export async function planRun(store: RunStore, src: PlanSources, signal: AbortSignal): Promise<Planning> {
  const run = store.run;
  const ns = run.metadata.namespace ?? "";
  const all = (await src.kube.list(ProtectionGroupType, { namespace: ns }, signal)).items;
  if (run.spec.type === "CleanupTest") return planCleanup(store, src, all, signal);
  const { groups, missing } = selectGroups(run, all);
  if (missing.length) return refused("GroupNotFound", `no ProtectionGroup ${missing.join(", ")} in namespace ${ns}`);
  // The lock first: a group another run holds reports itself not Ready, and that is not the news.
  // A run of the sequence takes its predecessor's groups over (a Failback from the failover).
  for (const g of groups) {
    const h = g.status?.activeRun;
    if (!h || h.uid === run.metadata.uid || mayTakeOver(run, undefined, h) || (await resumesHolder(src.kube, run, g, signal))) continue;
    // A Reprotect of a group its failover still holds: the plan says what confirming would discard.
    if (run.spec.type === "Reprotect" && (h.type === "PlannedMigration" || h.type === "Disaster")) continue;
    return refused("GroupInUse", `ProtectionGroup ${g.metadata.name} is held by FailoverRun ${h.name} (${h.type} since ${h.since})`);
  }
  const records = new Map<string, ReadonlyMap<string, ShadowRecord>>();
  for (const g of groups) records.set(`${ns}/${g.metadata.name}`, await src.records(g, signal));
  const input = { run, groups, records, relationship: src.relationship, site: src.site, recoveryInventory: src.inventory };
  const result = run.spec.type === "Test" ? planTest(input) : run.spec.type === "Failback" ? planFailback(input) : run.spec.type === "Reprotect" ? planReprotect(input) : planFailover(input);
  if (!result.ok) {
    if (result.reason === "WaitingForInventory") return { kind: "Wait", reason: result.reason, message: result.message, retryAfterMs: 5_000 };
    return refused(result.reason, result.message);
  }
  // Runs that bring VMs up at the recovery site check it can hold them; a failback brings them home.
  let capacity: CapacityReport | undefined;
  if (run.spec.type === "Test" || run.spec.type === "PlannedMigration" || run.spec.type === "Disaster") {
    const c = planCapacity({ run, groups, vms: result.vms, records, site: src.site, inventory: src.inventory });
    if (!c.ok) return refused(INSUFFICIENT_CAPACITY, c.message);
    capacity = c.report;
  } else if (run.spec.type === "Failback") {
    capacity = await givenBack(src, groups, signal);
  }
  write(store, result.plan, result.volumes, result.vms);
  if (capacity) store.status.capacity = capacity;
  return { kind: "Planned" };
}

/**
 * What a Failback gives back: the reclaims of the failovers it ends (docs/capacity.md), once none
 * of that failover's groups runs at the recovery site any more. A failover of several groups that
 * fails back one group at a time keeps its room until the last one leaves.
 */
async function givenBack(src: PlanSources, groups: readonly ProtectionGroup[], signal: AbortSignal): Promise<CapacityReport | undefined> {
  const leaving = new Set(groups.map((g) => g.metadata.name));
  const reclaim: ReclaimRecord[] = [];
  const kept: string[] = [];
  for (const name of new Set(groups.flatMap((g) => (g.status?.failover ? [g.status.failover.run] : [])))) {
    const ns = groups[0]?.metadata.namespace;
    const failover = await src.kube.get(FailoverRunType, { namespace: ns, name }, signal);
    const done = (failover?.status?.capacity?.reclaim ?? []).filter((r) => r.state === "Done");
    if (!failover || done.length === 0) continue;
    const staying = (failover.status?.plan?.groups ?? []).filter((g) => {
      if (leaving.has(g)) return false;
      const f = src.group(ns ?? "", g)?.status?.failover;
      return f?.run === name && (f.state === "FailedOver" || f.state === "FailingOver");
    });
    if (staying.length) {
      kept.push(`${done.map((r) => r.name).join(", ")} (reclaimed by ${name}) stay reclaimed while ${staying.join(", ")} run(s) at the recovery site`);
      continue;
    }
    reclaim.push(...done.map((r) => ({ ...r, op: undefined, run: name })));
  }
  if (reclaim.length === 0 && kept.length === 0) return undefined;
  const message = [reclaim.length ? `gives back ${reclaim.map((r) => r.name).join(", ")}` : "", ...kept].filter(Boolean).join("; ");
  return { checked: false, message: message.slice(0, 4096), clusters: [], reclaim };
}

function write(store: RunStore, plan: NonNullable<RunStore["status"]["plan"]>, volumes: VolumeRecord[], vms: VmRecord[]): void {
  store.status.plan = plan;
  store.status.groupsSummary = plan.groups.join(",");
  store.status.steps = plan.steps.map((name) => ({ name, state: "Pending", attempts: 0 }));
  store.status.volumes = volumes;
  store.setVms(vms);
  store.status.progress = `0/${vms.length}`;
}

/** The Test a CleanupTest cleans: the one it names, or the newest uncleaned Test of its groups. */
async function findTest(run: FailoverRun, src: PlanSources, all: readonly ProtectionGroup[], signal: AbortSignal): Promise<FailoverRun | undefined> {
  const ns = run.metadata.namespace;
  if (run.spec.testRun) return src.kube.get(FailoverRunType, { namespace: ns, name: run.spec.testRun }, signal);
  const { groups } = selectGroups(run, all);
  const names = new Set(groups.map((g) => g.metadata.name));
  const tests = (await src.kube.list(FailoverRunType, { namespace: ns }, signal)).items.filter(
    (r) => r.spec.type === "Test" && !r.status?.cleanedUpBy && r.status?.plan?.groups.some((g) => names.has(g)),
  );
  return tests.sort((a, b) => (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? ""))[0];
}

async function planCleanup(store: RunStore, src: PlanSources, all: readonly ProtectionGroup[], signal: AbortSignal): Promise<Planning> {
  const run = store.run;
  const test = await findTest(run, src, all, signal);
  if (!test) return refused("TestNotFound", run.spec.testRun ? `Test run ${run.spec.testRun} does not exist` : "no Test run of these groups is left to clean up");
  if (test.spec.type !== "Test") return refused("InvalidSpec", `${test.metadata.name} is a ${test.spec.type} run, not a Test`);
  if (test.status?.cleanedUpBy) return refused("AlreadyCleanedUp", `Test ${test.metadata.name} was already cleaned up by ${test.status.cleanedUpBy}`);
  if (!test.status?.plan || test.spec.dryRun) return refused("NothingToClean", `Test ${test.metadata.name} never started (no plan): there is nothing to clean up`);
  if (findCondition(test.status.conditions, ConditionType.Succeeded)?.status === "Unknown" && !test.status.cleanupSteps) {
    return { kind: "Wait", reason: "TestRunning", message: `Test ${test.metadata.name} is still running; wait for it, or cancel it (annotation dr.vmdr.io/cancel=true), which cleans up by itself`, retryAfterMs: 5_000 };
  }
  if (test.status.cleanupSteps) return refused("AlreadyCleaningUp", `Test ${test.metadata.name} is cleaning up after itself`);
  // The Test's records, as it left them: what it registered, which placeholders it reused.
  const strip = <T extends { op?: unknown }>(x: T): T => ({ ...x, op: undefined });
  const testVms: VmRecord[] = [...(test.status.vms ?? [])];
  if (test.status.vmShards?.length) {
    for (const s of test.status.vmShards) {
      const cm = await src.kube.get(ConfigMapType, { namespace: test.metadata.namespace, name: s.name }, signal);
      testVms.push(...(JSON.parse(cm?.data?.vms ?? "[]") as VmRecord[]));
    }
  }
  store.status.testRun = test.metadata.name;
  write(
    store,
    { groups: [...test.status.plan.groups], vmCount: testVms.length, steps: [...(STEPS.CleanupTest ?? [])], waves: [], volumes: test.status.volumes?.length ?? 0, location: test.status.plan.location },
    (test.status.volumes ?? []).map(strip),
    testVms.map(strip),
  );
  // What the Test reclaimed to make room is given back.
  const reclaimed = (test.status.capacity?.reclaim ?? []).filter((r) => r.state === "Done");
  if (reclaimed.length) store.status.capacity = { checked: false, message: `gives back ${reclaimed.map((r) => r.name).join(", ")}`, clusters: [], reclaim: reclaimed.map((r) => ({ ...strip(r), run: test.metadata.name })) };
  // The cleanup works under the Test's identity: clones and policies are named from its uid.
  store.status.cleanup = { removed: [] };
  store.status.testRunUid = test.metadata.uid;
  return { kind: "Planned" };
}
