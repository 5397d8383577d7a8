import { describe, expect, it } from "vitest";
import type { FailoverRun } from "../../../src/api/v1alpha1/index.js";
import { runCli } from "../../../src/cli/app.js";
import type { CliIo } from "../../../src/cli/app.js";
import { EXIT } from "../../../src/cli/command.js";
import { duration, renderReport } from "../../../src/cli/report/render.js";
import { REPO_ROOT } from "../../harness/processes.js";

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
