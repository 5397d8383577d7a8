import type { CapacityReport, FailoverRun, RunPlan, VmRecord, VolumeRecord } from "../../api/v1alpha1/index.js";
import { mdTable as table } from "../markdown.js";

/** What `vmdr plan` shows: the plan a run would execute, or why it would be refused. */
export type PlanOutcome =
  | { readonly ok: true; readonly plan: RunPlan; readonly volumes: readonly VolumeRecord[]; readonly vms: readonly VmRecord[]; readonly capacity?: CapacityReport }
  | { readonly ok: false; readonly reason: string; readonly message: string };

export interface PlanView {
  readonly run: FailoverRun;
  readonly outcome: PlanOutcome;
  /** Where it was computed: "the cluster (a dry run of the operator)" or "offline, from manifests". */
  readonly source: string;
  /** What an offline plan could not check and took for granted. */
  readonly assumed: readonly string[];
}

/** A VM's planned re-addressing, e.g. "20.1.1.21 → 30.1.1.21/24". */
function reipOf(v: VmRecord): string {
  if (!v.reip) return "";
  return v.reip.nics.map((n) => (n.action === "reassign" ? `NIC ${n.index}: ${n.from?.ip ?? "?"} → ${n.to.ip}/${n.to.prefixLength ?? ""}` : `NIC ${n.index}: keeps ${n.from.ip} (${n.reason})`)).join("; ");
}

/** The plan as Markdown: the run, its steps, waves, volumes and every VM with where it lands. Pure. */
export function renderPlan(v: PlanView): string {
  const { run, outcome } = v;
  const out: string[] = [`# Plan of FailoverRun ${run.metadata.namespace ?? ""}/${run.metadata.name}: ${run.spec.type}`, "", `Computed in ${v.source}.`, ""];
  if (!outcome.ok) {
    out.push(`**Refused (${outcome.reason})**: ${outcome.message}`, "", "Nothing would be touched: the operator refuses such a run before its first step.");
    if (v.assumed.length) out.push("", "Assumed, not checked offline:", "", ...v.assumed.map((a) => `- ${a}`));
    return `${out.join("\n")}\n`;
  }
  const { plan, volumes, vms, capacity } = outcome;
  out.push(
    table(
      ["", ""],
      [
        ["Groups", plan.groups.join(", ")],
        ["VMs", `${plan.vmCount} in ${plan.waves.length} power-on wave${plan.waves.length === 1 ? "" : "s"}`],
        ["Volumes", plan.volumes],
        ["VMs registered in", plan.location],
        ...(capacity ? [["Capacity", capacity.message]] : []),
        ...(vms.some((x) => x.reip) ? [["Re-IP", `${vms.filter((x) => x.reip).length} VM(s) re-addressed`]] : []),
      ],
    ),
    "",
    "## Steps",
    "",
    plan.steps.map((s, i) => `${i + 1}. ${s}`).join("\n"),
    "",
  );
  if (plan.waves.length) out.push("## Power-on waves", "", table(["wave", "priority", "priority groups", "VMs"], plan.waves.map((w, i) => [i + 1, w.priority, w.priorityGroups.join(", "), w.vms])), "");
  if (volumes.length) {
    out.push("## Volumes", "", table(["group", "relationship", "SVM", "volume", "protocol", "datastore"], volumes.map((x) => [x.group, x.relationship, x.svm, x.volume, x.protocol, x.datastore])), "");
  }
  if (vms.length) {
    out.push("## VMs", "", table(["VM", "group", "wave", "folder", "resource pool", "re-IP"], vms.map((x) => [x.name, x.group, x.wave + 1, x.folder, x.resourcePool || "(root)", reipOf(x)])), "");
  }
  if (v.assumed.length) out.push("## Assumed, not checked offline", "", ...v.assumed.map((a) => `- ${a}`), "");
  return `${out.join("\n").trimEnd()}\n`;
}
