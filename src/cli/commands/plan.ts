import { randomBytes } from "node:crypto";
import { FailoverRunType, findCondition } from "../../api/v1alpha1/index.js";
import type { FailoverRun } from "../../api/v1alpha1/index.js";
import type { KubeStore } from "../../kube/store.js";
import { parseDuration } from "../../util/duration.js";
import { CliError, EXIT, UsageError } from "../command.js";
import type { Command } from "../command.js";
import { planOffline } from "../plan/offline.js";
import { renderPlan } from "../plan/render.js";
import type { PlanOutcome, PlanView } from "../plan/render.js";
import { loadManifests } from "../validate/load.js";
import { SchemaValidator } from "../validate/schema.js";

/** Marks the short-lived dry-run copies `vmdr plan` creates, so a leftover is easy to find and delete. */
export const PLAN_LABEL = "dr.vmdr.io/plan-of";

/**
 * The operator's own dry run: a copy of the run with dryRun: true, read until the operator has
 * planned or refused it, then deleted (also on timeout or Ctrl-C).
 */
async function planInCluster(kube: KubeStore, run: FailoverRun, timeoutMs: number, signal: AbortSignal): Promise<PlanOutcome> {
  const namespace = run.metadata.namespace ?? "default";
  const name = `${run.metadata.name.slice(0, 40)}-plan-${randomBytes(3).toString("hex")}`;
  const copy: FailoverRun = {
    apiVersion: "dr.vmdr.io/v1alpha1",
    kind: "FailoverRun",
    metadata: { namespace, name, labels: { [PLAN_LABEL]: run.metadata.name.slice(0, 63) } },
    spec: { ...run.spec, dryRun: true },
  };
  await kube.create(FailoverRunType, copy, signal);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = await kube.get(FailoverRunType, { namespace, name }, signal);
      const done = findCondition(seen?.status?.conditions, "Succeeded");
      if (seen?.status && done?.status === "True" && seen.status.plan) {
        const s = seen.status;
        return { ok: true, plan: s.plan!, volumes: s.volumes ?? [], vms: s.vms ?? [], ...(s.capacity ? { capacity: s.capacity } : {}) };
      }
      if (done?.status === "False") return { ok: false, reason: done.reason, message: done.message.replace(/^refused before anything was touched: /, "") };
      if (Date.now() > deadline) {
        const waiting = done ? ` (last: ${done.reason}: ${done.message})` : " (is the operator running?)";
        throw new CliError(`the operator did not plan ${namespace}/${name} within ${timeoutMs / 1000} s${waiting}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await kube.delete(FailoverRunType, { namespace, name }).catch(() => undefined);
  }
}

export const planCommand: Command = {
  name: "plan",
  summary: "the plan a FailoverRun would execute: steps, waves, volumes, where each VM lands, re-IP; or why it would be refused",
  usage: "vmdr plan [flags] <failoverrun.yaml|->",
  description: [
    "What applying a FailoverRun would do, before you apply it: its steps, power-on waves, volumes,",
    "each VM with the folder and resource pool it is registered into and its re-addressing, the",
    "capacity pre-flight; or the reason the operator would refuse it. Computed by the operator's own",
    "planning code. Against the cluster (default), vmdr creates a copy of the run with dryRun: true",
    "(labelled dr.vmdr.io/plan-of), reads the plan the operator writes with its live view of both",
    "sites, and deletes the copy: it needs create, get and delete on failoverruns, and changes",
    "nothing else. With --offline and -f state files (kubectl get drsite,rr,pg,cm -A -o yaml), the",
    "same planning runs here, without the vCenters: what that cannot check is listed as assumed.",
    "Exit code 0 when the run would be planned, 1 when it would be refused.",
  ].join("\n"),
  kube: true,
  flags: [
    { name: "output", short: "o", value: "FORMAT", help: "output format", default: "markdown", choices: ["markdown", "json"] },
    { name: "offline", help: "plan from the files given with -f instead of the cluster" },
    { name: "filename", short: "f", value: "PATH", help: "with --offline: the saved state (Sites, relationships, groups and their ConfigMaps)", repeatable: true },
    { name: "timeout", value: "DURATION", help: "how long to wait for the operator's plan", default: "2m" },
  ],
  examples: ["vmdr plan test-hr.yaml", "kubectl get drsite,rr,pg,cm -A -o yaml > state.yaml && vmdr plan --offline -f state.yaml pm-hr.yaml"],
  async run(ctx, args) {
    const [path, ...extra] = args.positionals;
    if (!path) throw new UsageError("give the FailoverRun manifest (a file, or - for standard input)");
    if (extra.length) throw new UsageError(`one FailoverRun at a time (got ${args.positionals.length} files)`);
    let timeoutMs: number;
    try {
      timeoutMs = parseDuration(args.str("timeout") ?? "2m");
    } catch (e) {
      throw new UsageError(`--timeout: ${(e as Error).message}`);
    }
    const loaded = await loadManifests([path], ctx.cwd, () => ctx.readStdin());
    const runs = loaded.manifests.filter((m) => m.obj.kind === "FailoverRun");
    if (runs.length !== 1) throw new CliError(runs.length ? `${path} holds ${runs.length} FailoverRuns: give one` : `no FailoverRun in ${path}`);
    const namespace = (runs[0]!.obj.metadata?.namespace as string | undefined) ?? (await ctx.namespace());
    const problems = new SchemaValidator().validate(runs, namespace).findings.filter((f) => f.severity === "error");
    if (problems.length) throw new CliError(problems.map((f) => `${f.file}:${f.line}: ${f.field ? `${f.field}: ` : ""}${f.message}`).join("\n"));
    const run = runs[0]!.obj as unknown as FailoverRun;
    run.metadata = { ...run.metadata, namespace };

    let view: PlanView;
    if (args.bool("offline")) {
      const files = args.list("filename");
      if (!files.length) throw new UsageError("--offline plans from saved state: give it with -f (kubectl get drsite,rr,pg,cm -A -o yaml > state.yaml)");
      const state = await loadManifests(files, ctx.cwd, () => ctx.readStdin());
      const { outcome, assumed } = planOffline(run, state.manifests.map((m) => m.obj));
      view = { run, outcome, assumed, source: "offline, from the given files, by the operator's planning code" };
    } else {
      if (args.list("filename").length) throw new UsageError("-f gives saved state for --offline; against the cluster, give only the run");
      const controller = new AbortController();
      view = { run, outcome: await planInCluster(await ctx.kube(), run, timeoutMs, controller.signal), assumed: [], source: "the cluster: the operator's dry run, with its live view of both sites" };
    }
    if (args.str("output") === "json") ctx.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    else ctx.stdout.write(renderPlan(view));
    return view.outcome.ok ? EXIT.ok : EXIT.findings;
  },
};
