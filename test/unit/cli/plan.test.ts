import { describe, expect, it } from "vitest";
import type { FailoverRun, VmRecord } from "../../../src/api/v1alpha1/index.js";
import { renderPlan } from "../../../src/cli/plan/render.js";

const run: FailoverRun = { metadata: { namespace: "dr", name: "pm-hr" }, spec: { type: "PlannedMigration", protectionGroups: ["hr"], confirmation: "PlannedMigration" } };
const vm: VmRecord = {
  name: "HR-App1",
  group: "hr",
  instanceUuid: "u1",
  vmx: "[RP1] HR-App1/HR-App1.vmx",
  folder: "DR/Site1-Protection Group 1",
  resourcePool: "",
  wave: 1,
  state: "Pending",
  reip: { os: "linux", direction: "failover", nics: [{ index: 0, action: "reassign", source: "rule", from: { index: 0, ip: "20.1.1.21", prefixLength: 24 }, to: { ip: "30.1.1.21", prefixLength: 24, subnetMask: "255.255.255.0" } }] },
};

describe("vmdr plan shows what a run would do", () => {
  it("lists the steps in order, the waves, the volumes and where each VM lands with its new address", () => {
    const md = renderPlan({
      run,
      source: "the cluster",
      assumed: [],
      outcome: {
        ok: true,
        plan: { groups: ["hr"], vmCount: 1, steps: ["ClaimGroups", "ShutdownProtectedVms"], waves: [{ priority: 1, priorityGroups: ["db"], vms: 0 }, { priority: 2, priorityGroups: ["apps"], vms: 1 }], volumes: 1, location: "the groups' shadow trees" },
        volumes: [{ group: "hr", relationship: "rg1fv1", svm: "svm2", volume: "RG1FV1_SM", protocol: "SAN", datastore: "RP1" }],
        vms: [vm],
      },
    });
    expect(md).toMatch(/^# Plan of FailoverRun dr\/pm-hr: PlannedMigration\n/);
    expect(md).toContain("1. ClaimGroups\n2. ShutdownProtectedVms\n");
    expect(md).toContain("| 2 | 2 | apps | 1 |");
    expect(md).toContain("| hr | rg1fv1 | svm2 | RG1FV1_SM | SAN | RP1 |");
    expect(md).toContain("| HR-App1 | hr | 2 | DR/Site1-Protection Group 1 | (root) | NIC 0: 20.1.1.21 → 30.1.1.21/24 |");
    expect(md).toContain("| Re-IP | 1 VM(s) re-addressed |");
    expect(md).not.toContain("Assumed");
  });

  it("says a refused run would touch nothing, and lists what an offline plan took for granted", () => {
    const md = renderPlan({ run, source: "offline", assumed: ["capacity: not checked"], outcome: { ok: false, reason: "GroupNotReady", message: "ProtectionGroup hr is not Ready" } });
    expect(md).toContain("**Refused (GroupNotReady)**: ProtectionGroup hr is not Ready\n\nNothing would be touched");
    expect(md).toContain("- capacity: not checked");
  });
});
