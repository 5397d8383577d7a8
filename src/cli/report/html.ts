import type { RecoveryPoint } from "../../api/v1alpha1/index.js";
import { duration, stepRows, summaryRows } from "./render.js";
import type { ReportInput } from "./render.js";
import { timelineOf } from "./timeline.js";
import type { Timeline, TimelineRow } from "./timeline.js";

/** Text for HTML content and attribute values. */
export const escapeHtml = (s: string | number | undefined): string =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

function table(head: readonly string[], rows: readonly (readonly (string | number | undefined)[])[], cls = ""): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table${cls ? ` class="${cls}"` : ""}><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const STYLE = `
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; margin: 24px auto; max-width: 1160px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 12px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d8dde6; padding-bottom: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; } th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #e6e9ef; vertical-align: top; }
th { background: #f3f5f8; } table.facts td:first-child { font-weight: 600; width: 180px; }
.outcome-ok { color: #1a7f37; } .outcome-failed { color: #c62828; } .problems li { color: #c62828; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; } .legend i { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: middle; }
svg text { font: 11px system-ui, sans-serif; fill: #1d2330; } svg .axis { stroke: #c5cbd6; } svg .grid { stroke: #eef0f4; }
.step-succeeded { fill: #4c78a8; } .step-running { fill: #f58518; } .step-failed, .step-blocked { fill: #e45756; } .step-skipped, .step-pending { fill: #c5cbd6; }
.register { fill: #9ecae9; } .configure { fill: #4c78a8; } .power-on { fill: #f58518; } .boot { fill: #54a24b; }
.problem { fill: #e45756; } .rto { stroke: #c62828; stroke-width: 1.5; stroke-dasharray: 5 3; } .wave-start { stroke: #8a94a6; stroke-dasharray: 2 3; }
.wave-label { font-weight: 600; }
`;

const LABEL_W = 230;
const PLOT_W = 880;
const STEP_H = 16;
const VM_H = 11;
const WAVE_H = 18;
const AXIS_H = 24;

/** A tick interval giving about eight ticks over `end` seconds. */
function tickStep(end: number): number {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200]) if (end / s <= 10) return s;
  return Math.ceil(end / 10 / 3600) * 3600;
}

const tickLabel = (t: number): string => (t < 120 ? `${t} s` : t < 7200 ? `${Math.round(t / 60)} min` : `${(t / 3600).toFixed(1)} h`);

/**
 * The timeline as inline SVG: each step, then each VM's phases by wave, on one time axis, with
 * the start of each wave and the RTO marked. Every bar has a tooltip (an SVG title).
 */
export function timelineSvg(tl: Timeline): string {
  const end = Math.max(tl.end, tl.rto ?? 0, 1);
  const x = (t: number): number => LABEL_W + (Math.min(Math.max(t, 0), end) / end) * PLOT_W;
  const parts: string[] = [];
  let y = AXIS_H;
  const row = (r: TimelineRow, h: number): void => {
    parts.push(`<text x="${LABEL_W - 6}" y="${y + h - 3}" text-anchor="end">${escapeHtml(clip(r.label, 34))}</text>`);
    for (const b of r.bars) {
      const w = Math.max(1, x(b.to) - x(b.from));
      parts.push(`<rect class="${b.kind}" x="${x(b.from).toFixed(1)}" y="${y + 1}" width="${w.toFixed(1)}" height="${h - 2}"><title>${escapeHtml(b.title)}</title></rect>`);
    }
    if (r.problem !== undefined) {
      const at = r.bars.length ? x(Math.max(...r.bars.map((b) => b.to))) + 3 : LABEL_W + 2;
      parts.push(`<circle class="problem" cx="${at.toFixed(1)}" cy="${y + h / 2}" r="${Math.min(4, h / 2 - 1)}"><title>${escapeHtml(`${r.label}: ${r.problem}`)}</title></circle>`);
    }
    y += h;
  };
  for (const s of tl.steps) row(s, STEP_H);
  const waveMarks: string[] = [];
  for (const w of tl.waves) {
    y += 4;
    parts.push(`<text class="wave-label" x="${LABEL_W - 6}" y="${y + WAVE_H - 5}" text-anchor="end">${escapeHtml(clip(w.label, 40))}</text>`);
    const top = y;
    y += WAVE_H;
    for (const r of w.rows) row(r, tl.summarized ? STEP_H : VM_H);
    if (w.start !== undefined) waveMarks.push(`<line class="wave-start" x1="${x(w.start).toFixed(1)}" x2="${x(w.start).toFixed(1)}" y1="${top}" y2="${y}"><title>${escapeHtml(`${w.label}: power-ons may start at ${w.start.toFixed(1)} s`)}</title></line>`);
  }
  const height = y + 8;
  const grid: string[] = [];
  const step = tickStep(end);
  for (let t = 0; t <= end + 1e-9; t += step) {
    grid.push(`<line class="grid" x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${AXIS_H}" y2="${height}"/>`);
    grid.push(`<text x="${x(t).toFixed(1)}" y="${AXIS_H - 8}" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  grid.push(`<line class="axis" x1="${LABEL_W}" x2="${LABEL_W + PLOT_W}" y1="${AXIS_H - 2}" y2="${AXIS_H - 2}"/>`);
  const rto = tl.rto !== undefined ? `<line class="rto" x1="${x(tl.rto).toFixed(1)}" x2="${x(tl.rto).toFixed(1)}" y1="${AXIS_H - 4}" y2="${height}"/><text x="${(x(tl.rto) - 4).toFixed(1)}" y="${AXIS_H + 12}" text-anchor="end" fill="#c62828">RTO ${tl.rto.toFixed(1)} s</text>` : "";
  const width = LABEL_W + PLOT_W + 60;
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Timeline of the run" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n${[...grid, ...parts, ...waveMarks].join("\n")}\n${rto}\n</svg>`;
}

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

const LEGEND = `<p class="legend"><span><i style="background:#4c78a8"></i>step</span><span><i style="background:#9ecae9"></i>register</span><span><i style="background:#4c78a8"></i>reconfigure</span><span><i style="background:#f58518"></i>power-on</span><span><i style="background:#54a24b"></i>boot until ready</span><span><i style="background:#e45756;border-radius:6px"></i>failed</span><span><i style="border-left:2px dashed #c62828;width:0"></i>RTO</span></p>`;

/**
 * A FailoverRun as one self-contained HTML page (no scripts, no external resources) an auditor
 * can file: the facts, a timeline of the steps and of every VM's phases by wave with the RTO
 * marked, then the same tables as the Markdown report. Pure.
 */
export function renderHtmlReport(input: ReportInput): string {
  const { run, vms } = input;
  const s = run.status ?? {};
  const title = `FailoverRun ${run.metadata.namespace ?? ""}/${run.metadata.name}: ${run.spec.type}`;
  const facts = summaryRows(input);
  const ok = facts[0]?.[1].startsWith("succeeded") ? "outcome-ok" : facts[0]?.[1].startsWith("failed") ? "outcome-failed" : "";
  const body: string[] = [`<h1>${escapeHtml(title)}</h1>`];
  body.push(`<table class="facts"><tbody>\n${facts.map(([k, v], i) => `<tr><td>${escapeHtml(k)}</td><td${i === 0 && ok ? ` class="${ok}"` : ""}>${escapeHtml(v)}</td></tr>`).join("\n")}\n</tbody></table>`);
  const tl = timelineOf(run, vms);
  if (tl.steps.length || tl.waves.length) {
    body.push("<h2>Timeline</h2>", LEGEND);
    if (tl.summarized) body.push(`<p>${vms.length} VMs: one row per wave, each phase from its first VM to its last.</p>`);
    body.push(`<div class="timeline">${timelineSvg(tl)}</div>`);
  }
  const head = ["step", "state", "started", "took", "attempts", "message"];
  if (s.steps?.length) body.push("<h2>Steps</h2>", table(head, stepRows(s.steps)));
  if (s.cleanupSteps?.length) body.push("<h2>Its own cleanup</h2>", table(head, stepRows(s.cleanupSteps)));
  if (s.recoveryPoints?.length) body.push("<h2>Recovery points</h2>", table(["relationship", "volume", "snapshot", "taken"], s.recoveryPoints.map((p: RecoveryPoint) => [p.relationship, p.volume, p.snapshot, p.createTime ?? ""])));
  if (vms.length) {
    const t0 = s.startedAt;
    body.push(
      "<h2>VMs</h2>",
      `<p>Times are from the start of the run (${escapeHtml(t0 ?? "unknown")}).</p>`,
      table(
        ["VM", "group", "wave", "state", "registered as", "network", "registered", "configured", "powered on", "ready", "message"],
        vms.map((v) => [v.name, v.group, v.wave + 1, v.state, v.registeredAs ?? "", v.network ?? "", duration(t0, v.registeredAt), duration(t0, v.configuredAt), duration(t0, v.poweredOnAt), duration(t0, v.readyAt), v.message ?? ""]),
      ),
    );
  }
  const problems = [
    ...[...(s.steps ?? []), ...(s.cleanupSteps ?? [])].filter((x) => x.state === "Failed" || x.state === "Blocked").map((x) => `step ${x.name} ${x.state.toLowerCase()}: ${x.message ?? ""}`),
    ...vms.filter((v) => v.state === "Failed" || v.state === "Skipped").map((v) => `VM ${v.name} ${v.state.toLowerCase()}: ${v.message ?? ""}`),
  ];
  if (problems.length) body.push("<h2>Problems</h2>", `<ul class="problems">${problems.map((p) => `<li>${escapeHtml(p)}</li>`).join("\n")}</ul>`);
  if (s.cleanup?.removed.length) body.push("<h2>Removed and verified gone</h2>", table(["kind", "name", "site", "action"], s.cleanup.removed.map((r) => [r.kind, r.name, r.site, r.action])));
  return `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>${escapeHtml(title)}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n${body.join("\n")}\n</body>\n</html>\n`;
}
