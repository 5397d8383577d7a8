import type { FailoverRun, VmRecord } from "../../api/v1alpha1/index.js";

/** One bar on the timeline: seconds from the start of the run. */
export interface Bar {
  readonly from: number;
  readonly to: number;
  readonly kind: string;
  readonly title: string;
}

export interface TimelineRow {
  readonly label: string;
  readonly bars: readonly Bar[];
  /** A failed or skipped VM or step: drawn with a mark at its row's end. */
  readonly problem?: string;
}

export interface TimelineWave {
  readonly index: number;
  readonly label: string;
  /** When its power-ons could start: the later of PowerOnVms' start and the last earlier-wave VM ready. */
  readonly start?: number;
  readonly rows: readonly TimelineRow[];
}

/** A run laid out on one time axis: its steps, then its VMs by power-on wave. */
export interface Timeline {
  /** The axis: 0 is the run's start; `end` its completion, or the last time it recorded. */
  readonly end: number;
  readonly rto?: number;
  readonly steps: readonly TimelineRow[];
  readonly waves: readonly TimelineWave[];
  /** More VMs than a page shows one by one: each wave is one row (first power-on to last ready). */
  readonly summarized: boolean;
}

/** Up to this many VMs get a row each. */
export const MAX_VM_ROWS = 300;

/** The VM phases, in order, with the time each one ends. */
const PHASES = [
  { kind: "register", at: (v: VmRecord) => v.registeredAt, title: "registered" },
  { kind: "configure", at: (v: VmRecord) => v.configuredAt, title: "devices configured" },
  { kind: "power-on", at: (v: VmRecord) => v.poweredOnAt, title: "powered on" },
  { kind: "boot", at: (v: VmRecord) => v.readyAt, title: "ready" },
] as const;

const STEP_OF: Readonly<Record<string, readonly string[]>> = {
  register: ["RegisterVms"],
  configure: ["IsolateNetworks", "ConfigureNetworks"],
  "power-on": ["PowerOnVms"],
};

/**
 * Where each step and each VM's registration, reconfiguration, power-on and boot sit in time.
 * Pure. A VM phase runs from the end of its previous phase (or the start of the step that does it,
 * or for a power-on the start of its wave, whichever is later) to the time the run recorded it;
 * a phase with no recorded end is not drawn.
 */
export function timelineOf(run: FailoverRun, vms: readonly VmRecord[]): Timeline {
  const s = run.status ?? {};
  const steps = s.steps ?? [];
  const t0 = Date.parse(s.startedAt ?? steps.find((x) => x.startedAt)?.startedAt ?? "");
  const sec = (iso: string | undefined): number | undefined => {
    const t = iso ? Date.parse(iso) : NaN;
    return Number.isFinite(t) && Number.isFinite(t0) ? Math.max(0, (t - t0) / 1000) : undefined;
  };
  const known = [...steps.flatMap((x) => [sec(x.startedAt), sec(x.completedAt)]), ...vms.flatMap((v) => PHASES.map((p) => sec(p.at(v))))].filter((x): x is number => x !== undefined);
  const end = sec(s.completedAt) ?? Math.max(0, ...known);

  const stepStart = (names: readonly string[] | undefined): number | undefined => {
    const starts = steps.filter((x) => names?.includes(x.name)).map((x) => sec(x.startedAt)).filter((x): x is number => x !== undefined);
    return starts.length ? Math.min(...starts) : undefined;
  };
  const stepRows: TimelineRow[] = steps.map((x) => {
    const from = sec(x.startedAt);
    const to = sec(x.completedAt) ?? (x.state === "Running" ? end : from);
    const bars = from !== undefined && to !== undefined ? [{ from, to, kind: `step-${x.state.toLowerCase()}`, title: `${x.name}: ${x.state}${x.message ? ` (${x.message})` : ""}` }] : [];
    return { label: x.name, bars, ...(x.state === "Failed" || x.state === "Blocked" ? { problem: `${x.state}: ${x.message ?? ""}` } : {}) };
  });

  const byWave = new Map<number, VmRecord[]>();
  for (const v of vms) byWave.set(v.wave, [...(byWave.get(v.wave) ?? []), v]);
  const waveIndexes = [...byWave.keys()].sort((a, b) => a - b);
  const powerOnStart = stepStart(STEP_OF["power-on"]);
  let lastReady: number | undefined;
  const summarized = vms.length > MAX_VM_ROWS;
  const waves: TimelineWave[] = [];
  for (const w of waveIndexes) {
    const members = byWave.get(w) ?? [];
    const start = powerOnStart === undefined ? undefined : Math.max(powerOnStart, lastReady ?? 0);
    const rows = members.map((v) => vmRow(v, sec, stepStart, start));
    for (const v of members) {
      const r = sec(v.readyAt);
      if (r !== undefined) lastReady = Math.max(lastReady ?? 0, r);
    }
    const groups = [...new Set(members.map((v) => v.priorityGroup ?? (v.auxiliary ? "(auxiliary)" : "(unprioritized)")))].sort();
    const label = `Wave ${w + 1}: ${groups.join(", ")} (${members.length} VM${members.length === 1 ? "" : "s"})`;
    waves.push({ index: w, label, ...(start !== undefined ? { start } : {}), rows: summarized ? [summaryRow(rows, members)] : rows });
  }
  return { end, ...(s.rtoSeconds !== undefined ? { rto: s.rtoSeconds } : {}), steps: stepRows, waves, summarized };
}

function vmRow(v: VmRecord, sec: (iso: string | undefined) => number | undefined, stepStart: (names: readonly string[] | undefined) => number | undefined, waveStart: number | undefined): TimelineRow {
  const bars: Bar[] = [];
  let prev: number | undefined;
  for (const p of PHASES) {
    const to = sec(p.at(v));
    if (to === undefined) continue;
    const floor = p.kind === "power-on" ? waveStart : stepStart(STEP_OF[p.kind]);
    const candidates = [prev, floor].filter((x): x is number => x !== undefined);
    const from = Math.min(to, candidates.length ? Math.max(...candidates) : to);
    bars.push({ from, to, kind: p.kind, title: `${v.name}: ${p.title} at ${to.toFixed(1)} s` });
    prev = to;
  }
  const problem = v.state === "Failed" || v.state === "Skipped" ? `${v.state}: ${v.message ?? ""}` : undefined;
  return { label: v.name, bars, ...(problem !== undefined ? { problem } : {}) };
}

/** A wave as one row: each phase from its first start to its last end over the wave's VMs. */
function summaryRow(rows: readonly TimelineRow[], members: readonly VmRecord[]): TimelineRow {
  const bars: Bar[] = [];
  for (const p of PHASES) {
    const of = rows.flatMap((r) => r.bars.filter((b) => b.kind === p.kind));
    if (!of.length) continue;
    const from = Math.min(...of.map((b) => b.from));
    const to = Math.max(...of.map((b) => b.to));
    bars.push({ from, to, kind: p.kind, title: `${of.length} VMs ${p.title}, the first at ${Math.min(...of.map((b) => b.to)).toFixed(1)} s, the last at ${to.toFixed(1)} s` });
  }
  const failed = members.filter((v) => v.state === "Failed" || v.state === "Skipped").length;
  return { label: `${members.length} VMs`, bars, ...(failed ? { problem: `${failed} failed or skipped` } : {}) };
}
