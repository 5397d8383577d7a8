import { describe, expect, it } from "vitest";
import type { FailoverRun, ProtectionGroup } from "../../../src/api/v1alpha1/index.js";
import { runCli } from "../../../src/cli/app.js";
import type { CliIo } from "../../../src/cli/app.js";
import { EXIT } from "../../../src/cli/command.js";
import { duration, renderReport } from "../../../src/cli/report/render.js";
import { renderHtmlReport } from "../../../src/cli/report/html.js";
import { MAX_VM_ROWS, timelineOf } from "../../../src/cli/report/timeline.js";
import { REPO_ROOT } from "../../harness/processes.js";
import { reportRun } from "../../harness/report-run.js";

const T0 = "2026-12-01T10:00:00Z";
const at = (s: number): string => new Date(Date.parse(T0) + s * 1000).toISOString();

/** A Test of HR as the operator leaves it: one VM failed, one ready. */
function testRun(): FailoverRun {
  return {
    apiVersion: "dr.vmdr.io/v1alpha1",
    kind: "FailoverRun",
    metadata: { namespace: "dr", name: "test-hr", creationTimestamp: T0, managedFields: [{ manager: "kubectl-client-side-apply", operation: "Update" }] } as FailoverRun["metadata"],
    spec: { type: "Test", protectionGroups: ["hr"] },
    status: {
      conditions: [{ type: "Succeeded", status: "False", reason: "VmsFailed", message: "1 of 2 VM(s) ready", lastTransitionTime: at(12) }],
      plan: { groups: ["hr"], vmCount: 2, steps: ["ClaimGroups", "PowerOnVms"], waves: [], volumes: 1, location: "the groups' shadow trees" },
      startedAt: T0,
      completedAt: at(12),
      rtoSeconds: 11.5,
      steps: [
        { name: "ClaimGroups", state: "Succeeded", attempts: 1, startedAt: T0, completedAt: at(0.2), message: "holding hr" },
        { name: "PowerOnVms", state: "Succeeded", attempts: 1, startedAt: at(2), completedAt: at(11.5), message: "1 of 2 done, 1 failed" },
      ],
      recoveryPoints: [{ relationship: "rg1fv1", volume: "RG1FV1_SM", snapshot: "snapmirror.x_1.2026-12-01_095500", createTime: "2026-12-01T09:55:00Z" }],
      vms: [
        { name: "HR Database", group: "hr", instanceUuid: "u1", vmx: "[RP1] HR Database/HR Database.vmx", folder: "DR", resourcePool: "", wave: 0, state: "Ready", registeredAs: "vm-101", network: "Site2-Test-Isolated", poweredOnAt: at(4), readyAt: at(11.5) },
        { name: "HR-App1", group: "hr", instanceUuid: "u2", vmx: "[RP1] HR-App1/HR-App1.vmx", folder: "DR", resourcePool: "", wave: 1, state: "Failed", message: "power on: a | pipe" },
      ],
    },
  };
}

describe("vmdr report renders a run for the people who review it", () => {
  it("states the outcome, who and when, RTO, every step and VM with times from the start, and the problems", () => {
    const run = testRun();
    const md = renderReport({ run, vms: run.status!.vms! });
    expect(md).toMatch(/^# FailoverRun dr\/test-hr: Test\n/);
    expect(md).toContain("| Outcome | failed (VmsFailed): 1 of 2 VM(s) ready |");
    expect(md).toContain("by kubectl-client-side-apply");
    expect(md).toContain("| RTO | 11.5 s");
    expect(md).toContain("| PowerOnVms | Succeeded | 2026-12-01T10:00:02.000Z | 9.5s | 1 | 1 of 2 done, 1 failed |");
    expect(md).toContain("| HR Database | hr | 1 | Ready | vm-101 | Site2-Test-Isolated | 4.0s | 11.5s |  |");
    expect(md).toContain("| rg1fv1 | RG1FV1_SM | snapmirror.x_1.2026-12-01_095500 | 2026-12-01T09:55:00Z |");
    // A pipe in a message does not break the table.
    expect(md).toContain("power on: a \\| pipe");
    expect(md).toContain("## Problems\n\n- VM **HR-App1** failed: power on: a | pipe");
    expect(md).not.toContain("## Removed and verified gone");
  });

  it("lists what a cleanup removed and verified gone", () => {
    const run = testRun();
    run.spec = { type: "CleanupTest", testRun: "test-hr" };
    run.status!.testRun = "test-hr";
    run.status!.cleanup = { removed: [{ kind: "Volume", name: "svm2:RG1FV1_Clone_1a2b3c4d", site: "site2", action: "Deleted" }] };
    const md = renderReport({ run, vms: [] });
    expect(md).toContain("| Cleans up | test-hr |");
    expect(md).toContain("## Removed and verified gone\n\n| kind | name | site | action |\n|---|---|---|---|\n| Volume | svm2:RG1FV1_Clone_1a2b3c4d | site2 | Deleted |");
  });

  it("formats durations for seconds, minutes and hours, and leaves a missing time empty", () => {
    expect(duration(T0, at(12.34))).toBe("12.3s");
    expect(duration(T0, at(245))).toBe("4m05s");
    expect(duration(T0, at(3720))).toBe("1h02m");
    expect(duration(T0, undefined)).toBe("");
  });

  it("reads a saved run from standard input (kubectl get fr -o yaml | vmdr report -f -)", async () => {
    let out = "";
    let err = "";
    const io: CliIo = {
      stdout: { isTTY: false, write: (s: string) => ((out += s), true) },
      stderr: { isTTY: false, write: (s: string) => ((err += s), true) },
      env: {},
      cwd: REPO_ROOT,
      readStdin: () => Promise.resolve(JSON.stringify(testRun())),
    };
    expect(await runCli(["report", "-f", "-", "test-hr"], io)).toBe(EXIT.ok);
    expect(err).toBe("");
    expect(out).toContain("# FailoverRun dr/test-hr: Test");
    out = "";
    expect(await runCli(["report", "-f", "-", "other"], io)).not.toBe(EXIT.ok);
    expect(err).toContain("no FailoverRun other in the given files");
  });
});

describe("the HTML report and its timeline", () => {
  it("lays each VM's register, reconfigure, power-on and boot end to end, a wave's power-ons after the last VM of the waves before is ready", () => {
    const { run, vms } = reportRun(12);
    const tl = timelineOf(run, vms);
    expect(tl.steps.map((s) => s.label)).toEqual(run.status!.steps!.map((s) => s.name));
    expect(tl.waves.map((w) => w.rows.length)).toEqual([3, 3, 6]);
    const first = tl.waves[0]!.rows[0]!;
    expect(first.bars.map((b) => b.kind)).toEqual(["register", "configure", "power-on", "boot"]);
    // A phase starts when the one before it ended or when the step doing it started, whichever is later.
    const stepFrom = (name: string): number => tl.steps.find((s) => s.label === name)!.bars[0]!.from;
    expect(first.bars[0]!.from).toBeCloseTo(stepFrom("RegisterVms"));
    expect(first.bars[1]!.from).toBeCloseTo(Math.max(first.bars[0]!.to, stepFrom("IsolateNetworks")));
    expect(first.bars[2]!.from).toBeCloseTo(Math.max(first.bars[1]!.to, tl.waves[0]!.start!));
    expect(first.bars[3]!.from).toBeCloseTo(first.bars[2]!.to);
    const lastReadyOfWave1 = Math.max(...tl.waves[0]!.rows.flatMap((r) => r.bars.filter((b) => b.kind === "boot").map((b) => b.to)));
    expect(tl.waves[1]!.start).toBeCloseTo(lastReadyOfWave1);
    expect(tl.waves[1]!.rows.every((r) => r.bars.find((b) => b.kind === "power-on")!.from >= lastReadyOfWave1)).toBe(true);
    // The failed VM has no boot bar and is marked.
    const failed = tl.waves[0]!.rows[2]!;
    expect(failed.bars.map((b) => b.kind)).toEqual(["register", "configure", "power-on"]);
    expect(failed.problem).toContain("VMware Tools did not start");
    expect(tl.rto).toBe(run.status!.rtoSeconds);
    expect(tl.end).toBeCloseTo(run.status!.rtoSeconds!);
  });

  it("draws one bar per recorded phase and step, marks the RTO, escapes names, and loads nothing from elsewhere", () => {
    const { run, vms, relationships } = reportRun(12);
    vms[0]!.name = `<script>alert("x")</script>`;
    const html = renderHtmlReport({ run, vms, relationships });
    expect(html).toMatch(/^<!doctype html>/);
    const svg = html.slice(html.indexOf("<svg"), html.indexOf("</svg>"));
    const bars = (svg.match(/<rect /g) ?? []).length;
    const drawnSteps = run.status!.steps!.length;
    const phases = vms.reduce((n, v) => n + [v.registeredAt, v.configuredAt, v.poweredOnAt, v.readyAt].filter(Boolean).length, 0);
    expect(bars).toBe(drawnSteps + phases);
    expect(svg).toContain(`RTO ${run.status!.rtoSeconds!.toFixed(1)} s`);
    expect(svg).toContain("Wave 2: applications (3 VMs)");
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(html.replace('xmlns="http://www.w3.org/2000/svg"', "")).not.toMatch(/https?:\/\/|src=|<link/);
    expect(html).toContain("RPO 15m: met");
  });

  it("shows a run of more VMs than a page holds as one row per wave", () => {
    const { run, vms } = reportRun(MAX_VM_ROWS + 1);
    const tl = timelineOf(run, vms);
    expect(tl.summarized).toBe(true);
    expect(tl.waves.map((w) => w.rows.length)).toEqual([1, 1, 1]);
    expect(tl.waves[0]!.rows[0]!.problem).toBe("1 failed or skipped");
    expect(renderHtmlReport({ run, vms }).match(/<rect /g)?.length).toBe(run.status!.steps!.length + 3 * 4);
  });

  it("says when a recovery point was older than the strictest RPO of its relationships", () => {
    const { run, vms, relationships } = reportRun(2);
    expect(renderReport({ run, vms, relationships })).toContain("| Recovery point | 2026-12-01T09:55:00Z (snapmirror.x_1.2026-12-01_095500, 300 s old at the start); RPO 15m: met |");
    const strict = relationships.map((r) => ({ ...r, spec: { ...r.spec, rpo: "1m" } }));
    expect(renderReport({ run, vms, relationships: strict })).toContain("RPO 1m: MISSED");
    expect(renderReport({ run, vms })).toContain("300 s old at the start) |");
  });

  it("compares the RTO with each group's objective, when the group declares one", () => {
    const { run, vms } = reportRun(2);
    const hr = (rto?: string) => ({ metadata: { namespace: "dr", name: "hr" }, spec: { objectives: rto ? { rto } : {} } }) as unknown as ProtectionGroup;
    const rto = run.status!.rtoSeconds!;
    expect(renderReport({ run, vms, groups: [hr("1h")] })).toContain(`| RTO | ${rto.toFixed(1)} s (from the start of the run to the last VM ready); objective 1h (hr): met |`);
    expect(renderReport({ run, vms, groups: [hr("10s")] })).toContain("; objective 10s (hr): MISSED |");
    expect(renderReport({ run, vms, groups: [hr()] })).toContain("to the last VM ready) |");
  });
});
