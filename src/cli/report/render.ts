import { findCondition } from "../../api/v1alpha1/index.js";
import type { FailoverRun, ProtectionGroup, ReplicationRelationship, VmRecord } from "../../api/v1alpha1/index.js";
import type { StepRecord } from "../../api/v1alpha1/steps.js";
import { durationSeconds } from "../../util/duration.js";
import { mdTable as table } from "../markdown.js";

/**
 * A run and its per-VM records (from status.vms, or its shards), and when known the relationships
 * it recovered (for their RPOs) and its groups (for their RTO objectives).
 */
export interface ReportInput {
  readonly run: FailoverRun;
  readonly vms: readonly VmRecord[];
  readonly relationships?: readonly ReplicationRelationship[];
  readonly groups?: readonly ProtectionGroup[];
}

const ms = (iso: string | undefined): number | undefined => (iso ? Date.parse(iso) : undefined);

/** "12.3s", "4m05s", "1h02m" (or "" when a time is missing). */
export function duration(from: string | undefined, to: string | undefined): string {
  const a = ms(from);
  const b = ms(to);
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) return "";
  const s = Math.max(0, (b - a) / 1000);
  if (s < 60) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Who created the run, as far as the API server recorded it (the first field manager). */
function creator(run: FailoverRun): string | undefined {
  const mf = (run.metadata as { managedFields?: { manager?: string; operation?: string }[] }).managedFields;
  return mf?.find((m) => m.operation === "Create" || m.operation === "Apply")?.manager ?? mf?.[0]?.manager;
}

export function stepRows(steps: readonly StepRecord[]): (string | number | undefined)[][] {
  return steps.map((s) => [s.name, s.state, s.startedAt ?? "", duration(s.startedAt, s.completedAt), s.attempts, s.message ?? ""]);
}

/** The run's facts at a glance, as label/value pairs (both reports' first table). */
export function summaryRows({ run, vms, relationships, groups }: ReportInput): [string, string][] {
  const s = run.status ?? {};
  const ok = findCondition(s.conditions, "Succeeded");
  const outcome = ok ? `${ok.status === "True" ? "succeeded" : ok.status === "False" ? "failed" : "in progress"} (${ok.reason}): ${ok.message ?? ""}` : "not started";
  const rows: [string, string][] = [
    ["Outcome", outcome],
    ["Groups", (s.plan?.groups ?? run.spec.protectionGroups ?? []).join(", ") || (run.spec.site ? `every group of Site ${run.spec.site}` : "")],
    ["Created", `${run.metadata.creationTimestamp ?? ""}${creator(run) ? ` by ${creator(run)}` : ""}`],
    ["Started / completed", `${s.startedAt ?? "—"} / ${s.completedAt ?? "—"} (${duration(s.startedAt, s.completedAt) || "—"})`],
    ["RTO", s.rtoSeconds !== undefined ? `${s.rtoSeconds.toFixed(1)} s (from the start of the run to the last VM ready)${rtoAgainst(run, s.rtoSeconds, groups)}` : "—"],
    ["Data-loss window", s.dataLossWindowSeconds !== undefined ? `${s.dataLossWindowSeconds} s (now minus the oldest snapshot recovered from, when it was recorded)` : "—"],
  ];
  const point = recoveryPoint(run, relationships);
  if (point) rows.push(["Recovery point", point]);
  rows.push(["VMs", vmSummary(vms)]);
  if (s.testRun) rows.push(["Cleans up", s.testRun]);
  return rows;
}

/** "; objective 15m (hr): met" for each of the run's groups that declares an RTO objective. */
function rtoAgainst(run: FailoverRun, rto: number, groups: readonly ProtectionGroup[] | undefined): string {
  const names = new Set(run.status?.plan?.groups ?? run.spec.protectionGroups ?? []);
  const parts = (groups ?? [])
    .filter((g) => names.has(g.metadata.name) && g.metadata.namespace === run.metadata.namespace && g.spec.objectives?.rto !== undefined)
    .flatMap((g) => {
      const text = g.spec.objectives?.rto ?? "";
      const objective = durationSeconds(text);
      return objective === undefined ? [] : [`objective ${text} (${g.metadata.name}): ${rto <= objective ? "met" : "MISSED"}`];
    });
  return parts.length ? `; ${parts.join(", ")}` : "";
}

/**
 * The oldest snapshot the run recovered from, its age when the run started (a failover: the data
 * lost; a Test: how old the rehearsed copy was), against the strictest RPO of its relationships.
 */
function recoveryPoint(run: FailoverRun, relationships: readonly ReplicationRelationship[] | undefined): string | undefined {
  const s = run.status ?? {};
  const times = (s.recoveryPoints ?? []).map((p) => ({ p, t: Date.parse(p.createTime ?? "") })).filter((x) => Number.isFinite(x.t));
  if (!times.length) return undefined;
  const oldest = times.reduce((a, b) => (b.t < a.t ? b : a));
  const start = Date.parse(s.startedAt ?? "");
  const age = Number.isFinite(start) ? Math.max(0, (start - oldest.t) / 1000) : undefined;
  let text = `${oldest.p.createTime ?? ""} (${oldest.p.snapshot}${age !== undefined ? `, ${age.toFixed(0)} s old at the start` : ""})`;
  const rpos = (s.recoveryPoints ?? [])
    .map((p) => relationships?.find((r) => r.metadata.name === p.relationship && r.metadata.namespace === run.metadata.namespace))
    .filter((r): r is ReplicationRelationship => r !== undefined)
    .flatMap((r) => {
      const seconds = durationSeconds(r.spec.rpo);
      return seconds === undefined ? [] : [{ text: r.spec.rpo, seconds }];
    });
  if (rpos.length && age !== undefined) {
    const strictest = rpos.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    text += `; RPO ${strictest.text}: ${age <= strictest.seconds ? "met" : "MISSED"}`;
  }
  return text;
}

/**
 * A FailoverRun as a Markdown report an auditor can file: what ran, when and by whom; its outcome;
 * the RTO and recovery point; every step and every VM with its times; the problems; what a cleanup
 * removed and verified. Pure: the same run gives the same text.
 */
export function renderReport(input: ReportInput): string {
  const { run, vms } = input;
  const s = run.status ?? {};
  const ns = run.metadata.namespace ?? "";
  const out: string[] = [];
  out.push(`# FailoverRun ${ns}/${run.metadata.name}: ${run.spec.type}`, "");
  out.push(table(["", ""], summaryRows(input)), "");
  if (s.steps?.length) out.push("## Steps", "", table(["step", "state", "started", "took", "attempts", "message"], stepRows(s.steps)), "");
  if (s.cleanupSteps?.length) out.push("## Its own cleanup", "", table(["step", "state", "started", "took", "attempts", "message"], stepRows(s.cleanupSteps)), "");
  if (s.recoveryPoints?.length) {
    out.push("## Recovery points", "", table(["relationship", "volume", "snapshot", "taken"], s.recoveryPoints.map((p) => [p.relationship, p.volume, p.snapshot, p.createTime ?? ""])), "");
  }
  if (vms.length) {
    const t0 = s.startedAt;
    out.push(
      "## VMs",
      "",
      `Times are from the start of the run (${t0 ?? "unknown"}).`,
      "",
      table(
        ["VM", "group", "wave", "state", "registered as", "network", "powered on", "ready", "message"],
        vms.map((v) => [v.name, v.group, v.wave + 1, v.state, v.registeredAs ?? "", v.network ?? "", duration(t0, v.poweredOnAt), duration(t0, v.readyAt), v.message ?? ""]),
      ),
      "",
    );
  }
  const problems = vms.filter((v) => v.state === "Failed" || v.state === "Skipped");
  const failedSteps = [...(s.steps ?? []), ...(s.cleanupSteps ?? [])].filter((x) => x.state === "Failed" || x.state === "Blocked");
  if (problems.length || failedSteps.length) {
    out.push("## Problems", "");
    for (const x of failedSteps) out.push(`- step **${x.name}** ${x.state.toLowerCase()}: ${x.message ?? ""}`);
    for (const v of problems) out.push(`- VM **${v.name}** ${v.state.toLowerCase()}: ${v.message ?? ""}`);
    out.push("");
  }
  if (s.cleanup?.removed.length) {
    out.push("## Removed and verified gone", "", table(["kind", "name", "site", "action"], s.cleanup.removed.map((r) => [r.kind, r.name, r.site, r.action])), "");
  }
  return `${out.join("\n").trimEnd()}\n`;
}

function vmSummary(vms: readonly VmRecord[]): string {
  if (!vms.length) return "none";
  const by = new Map<string, number>();
  for (const v of vms) by.set(v.state, (by.get(v.state) ?? 0) + 1);
  return `${vms.length}: ${[...by].map(([k, n]) => `${n} ${k}`).join(", ")}`;
}
