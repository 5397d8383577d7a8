/**
 * The capacity pre-flight (docs/capacity.md), as pure arithmetic: what a run brings to a recovery
 * cluster against what the cluster offers, and what the Site's capacity policy may reclaim to make
 * room. Four measures, each against its own ceiling:
 *  - configured CPU (vCPUs x the MHz of one core) against effectiveCpu x the CPU overcommit;
 *  - configured memory (MB) against effectiveMemory x the memory overcommit;
 *  - CPU and memory reservations against effectiveCpu and effectiveMemory (what admission control
 *    would refuse at power-on).
 * Suspending a VM frees all four; throttling a pool (a limit on its CPU and memory) frees configured
 * size down to the limit, never below the reservations of the VMs in it.
 */

/** A VM's configured size and reservations, as vCenter reports them (summary.config). */
export interface VmSize {
  readonly cpus: number;
  readonly memoryMB: number;
  readonly cpuReservationMhz?: number;
  readonly memoryReservationMB?: number;
}

/** A VM's size from its inventory properties; undefined while vCenter has not reported it. */
export function vmSize(vm: { cpus?: number; memoryMB?: number; cpuReservationMhz?: number; memoryReservationMB?: number }): VmSize | undefined {
  if (vm.cpus === undefined || vm.memoryMB === undefined) return undefined;
  return {
    cpus: vm.cpus,
    memoryMB: vm.memoryMB,
    ...(vm.cpuReservationMhz ? { cpuReservationMhz: vm.cpuReservationMhz } : {}),
    ...(vm.memoryReservationMB ? { memoryReservationMB: vm.memoryReservationMB } : {}),
  };
}

export interface Measures {
  cpuMhz: number;
  memoryMB: number;
  cpuReservedMhz: number;
  memoryReservedMB: number;
}

const KEYS = ["cpuMhz", "memoryMB", "cpuReservedMhz", "memoryReservedMB"] as const;
type Key = (typeof KEYS)[number];

export const zero = (): Measures => ({ cpuMhz: 0, memoryMB: 0, cpuReservedMhz: 0, memoryReservedMB: 0 });

export function measure(s: VmSize, coreMhz: number): Measures {
  return { cpuMhz: s.cpus * coreMhz, memoryMB: s.memoryMB, cpuReservedMhz: s.cpuReservationMhz ?? 0, memoryReservedMB: s.memoryReservationMB ?? 0 };
}

function add(a: Measures, b: Measures): Measures {
  return { cpuMhz: a.cpuMhz + b.cpuMhz, memoryMB: a.memoryMB + b.memoryMB, cpuReservedMhz: a.cpuReservedMhz + b.cpuReservedMhz, memoryReservedMB: a.memoryReservedMB + b.memoryReservedMB };
}

export const sum = (xs: readonly Measures[]): Measures => xs.reduce(add, zero());

export interface Overcommit {
  /** Configured vCPU MHz per physical MHz the cluster may carry (vSphere sizing guides use up to 4). */
  readonly cpu: number;
  /** Configured memory per physical MB (1: no overcommit). */
  readonly memory: number;
}

export const DEFAULT_OVERCOMMIT: Overcommit = { cpu: 4, memory: 1 };

/** One recovery cluster as its summary reports it. */
export interface ClusterOffer {
  readonly site: string;
  readonly cluster: string;
  readonly effectiveCpuMhz: number;
  readonly effectiveMemoryMB: number;
  /** The MHz of one core (totalCpu / numCpuCores): what a vCPU is counted as. */
  readonly coreMhz: number;
  readonly overcommit: Overcommit;
}

/** The ceiling of each measure. */
export function ceilings(c: ClusterOffer): Measures {
  return {
    cpuMhz: Math.floor(c.effectiveCpuMhz * c.overcommit.cpu),
    memoryMB: Math.floor(c.effectiveMemoryMB * c.overcommit.memory),
    cpuReservedMhz: c.effectiveCpuMhz,
    memoryReservedMB: c.effectiveMemoryMB,
  };
}

/** A running VM of the cluster that a capacity policy entry names (or one in a pool it names). */
export interface RunningVm {
  readonly name: string;
  readonly ref: string;
  readonly use: Measures;
}

/** Something the Site's policy lets a run reclaim, in the policy's order. */
export type Candidate =
  | { readonly action: "Suspend"; readonly vm: RunningVm }
  | { readonly action: "Throttle"; readonly pool: string; readonly ref: string; readonly vms: readonly RunningVm[] };

/** What the run would take. */
export type Reclaim =
  | { readonly action: "Suspend"; readonly name: string; readonly ref: string; readonly frees: Measures }
  | { readonly action: "Throttle"; readonly name: string; readonly ref: string; readonly limits: { cpuMhz: number; memoryMB: number }; readonly frees: Measures };

export interface ClusterDemand {
  readonly offer: ClusterOffer;
  /** What the run brings (VMs of known size). */
  readonly incoming: Measures;
  readonly incomingVms: number;
  /** VMs the run brings whose size is not known (not counted). */
  readonly unknownVms: number;
  /** What the cluster's running VMs (not the run's) use. */
  readonly inUse: Measures;
  readonly runningVms: number;
}

/** How far each measure is over its ceiling (≤ 0: it fits). */
export function shortfall(d: ClusterDemand, freed: Measures = zero()): Measures {
  const c = ceilings(d.offer);
  const out = zero();
  for (const k of KEYS) out[k] = d.inUse[k] - freed[k] + d.incoming[k] - c[k];
  return out;
}

const short = (s: Measures): boolean => KEYS.some((k) => s[k] > 0);

/**
 * The reclaims, in the policy's order, that make the demand fit: each candidate is taken only while
 * something is still short, and a throttle is set no lower than needed. undefined when even all of
 * them do not make it fit.
 */
export function makeRoom(d: ClusterDemand, candidates: readonly Candidate[]): Reclaim[] | undefined {
  let freed = zero();
  const out: Reclaim[] = [];
  for (const c of candidates) {
    const s = shortfall(d, freed);
    if (!short(s)) break;
    if (c.action === "Suspend") {
      const helps = KEYS.some((k) => s[k] > 0 && c.vm.use[k] > 0);
      if (!helps) continue;
      out.push({ action: "Suspend", name: c.vm.name, ref: c.vm.ref, frees: c.vm.use });
      freed = add(freed, c.vm.use);
      continue;
    }
    const use = sum(c.vms.map((v) => v.use));
    // A pool's limit cannot go below what its VMs reserve.
    const cut = (k: "cpuMhz" | "memoryMB", reserved: number): { limit: number; frees: number } => {
      if (s[k] <= 0) return { limit: -1, frees: 0 };
      const limit = Math.max(reserved, use[k] - s[k]);
      return limit >= use[k] ? { limit: -1, frees: 0 } : { limit, frees: use[k] - limit };
    };
    const cpu = cut("cpuMhz", use.cpuReservedMhz);
    const mem = cut("memoryMB", use.memoryReservedMB);
    if (cpu.frees === 0 && mem.frees === 0) continue;
    const frees = { ...zero(), cpuMhz: cpu.frees, memoryMB: mem.frees };
    out.push({ action: "Throttle", name: c.pool, ref: c.ref, limits: { cpuMhz: cpu.limit, memoryMB: mem.limit }, frees });
    freed = add(freed, frees);
  }
  return short(shortfall(d, freed)) ? undefined : out;
}

const n = (x: number): string => Math.round(x).toLocaleString("en-US");

/** What is short, with the numbers: "memory: 57,344 MB needed by 14 VMs + 8,192 MB in use by 2 VMs > 49,152 MB offered (16,384 MB short)". */
export function describeShortfall(d: ClusterDemand, freed: Measures = zero()): string {
  const s = shortfall(d, freed);
  const c = ceilings(d.offer);
  const parts: string[] = [];
  const line = (k: Key, what: string, unit: string, offered: string): void => {
    if (s[k] <= 0) return;
    const reclaimed = freed[k] > 0 ? ` - ${n(freed[k])} ${unit} reclaimable` : "";
    parts.push(`${what}: ${n(d.incoming[k])} ${unit} needed by ${d.incomingVms} VM(s) + ${n(d.inUse[k])} ${unit} in use by ${d.runningVms} VM(s)${reclaimed} > ${n(c[k])} ${unit} ${offered} (${n(s[k])} ${unit} short)`);
  };
  line("cpuMhz", "CPU", "MHz", `offered (effective ${n(d.offer.effectiveCpuMhz)} MHz x ${d.offer.overcommit.cpu} overcommit)`);
  line("memoryMB", "memory", "MB", `offered (effective ${n(d.offer.effectiveMemoryMB)} MB x ${d.offer.overcommit.memory} overcommit)`);
  line("cpuReservedMhz", "CPU reservations", "MHz", "reservable");
  line("memoryReservedMB", "memory reservations", "MB", "reservable");
  return parts.join("; ");
}
