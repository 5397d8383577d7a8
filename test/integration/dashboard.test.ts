import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { dump, load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { definedFamilies, seriesNames } from "../harness/metrics.js";
import { REPO_ROOT, scratchDir, toolPath } from "../harness/processes.js";

// deploy/grafana/vmdr-dashboard.json against the operator: every query must parse (Prometheus'
// own parser, through promtool) and name only series the operator exports, taken from its
// registry built as src/cmd/manager.ts builds it (not from a list kept by hand).
const exec = promisify(execFile);

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, "deploy/grafana/vmdr-dashboard.json"), "utf8")) as {
  panels: Panel[];
  templating: { list: { name: string; query?: string | { query: string } }[] };
};

/** Every query of the dashboard: panel targets and template variable queries. */
function queries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list) {
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    const m = q && /^label_values\((.+),\s*\w+\)$/.exec(q);
    if (m) out.push({ where: `variable $${v.name}`, expr: m[1] as string });
  }
  return out;
}

/** Grafana's variables replaced by values Prometheus accepts. */
const concrete = (expr: string): string => expr.replace(/\$__range|\$__rate_interval|\$__interval/g, "1h").replace(/\$\w+/g, ".*");

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"]);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions or
 * aggregations (followed by "("), keywords, label names (in {...}, by/on/without (...)), ranges or
 * strings.
 */
function metricNames(expr: string): string[] {
  const stripped = concrete(expr)
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names: string[] = [];
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?!\s*\()(?![A-Za-z0-9_:])/g)) {
    if (!KEYWORDS.has(m[0].toLowerCase())) names.push(m[0]);
  }
  return names;
}

describe("deploy/grafana/vmdr-dashboard.json", () => {
  it("names in every query only series the operator exports, and covers lag vs RPO, shadow sync, runs and RTO, and reconcile health", async () => {
    const exported = seriesNames(await definedFamilies());
    const qs = queries();
    expect(qs.length).toBeGreaterThan(15);
    const used = new Set<string>();
    for (const q of qs) {
      const names = metricNames(q.expr);
      expect(names.length, `${q.where}: ${q.expr} selects no metric`).toBeGreaterThan(0);
      for (const n of names) {
        expect(exported.has(n), `${q.where}: ${n} is not a series the operator exports`).toBe(true);
        used.add(n);
      }
    }
    for (const n of [
      "vmdr_replication_lag_seconds",
      "vmdr_replication_rpo_seconds",
      "vmdr_protection_group_condition",
      "vmdr_protection_group_vms",
      "vmdr_failover_runs_total",
      "vmdr_failover_last_rto_seconds",
      "vmdr_last_successful_test_timestamp_seconds",
      "vmdr_reconcile_errors_total",
      "vmdr_leader",
    ]) {
      expect(used.has(n), n).toBe(true);
    }
  });

  it("is matched by the README's metrics reference, which lists every metric the operator defines", async () => {
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    const missing = [...(await definedFamilies()).keys()].filter((n) => !/^vmdr_(process|nodejs)_/.test(n) && !readme.includes(`\`${n}\``));
    expect(missing).toEqual([]);
  });

  it("has alert rules (deploy/prometheus/rules.yaml) that name only series the operator exports", async () => {
    const exported = seriesNames(await definedFamilies());
    const rules = load(readFileSync(join(REPO_ROOT, "deploy/prometheus/rules.yaml"), "utf8")) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.map((r) => r.alert)).toContain("VmdrDrTestOverdue");
    for (const r of all) {
      const names = metricNames(r.expr);
      expect(names.length, `${r.alert} selects no metric`).toBeGreaterThan(0);
      for (const n of names) expect(exported.has(n), `${r.alert}: ${n} is not a series the operator exports`).toBe(true);
    }
  });

  it("finds a misspelled metric (so the check above can fail)", async () => {
    const exported = seriesNames(await definedFamilies());
    expect(metricNames('sum by (type) (increase(vmdr_failover_run_total{namespace=~"$namespace"}[1d]))')).toEqual(["vmdr_failover_run_total"]);
    expect(exported.has("vmdr_failover_run_total")).toBe(false);
  });

  it("has queries Prometheus parses (promtool check rules on them as recording rules)", async () => {
    const promtool = toolPath("promtool", "VMDR_PROMTOOL");
    const file = join(scratchDir("dashboard"), "queries.yaml");
    const rules = queries().map((q, i) => ({ record: `vmdr_dashboard:query_${i}`, expr: concrete(q.expr) }));
    writeFileSync(file, dump({ groups: [{ name: "dashboard", rules }] }));
    const r = await exec(promtool, ["check", "rules", file], { timeout: 60_000 });
    expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});
