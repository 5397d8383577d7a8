import { FailoverRunType, ProtectionGroupType, ReplicationRelationshipType } from "../../api/v1alpha1/index.js";
import type { FailoverRun, ProtectionGroup, ReplicationRelationship, VmRecord } from "../../api/v1alpha1/index.js";
import { ConfigMapType } from "../../controllers/protection-group/records.js";
import type { ConfigMap } from "../../controllers/protection-group/records.js";
import { CliError, EXIT, UsageError } from "../command.js";
import type { Command } from "../command.js";
import { renderHtmlReport } from "../report/html.js";
import { renderReport } from "../report/render.js";
import type { ReportInput } from "../report/render.js";
import { loadManifests } from "../validate/load.js";

/** The per-VM records of a run: inline, or in its shard ConfigMaps (found by name). */
function vmsOf(run: FailoverRun, shards: (name: string) => ConfigMap | undefined): VmRecord[] {
  if (!run.status?.vmShards?.length) return run.status?.vms ?? [];
  return run.status.vmShards.flatMap((s) => {
    const cm = shards(s.name);
    if (!cm) throw new CliError(`the per-VM records of ${run.metadata.name} are in ConfigMap ${s.name}, which was not found (with -f, include it: kubectl get fr,cm -o yaml)`);
    return JSON.parse(cm.data?.vms ?? "[]") as VmRecord[];
  });
}

export const reportCommand: Command = {
  name: "report",
  summary: "a FailoverRun as a Markdown or HTML report: outcome, RTO, recovery point, timeline, steps, VMs, problems, cleanup",
  usage: "vmdr report [flags] <failover-run>",
  description: [
    "What a run did, for the people who review DR tests and failovers: its outcome, who created it and",
    "when, the RTO and the data-loss window, every step with its duration and message, every VM with",
    "its wave, state and times from the start of the run, the problems, and what a cleanup removed",
    "and verified gone; the RTO against the groups' objectives and the recovery point against the",
    "relationships' RPO. Reads the cluster (get only), or a saved run with -f (kubectl get fr NAME -o",
    "yaml; for a large run also its ConfigMaps, and the relationships and groups for their",
    "objectives). Output: Markdown; a self-contained HTML page (no scripts, nothing loaded from",
    "elsewhere) with a timeline of every step and every VM's register, reconfigure, power-on and",
    "boot by wave, the RTO marked; or the run and its VMs as JSON.",
  ].join("\n"),
  kube: true,
  flags: [
    { name: "output", short: "o", value: "FORMAT", help: "output format", default: "markdown", choices: ["markdown", "html", "json"] },
    { name: "filename", short: "f", value: "PATH", help: "read the run from files or directories (- for standard input) instead of the cluster", repeatable: true },
  ],
  examples: ["vmdr report -n dr test-hr-2026-12 > test-hr-2026-12.md", "vmdr report -n dr -o html test-hr-2026-12 > test-hr-2026-12.html", "kubectl get fr test-hr -n dr -o yaml | vmdr report -f - test-hr"],
  async run(ctx, args) {
    const [name, ...extra] = args.positionals;
    if (!name) throw new UsageError("name the FailoverRun");
    if (extra.length) throw new UsageError(`one FailoverRun at a time (got ${args.positionals.length})`);
    const files = args.list("filename");
    let input: ReportInput;
    if (files.length) {
      const objs = (await loadManifests(files, ctx.cwd, () => ctx.readStdin())).manifests.map((m) => m.obj as unknown as FailoverRun | ConfigMap);
      const runs = objs.filter((o): o is FailoverRun => o.kind === "FailoverRun" && o.metadata.name === name);
      if (runs.length !== 1) throw new CliError(runs.length ? `FailoverRun ${name} is in the files ${runs.length} times: give one` : `no FailoverRun ${name} in the given files`);
      const run = runs[0]!;
      const relationships = (objs as unknown as ReplicationRelationship[]).filter((o) => o.kind === "ReplicationRelationship");
      const groups = (objs as unknown as ProtectionGroup[]).filter((o) => o.kind === "ProtectionGroup");
      input = { run, relationships, groups, vms: vmsOf(run, (n) => objs.find((o): o is ConfigMap => o.kind === "ConfigMap" && o.metadata.name === n && o.metadata.namespace === run.metadata.namespace)) };
    } else {
      const kube = await ctx.kube();
      const namespace = await ctx.namespace();
      const run = await kube.get(FailoverRunType, { namespace, name });
      if (!run) throw new CliError(`FailoverRun ${namespace}/${name} not found`);
      const shards = new Map<string, ConfigMap>();
      for (const s of run.status?.vmShards ?? []) {
        const cm = await kube.get(ConfigMapType, { namespace, name: s.name });
        if (cm) shards.set(s.name, cm);
      }
      const relationships: ReplicationRelationship[] = [];
      for (const name of new Set((run.status?.recoveryPoints ?? []).map((p) => p.relationship))) {
        const rr = await kube.get(ReplicationRelationshipType, { namespace, name });
        if (rr) relationships.push(rr);
      }
      const groups: ProtectionGroup[] = [];
      for (const name of run.status?.plan?.groups ?? run.spec.protectionGroups ?? []) {
        const pg = await kube.get(ProtectionGroupType, { namespace, name });
        if (pg) groups.push(pg);
      }
      input = { run, relationships, groups, vms: vmsOf(run, (n) => shards.get(n)) };
    }
    if (args.str("output") === "json") ctx.stdout.write(`${JSON.stringify({ run: input.run, vms: input.vms }, null, 2)}\n`);
    else ctx.stdout.write(args.str("output") === "html" ? renderHtmlReport(input) : renderReport(input));
    return EXIT.ok;
  },
};
