import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import type { ProtectionGroup } from "../../../src/api/v1alpha1/index.js";
import { ProtectionGroupMetrics } from "../../../src/metrics/protection-group.js";
import { protectionGroup } from "../../fixtures/objects.js";

const lines = async (r: Registry, name: string): Promise<string[]> => (await r.metrics()).split("\n").filter((l) => l.startsWith(`${name}{`));

describe("ProtectionGroupMetrics", () => {
  it("exports each group's VM counts and conditions from its status at scrape time, and drops a group that is gone", async () => {
    const r = new Registry();
    const m = new ProtectionGroupMetrics(r);
    const hr: ProtectionGroup = protectionGroup("dr", "hr");
    hr.status = {
      counts: { members: 6, shadowed: 5, placeholders: 0, problems: 1 },
      conditions: [{ type: "ShadowInSync", status: "False", reason: "Converging", message: "", lastTransitionTime: "2026-12-01T10:00:00Z" }],
    };
    let groups: ProtectionGroup[] = [hr, protectionGroup("dr", "new")];
    m.follow(() => groups);
    expect(await lines(r, "vmdr_protection_group_vms")).toEqual([
      'vmdr_protection_group_vms{namespace="dr",name="hr",state="members"} 6',
      'vmdr_protection_group_vms{namespace="dr",name="hr",state="shadowed"} 5',
      'vmdr_protection_group_vms{namespace="dr",name="hr",state="placeholders"} 0',
      'vmdr_protection_group_vms{namespace="dr",name="hr",state="problems"} 1',
    ]);
    expect(await lines(r, "vmdr_protection_group_condition")).toEqual([
      'vmdr_protection_group_condition{namespace="dr",name="hr",type="ShadowInSync",status="True"} 0',
      'vmdr_protection_group_condition{namespace="dr",name="hr",type="ShadowInSync",status="False"} 1',
      'vmdr_protection_group_condition{namespace="dr",name="hr",type="ShadowInSync",status="Unknown"} 0',
    ]);
    groups = [];
    expect(await lines(r, "vmdr_protection_group_vms")).toEqual([]);
  });

  it("exports the objectives a group declares, in seconds, labelled like the failover metrics they are compared with", async () => {
    const r = new Registry();
    const m = new ProtectionGroupMetrics(r);
    const hr = protectionGroup("dr", "hr");
    hr.spec.objectives = { rto: "15m", testInterval: "720h" };
    const fin = protectionGroup("dr", "finance");
    fin.spec.objectives = { rto: "1h30m" };
    m.follow(() => [hr, fin, protectionGroup("dr", "none")]);
    expect(await lines(r, "vmdr_protection_group_objective_seconds")).toEqual([
      'vmdr_protection_group_objective_seconds{namespace="dr",protection_group="hr",objective="rto"} 900',
      'vmdr_protection_group_objective_seconds{namespace="dr",protection_group="hr",objective="test_interval"} 2592000',
      'vmdr_protection_group_objective_seconds{namespace="dr",protection_group="finance",objective="rto"} 5400',
    ]);
  });
});
