import { EXIT, UsageError } from "../command.js";
import type { Command } from "../command.js";
import type { Style } from "../output.js";
import { CHECKS } from "../validate/checks.js";
import type { Finding } from "../validate/findings.js";
import { validateManifests } from "../validate/index.js";

function line(f: Finding, style: Style): string {
  const at = `${f.file}${f.line !== undefined ? `:${f.line}` : ""}`;
  const sev = f.severity === "error" ? style.red("error") : style.yellow("warning");
  const obj = f.object ? `${f.object.kind} ${f.object.namespace ? `${f.object.namespace}/` : ""}${f.object.name}: ` : "";
  const field = f.field ? `${style.bold(f.field)}: ` : "";
  return `${at}: ${sev}: ${obj}${field}${f.message} ${style.dim(`[${f.check}]`)}`;
}

export const validateCommand: Command = {
  name: "validate",
  summary: "check manifests against the CRD schemas and each other, for GitOps CI (offline)",
  usage: "vmdr validate [flags] <dir|file|->...",
  description: [
    "Reads Kubernetes manifests (directories recursively: *.yaml, *.yml, *.json; - for standard input,",
    "e.g. kubectl kustomize . | vmdr validate -) and checks every Site, ReplicationRelationship,",
    "ProtectionGroup and FailoverRun against the same schemas and CEL rules the API server enforces, then",
    "across objects:",
    ...CHECKS.map((c) => `  ${c.name}: ${c.description}`),
    "Each message names the file, the object and the field. Exits 1 when there is an error (warnings do",
    "not fail unless --warnings-as-errors). Objects of other API groups are ignored.",
  ].join("\n"),
  flags: [
    { name: "output", short: "o", value: "FORMAT", help: "text for people, json for machines", default: "text", choices: ["text", "json"] },
    { name: "namespace", short: "n", value: "NAMESPACE", help: "namespace of objects that name none", default: "default" },
    { name: "secret-namespaces", value: "LIST", help: "namespaces the operator reads credentials Secrets in (its --secret-namespaces)", default: "vmdr-system", repeatable: true },
    { name: "warnings-as-errors", help: "exit 1 on warnings too" },
  ],
  examples: ["vmdr validate deploy/samples", "kubectl kustomize overlays/prod | vmdr validate -o json -"],
  async run(ctx, args) {
    if (args.positionals.length === 0) throw new UsageError("give at least one directory, file or - (standard input)");
    const r = await validateManifests(args.positionals, {
      cwd: ctx.cwd,
      readStdin: () => ctx.readStdin(),
      defaultNamespace: args.str("namespace") ?? "default",
      secretNamespaces: args.list("secret-namespaces"),
    });
    const errors = r.findings.filter((f) => f.severity === "error").length;
    const warnings = r.findings.length - errors;
    const failed = errors > 0 || (args.bool("warnings-as-errors") && warnings > 0);
    if (args.str("output") === "json") {
      ctx.stdout.write(`${JSON.stringify({ valid: !failed, files: r.files, objects: r.objects, errors, warnings, findings: r.findings }, null, 2)}\n`);
    } else {
      for (const f of r.findings) ctx.stdout.write(`${line(f, ctx.style)}\n`);
      const summary = `${r.files} file(s), ${r.objects} object(s): ${errors} error(s), ${warnings} warning(s)`;
      ctx.stdout.write(`${failed ? ctx.style.red(summary) : ctx.style.green(summary)}\n`);
    }
    return failed ? EXIT.findings : EXIT.ok;
  },
};
