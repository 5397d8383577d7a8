import type { MapModel, MapVm } from "./model.js";
import { human } from "./model.js";

export interface RenderOptions {
  /** Above this many VMs, those without problems are drawn as one node per datastore ("12 VMs"). */
  readonly maxVms: number;
}

/** Mermaid label text: quotes and angle brackets as entity codes, so names cannot break the syntax. */
const label = (s: string): string => `"${s.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;")}"`;

/**
 * A Mermaid flowchart of the map: the protected site's VMs, datastores and volumes, the
 * relationships, and the replicas at the recovery site. Nodes with a problem are drawn red.
 * Node ids are generated (v0, d0, …), never derived from names.
 */
export function renderMermaid(m: MapModel, o: RenderOptions): string {
  const lines: string[] = ["flowchart LR"];
  const bad: string[] = [];
  const id = (() => {
    const ids = new Map<string, string>();
    return (kind: string, key: string): string => {
      const k = `${kind}:${key}`;
      let v = ids.get(k);
      if (!v) ids.set(k, (v = `${kind}${ids.size}`));
      return v;
    };
  })();
  const collapse = m.vms.length > o.maxVms;
  const shown: MapVm[] = collapse ? m.vms.filter((v) => v.problems.length > 0).slice(0, o.maxVms) : [...m.vms];

  lines.push(`  subgraph protected[${label(`${m.protectedSite} (protected)`)}]`);
  for (const v of shown) {
    lines.push(`    ${id("v", v.uuid)}[${label(v.name)}]`);
    if (v.problems.length) bad.push(id("v", v.uuid));
  }
  if (collapse) {
    for (const d of m.datastores) {
      const n = m.vms.filter((v) => v.datastores.includes(d.name) && !shown.includes(v)).length;
      if (n > 0) lines.push(`    ${id("g", d.name)}[${label(`${n} VM(s)`)}]`);
    }
  }
  for (const d of m.datastores) {
    lines.push(`    ${id("d", d.name)}[(${label(d.name)})]`);
    if (d.problems.length) bad.push(id("d", d.name));
  }
  for (const r of m.relationships) {
    if (!r.sourceVolume) continue;
    lines.push(`    ${id("s", r.name)}[/${label(`volume ${r.sourceVolume}`)}/]`);
  }
  lines.push("  end");
  lines.push(`  subgraph recovery[${label(`${m.recoverySite} (recovery)`)}]`);
  for (const r of m.relationships) if (r.destinationVolume) lines.push(`    ${id("t", r.name)}[/${label(`replica ${r.destinationVolume}`)}/]`);
  lines.push("  end");
  for (const r of m.relationships) {
    const state = r.found ? [r.state ?? "unknown", r.lagSeconds !== undefined ? `lag ${human(r.lagSeconds)}` : ""].filter(Boolean).join(", ") : "not found";
    lines.push(`  ${id("r", r.name)}([${label(`${r.name}: ${state}`)}])`);
    if (r.problems.length) bad.push(id("r", r.name));
  }

  for (const v of shown) for (const d of v.datastores) lines.push(`  ${id("v", v.uuid)} --> ${id("d", d)}`);
  if (collapse) for (const d of m.datastores) if (lines.some((l) => l.startsWith(`    ${id("g", d.name)}[`))) lines.push(`  ${id("g", d.name)} --> ${id("d", d.name)}`);
  for (const d of m.datastores) if (d.relationship) lines.push(`  ${id("d", d.name)} --> ${id("s", d.relationship)}`);
  for (const r of m.relationships) {
    if (r.sourceVolume) lines.push(`  ${id("s", r.name)} --> ${id("r", r.name)}`);
    if (r.destinationVolume) lines.push(`  ${id("r", r.name)} --> ${id("t", r.name)}`);
  }
  lines.push("  classDef problem fill:#fde2e2,stroke:#c62828,color:#000");
  if (bad.length) lines.push(`  class ${[...new Set(bad)].join(",")} problem`);
  return lines.join("\n");
}

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The map as Markdown: a summary, the Mermaid diagram, the relationships and the problems. */
export function renderMarkdown(m: MapModel, o: RenderOptions): string {
  const out: string[] = [`# ProtectionGroup ${m.namespace}/${m.name}: map`, ""];
  const conds = m.conditions.map((c) => `${c.type} ${c.status}${c.status === "True" ? "" : ` (${c.reason})`}`).join(", ");
  const counts = m.counts ? `${m.counts.members} VM(s), ${m.counts.shadowed} shadowed, ${m.counts.placeholders} placeholder(s). ` : "";
  out.push(`Protected site **${m.protectedSite}** → recovery site **${m.recoverySite}**. ${counts}${conds ? `${conds}.` : "No status yet."}`, "");
  if (m.vms.length > o.maxVms) out.push(`${m.vms.length} VMs: those without problems are grouped per datastore (--max-vms ${o.maxVms}).`, "");
  out.push("```mermaid", renderMermaid(m, o), "```", "");
  out.push("## Relationships", "", "| Relationship | Source volume | Datastores | Replica | State | Lag | RPO |", "|---|---|---|---|---|---|---|");
  for (const r of m.relationships) {
    out.push(
      `| ${cell(r.name)} | ${cell(r.sourceVolume ?? "—")} | ${cell(r.datastores?.join(", ") ?? "?")} | ${cell(r.destinationVolume ? `${r.destinationSite ?? "?"}: ${r.destinationVolume}` : "—")} | ${cell(
        r.found ? `${r.state ?? "?"}${r.healthy === false ? " (unhealthy)" : ""}` : "not found",
      )} | ${r.lagSeconds !== undefined ? human(r.lagSeconds) : "—"} | ${r.rpoSeconds !== undefined ? human(r.rpoSeconds) : "—"} |`,
    );
  }
  out.push("", "## Problems", "");
  if (m.problems.length === 0) out.push("None: every VM is on a datastore the group replicates, and replication is healthy and within its RPO.");
  for (const p of m.problems) out.push(`- **${cell(p.subject)}** (${p.kind}): ${cell(p.message)}`);
  return `${out.join("\n")}\n`;
}
