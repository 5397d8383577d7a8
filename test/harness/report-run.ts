import type { FailoverRun, ReplicationRelationship, VmRecord } from "../../src/api/v1alpha1/index.js";
import type { StepRecord } from "../../src/api/v1alpha1/steps.js";
import { STEPS } from "../../src/controllers/failover-run/plan.js";

export const REPORT_T0 = "2026-12-01T10:00:00Z";
export const at = (s: number): string => new Date(Date.parse(REPORT_T0) + s * 1000).toISOString();

/**
 * A finished Test of `vmCount` VMs in three waves, as the operator records it: each step's times,
 * each VM's registered / configured / powered-on / ready times (the last VM of wave 1 failed), the
 * recovery point. What the report tests render.
 */
export function reportRun(vmCount: number): { run: FailoverRun; vms: VmRecord[]; relationships: ReplicationRelationship[] } {
  const names = STEPS.Test ?? [];
  const plan: Record<string, [number, number]> = { ClaimGroups: [0, 0.2], MakeRoom: [0.2, 0.2], SelectSnapshots: [0.2, 0.6], CloneVolumes: [0.6, 2.4], PresentClones: [2.4, 3.0], RescanHosts: [3.0, 4.1], MountDatastores: [4.1, 5.0], FindVms: [5.0, 5.6] };
  const vms: VmRecord[] = [];
  const waves = [Math.ceil(vmCount / 4), Math.ceil(vmCount / 4), vmCount - 2 * Math.ceil(vmCount / 4)];
  let i = 0;
  let waveStart = 12;
  for (const [w, n] of waves.entries()) {
    let last = waveStart;
    for (let k = 0; k < n; k++, i++) {
      const reg = 5.6 + 0.05 * i;
      const conf = 8 + 0.04 * i;
      const on = waveStart + 0.3 * k;
      const ready = on + 2 + (k % 3);
      const failed = w === 0 && k === n - 1;
      vms.push({
        name: `HR-App${String(i + 1).padStart(3, "0")}`,
        group: "hr",
        instanceUuid: `uuid-${i}`,
        vmx: `[RP1] HR-App${i + 1}/HR-App${i + 1}.vmx`,
        folder: "DR/HR",
        resourcePool: "",
        wave: w,
        priorityGroup: ["databases", "applications", "web"][w]!,
        state: failed ? "Failed" : "Ready",
        registeredAs: `vm-${100 + i}`,
        network: "Site2-Test-Isolated",
        registeredAt: at(reg),
        configuredAt: at(conf),
        poweredOnAt: at(on),
        ...(failed ? { message: "ready: VMware Tools did not start within 10m" } : { readyAt: at(ready) }),
      });
      if (!failed) last = Math.max(last, ready);
    }
    waveStart = last;
  }
  const end = waveStart;
  plan.RegisterVms = [5.6, 5.6 + 0.05 * vmCount];
  plan.IsolateNetworks = [plan.RegisterVms[1], 8 + 0.04 * vmCount];
  plan.CustomizeGuests = [plan.IsolateNetworks[1], plan.IsolateNetworks[1]];
  plan.PowerOnVms = [Math.min(12, plan.IsolateNetworks[1]), end];
  plan.DisarmGuestScripts = [end, end];
  const steps: StepRecord[] = names.map((name) => {
    const [a, b] = plan[name] ?? [end, end];
    const skipped = name === "MakeRoom" || name === "CustomizeGuests" || name === "DisarmGuestScripts";
    return { name, state: skipped ? "Skipped" : "Succeeded", attempts: skipped ? 0 : 1, startedAt: at(a), completedAt: at(b), message: skipped ? "nothing to do" : "" };
  });
  const run: FailoverRun = {
    apiVersion: "dr.vmdr.io/v1alpha1",
    kind: "FailoverRun",
    metadata: { namespace: "dr", name: "test-hr", creationTimestamp: REPORT_T0, managedFields: [{ manager: "kubectl", operation: "Update" }] } as FailoverRun["metadata"],
    spec: { type: "Test", protectionGroups: ["hr"] },
    status: {
      conditions: [{ type: "Succeeded", status: "False", reason: "VmsFailed", message: `${vmCount - 1} of ${vmCount} VM(s) ready`, lastTransitionTime: at(end) }],
      startedAt: REPORT_T0,
      completedAt: at(end),
      rtoSeconds: end,
      steps,
      recoveryPoints: [{ relationship: "rg1fv1", volume: "RG1FV1_SM", snapshot: "snapmirror.x_1.2026-12-01_095500", createTime: "2026-12-01T09:55:00Z" }],
    },
  };
  const relationships = [{ apiVersion: "dr.vmdr.io/v1alpha1", kind: "ReplicationRelationship", metadata: { namespace: "dr", name: "rg1fv1" }, spec: { rpo: "15m" } } as unknown as ReplicationRelationship];
  return { run, vms, relationships };
}
