import { EXIT, UsageError } from "../command.js";
import type { Command } from "../command.js";
import { buildMap } from "../map/model.js";
import { renderMarkdown, renderMermaid } from "../map/render.js";
import { fromCluster, fromManifests } from "../map/source.js";
import type { MapInputs } from "../map/source.js";
import { loadManifests } from "../validate/load.js";

export const mapCommand: Command = {
  name: "map",
  summary: "draw a group's map: VMs → datastores → volumes → relationships → replicas, problems highlighted",
  usage: "vmdr map [flags] <protection-group>",
  description: [
    "The VMbook's Map view of one ProtectionGroup, from what the operator records: the group's status",
    "(datastores, which volume carries each, alignment problems), its ReplicationRelationships' status",
    "(state, health, lag against the RPO) and its per-VM shadow records. Reads the cluster (get/list",
    "only), or files with -f (e.g. kubectl get pg,rr,cm -n dr -o yaml > state.yaml). Output: Markdown",
    "with a Mermaid diagram (renders on GitHub and GitLab), the bare Mermaid source, or the model as JSON.",
    "Problem nodes are red and listed under the diagram. Exits 0 whether or not there are problems.",
  ].join("\n"),
  kube: true,
  flags: [
    { name: "output", short: "o", value: "FORMAT", help: "output format", default: "markdown", choices: ["markdown", "mermaid", "json"] },
    { name: "filename", short: "f", value: "PATH", help: "read objects from files or directories (- for standard input) instead of the cluster", repeatable: true },
    { name: "max-vms", value: "N", help: "draw at most N VMs one by one; the rest per datastore", default: "40" },
  ],
  examples: ["vmdr map -n dr hr > hr-map.md", "kubectl get pg,rr,cm -n dr -o yaml | vmdr map -f - finance -o mermaid"],
  async run(ctx, args) {
    const [name, ...extra] = args.positionals;
    if (!name) throw new UsageError("name the ProtectionGroup");
    if (extra.length) throw new UsageError(`one ProtectionGroup at a time (got ${args.positionals.length})`);
    const maxVms = Number(args.str("max-vms"));
    if (!Number.isInteger(maxVms) || maxVms < 0) throw new UsageError(`--max-vms must be a whole number (got "${args.str("max-vms")}")`);
    const files = args.list("filename");
    let inputs: MapInputs;
    if (files.length) {
      const loaded = await loadManifests(files, ctx.cwd, () => ctx.readStdin());
      inputs = fromManifests(loaded.manifests, args.str("namespace"), name);
    } else {
      inputs = await fromCluster(await ctx.kube(), await ctx.namespace(), name);
    }
    const model = buildMap(inputs.group, inputs.relationships, inputs.records);
    const format = args.str("output");
    if (format === "json") ctx.stdout.write(`${JSON.stringify(model, null, 2)}\n`);
    else if (format === "mermaid") ctx.stdout.write(`${renderMermaid(model, { maxVms })}\n`);
    else ctx.stdout.write(renderMarkdown(model, { maxVms }));
    return EXIT.ok;
  },
};
