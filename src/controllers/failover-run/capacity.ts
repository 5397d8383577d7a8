import type { CapacityAction, CapacityCheck, CapacityMeasure, CapacityReport, FailoverRun, ReclaimRecord, VmRecord } from "../../api/v1alpha1/failover-run.js";
import type { ProtectionGroup } from "../../api/v1alpha1/protection-group.js";
import type { Site } from "../../api/v1alpha1/site.js";
import { DEFAULT_OVERCOMMIT, ceilings, describeShortfall, makeRoom, measure, shortfall, sum, vmSize } from "../../capacity/model.js";
import type { Candidate, ClusterDemand, ClusterOffer, Measures, Reclaim, RunningVm } from "../../capacity/model.js";
import type { InventoryIndex } from "../../sites/inventory-index.js";
import type { ComputeResourceInfo } from "../../vsphere/types.js";
import type { ShadowRecord } from "../protection-group/records.js";

/** Why a run is refused when its recovery cluster cannot hold it. */
export const INSUFFICIENT_CAPACITY = "InsufficientCapacity";

export interface CapacityInput {
  readonly run: FailoverRun;
  readonly groups: readonly ProtectionGroup[];
  readonly vms: readonly VmRecord[];
  readonly records: ReadonlyMap<string, ReadonlyMap<string, ShadowRecord>>;
  readonly site: (name: string) => Site | undefined;
  readonly inventory: (site: string) => InventoryIndex | undefined;
}

export type CapacityResult = { readonly ok: true; readonly report: CapacityReport } | { readonly ok: false; readonly message: string };

/** One recovery cluster the run fills: what it offers, what runs there, what comes. */
interface Target {
  readonly site: Site;
  readonly inv: InventoryIndex;
  readonly compute: ComputeResourceInfo;
  readonly offer: ClusterOffer;
  readonly incoming: Measures[];
  unknown: number;
  readonly uuids: Set<string>;
}

const ALLOWS: Readonly<Record<CapacityAction, readonly ("Throttle" | "Suspend")[]>> = { None: [], Ignore: [], Throttle: ["Throttle"], Suspend: ["Throttle", "Suspend"] };

function offerOf(site: Site, c: ComputeResourceInfo): ClusterOffer | undefined {
  if (c.effectiveCpuMhz === undefined || c.effectiveMemoryMB === undefined) return undefined;
  const cores = c.cpuCores ?? 0;
  const coreMhz = cores > 0 && c.totalCpuMhz ? c.totalCpuMhz / cores : 0;
  const o = site.spec.capacityPolicy?.overcommit;
  return {
    site: site.metadata.name,
    cluster: c.name,
    effectiveCpuMhz: c.effectiveCpuMhz,
    effectiveMemoryMB: c.effectiveMemoryMB,
    coreMhz,
    overcommit: { cpu: o?.cpu ?? DEFAULT_OVERCOMMIT.cpu, memory: o?.memory ?? DEFAULT_OVERCOMMIT.memory },
  };
}

/** The recovery cluster of each group, and what each of the run's VMs brings to it. */
function targets(i: CapacityInput): Map<string, Target> | string {
  const out = new Map<string, Target>();
  const byGroup = new Map<string, Target>();
  for (const g of i.groups) {
    const site = i.site(g.spec.recoverySiteRef);
    const inv = site && i.inventory(site.metadata.name);
    const compute = inv?.compute(g.spec.shadow.cluster);
    if (!site || !inv || !compute) continue; // the plan has refused already
    const key = `${site.metadata.name}/${compute.ref.value}`;
    let t = out.get(key);
    if (!t) {
      const offer = offerOf(site, compute);
      if (!offer) return `cluster ${compute.name} at Site ${site.metadata.name} reports no capacity (summary.effectiveCpu/effectiveMemory)`;
      t = { site, inv, compute, offer, incoming: [], unknown: 0, uuids: new Set() };
      out.set(key, t);
    }
    byGroup.set(g.metadata.name, t);
  }
  for (const v of i.vms) {
    const t = byGroup.get(v.group);
    if (!t) continue;
    let size;
    if (v.auxiliary) {
      const vm = v.registeredAs ? t.inv.vm(v.registeredAs) : undefined;
      if (vm?.powerState === "poweredOn") continue; // already counted as running
      size = vm && vmSize(vm);
    } else {
      const g = i.groups.find((x) => x.metadata.name === v.group);
      size = i.records.get(`${g?.metadata.namespace ?? ""}/${v.group}`)?.get(v.instanceUuid)?.size;
      t.uuids.add(v.instanceUuid);
    }
    if (size) t.incoming.push(measure(size, t.offer.coreMhz));
    else t.unknown++;
  }
  return out;
}

/** The powered-on VMs of a cluster that are not the run's, with what they use. */
function running(t: Target): (RunningVm & { pool: string | undefined })[] {
  const hosts = new Set(t.compute.hosts.map((h) => h.value));
  const out: (RunningVm & { pool: string | undefined })[] = [];
  for (const vm of t.inv.vms) {
    if (vm.powerState !== "poweredOn" || !vm.host || !hosts.has(vm.host.value) || t.uuids.has(vm.instanceUuid ?? "")) continue;
    const size = vmSize(vm);
    if (size) out.push({ name: vm.name, ref: vm.ref.value, use: measure(size, t.offer.coreMhz), pool: t.inv.poolPath(vm.resourcePool) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The Site policy's entries this cluster has, in order, that the run's action allows (all of them for `allowed` undefined). */
function candidates(t: Target, vms: ReturnType<typeof running>, allowed: readonly string[] | undefined): Candidate[] {
  const out: Candidate[] = [];
  const inPool = (path: string) => vms.filter((v) => v.pool !== undefined && (v.pool === path || v.pool.startsWith(`${path}/`)));
  for (const e of t.site.spec.capacityPolicy?.reclaim ?? []) {
    if (allowed && !allowed.includes(e.action)) continue;
    const path = e.resourcePool?.replace(/^\/+|\/+$/g, "");
    if (e.action === "Throttle" && path !== undefined) {
      const pool = [...t.inv.pools.values()].find((p) => p.owner?.value === t.compute.ref.value && t.inv.poolPath(p.ref) === path);
      if (pool) out.push({ action: "Throttle", pool: path, ref: pool.ref.value, vms: inPool(path) });
    } else if (e.action === "Suspend") {
      // A pool's VMs by name; named VMs in the policy's order.
      const named = path !== undefined ? inPool(path) : (e.vms ?? []).flatMap((n) => vms.filter((v) => v.name === n));
      for (const vm of named) out.push({ action: "Suspend", vm });
    }
  }
  return out;
}

function measureOf(d: ClusterDemand, freed: Measures, cpu: boolean): CapacityMeasure {
  const c = ceilings(d.offer);
  const [need, inUse, offered, reserve, reserved, reservable, reclaimed] = cpu
    ? [d.incoming.cpuMhz, d.inUse.cpuMhz, c.cpuMhz, d.incoming.cpuReservedMhz, d.inUse.cpuReservedMhz, c.cpuReservedMhz, freed.cpuMhz]
    : [d.incoming.memoryMB, d.inUse.memoryMB, c.memoryMB, d.incoming.memoryReservedMB, d.inUse.memoryReservedMB, c.memoryReservedMB, freed.memoryMB];
  return { need, inUse, offered, reserve, reserved, reservable, ...(reclaimed > 0 ? { reclaimed } : {}) };
}

function describeReclaims(rs: readonly Reclaim[]): string {
  const suspended = rs.filter((r) => r.action === "Suspend").map((r) => r.name);
  const throttled = rs.filter((r) => r.action === "Throttle").map((r) => r.name);
  return [suspended.length ? `suspending ${suspended.join(", ")}` : "", throttled.length ? `throttling pool ${throttled.join(", ")}` : ""].filter(Boolean).join(" and ");
}

/**
 * The capacity pre-flight of a run that brings VMs up at its recovery site (docs/capacity.md):
 * each recovery cluster's four measures against its ceilings, counting the VMs already running
 * there; when short, the reclaims the Site's capacity policy and the run's `spec.capacity.action`
 * allow, in the policy's order and no more than needed; otherwise a refusal with the numbers, and
 * what a stronger action would reclaim. Read from caches only; nothing is changed here.
 */
export function planCapacity(i: CapacityInput): CapacityResult {
  const action = i.run.spec.capacity?.action ?? "None";
  if (action === "Ignore") return { ok: true, report: { checked: false, message: "not checked (spec.capacity.action Ignore)", clusters: [], reclaim: [] } };
  const ts = targets(i);
  if (typeof ts === "string") return { ok: true, report: { checked: false, message: `not checked: ${ts}`, clusters: [], reclaim: [] } };
  const clusters: CapacityCheck[] = [];
  const reclaim: ReclaimRecord[] = [];
  const notes: string[] = [];
  for (const t of ts.values()) {
    const vms = running(t);
    const d: ClusterDemand = { offer: t.offer, incoming: sum(t.incoming), incomingVms: t.incoming.length, unknownVms: t.unknown, inUse: sum(vms.map((v) => v.use)), runningVms: vms.length };
    const where = `Site ${t.site.metadata.name} cluster ${t.compute.name}`;
    const taken = makeRoom(d, candidates(t, vms, ALLOWS[action]));
    if (!taken) {
      const could = makeRoom(d, candidates(t, vms, undefined));
      const hint = could?.length
        ? ` The Site's capacityPolicy could make room by ${describeReclaims(could)}: set spec.capacity.action to ${could.some((r) => r.action === "Suspend") ? "Suspend" : "Throttle"}.`
        : t.site.spec.capacityPolicy?.reclaim.length
          ? " Even everything the Site's capacityPolicy names would not make room."
          : " The Site has no capacityPolicy naming what may be throttled or suspended.";
      return { ok: false, message: `${where} cannot hold the run: ${describeShortfall(d)}.${hint} (spec.capacity.action Ignore skips this check.)` };
    }
    const freed = sum(taken.map((r) => r.frees));
    clusters.push({
      site: t.site.metadata.name,
      cluster: t.compute.name,
      vms: d.incomingVms + d.unknownVms,
      ...(d.unknownVms ? { unknownVms: d.unknownVms } : {}),
      runningVms: d.runningVms,
      cpu: measureOf(d, freed, true),
      memory: measureOf(d, freed, false),
    });
    for (const r of taken) {
      reclaim.push({ site: t.site.metadata.name, action: r.action, name: r.name, ref: r.ref, ...(r.action === "Throttle" ? { limits: r.limits } : {}), state: "Planned" });
    }
    const headroom = shortfall(d, freed);
    notes.push(
      `${where}: fits${taken.length ? ` after ${describeReclaims(taken)}` : ""} (memory ${Math.round(-headroom.memoryMB).toLocaleString("en-US")} MB and CPU ${Math.round(-headroom.cpuMhz).toLocaleString("en-US")} MHz to spare${d.unknownVms ? `; ${d.unknownVms} VM(s) of unknown size not counted` : ""})`,
    );
  }
  return { ok: true, report: { checked: true, message: notes.join("; ").slice(0, 4096), clusters, reclaim } };
}
