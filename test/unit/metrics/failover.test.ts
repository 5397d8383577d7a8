import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { FailoverMetrics } from "../../../src/metrics/failover.js";

/** The samples of one metric in the exposition text, as `name{labels} value` lines. */
async function samples(r: Registry, name: string): Promise<string[]> {
  return (await r.metrics()).split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe("FailoverMetrics", () => {
  it("counts finished runs by type and result, every pair starting at zero", async () => {
    const r = new Registry();
    const m = new FailoverMetrics(r);
    expect(await samples(r, "vmdr_failover_runs_total")).toContain('vmdr_failover_runs_total{type="Disaster",result="failed"} 0');
    m.runFinished("Test", "succeeded", 420);
    m.runFinished("Test", "succeeded", 380);
    m.runFinished("PlannedMigration", "failed", 60);
    const runs = await samples(r, "vmdr_failover_runs_total");
    expect(runs).toContain('vmdr_failover_runs_total{type="Test",result="succeeded"} 2');
    expect(runs).toContain('vmdr_failover_runs_total{type="PlannedMigration",result="failed"} 1');
    expect(runs).toHaveLength(6 * 3);
    const d = await samples(r, "vmdr_failover_run_duration_seconds_sum");
    expect(d).toContain('vmdr_failover_run_duration_seconds_sum{type="Test"} 800');
    expect(await samples(r, "vmdr_failover_run_duration_seconds_bucket")).toContain('vmdr_failover_run_duration_seconds_bucket{le="600",type="Test"} 2');
  });

  it("records step durations by step and result", async () => {
    const r = new Registry();
    const m = new FailoverMetrics(r);
    m.stepFinished("BreakReplication", "succeeded", 12);
    m.stepFinished("PowerOnVms", "blocked", 3);
    expect(await samples(r, "vmdr_failover_step_duration_seconds_count")).toEqual([
      'vmdr_failover_step_duration_seconds_count{step="BreakReplication",result="succeeded"} 1',
      'vmdr_failover_step_duration_seconds_count{step="PowerOnVms",result="blocked"} 1',
    ]);
  });

  it("keeps the newest RTO and last successful test per group, whatever order runs are reported in, and forgets a deleted group", async () => {
    const r = new Registry();
    const m = new FailoverMetrics(r);
    const t = Date.parse("2026-12-01T10:00:00Z");
    m.recordRto("dr", "hr", "Test", 300, t);
    m.recordRto("dr", "hr", "Test", 999, t - 86_400_000); // an older run replayed after a restart
    m.recordRto("dr", "hr", "Disaster", 1200, t - 1);
    m.testSucceeded("dr", "hr", t);
    m.testSucceeded("dr", "hr", t - 3_600_000);
    m.testSucceeded("dr", "finance", t + 5_000);
    expect(await samples(r, "vmdr_failover_last_rto_seconds")).toEqual([
      'vmdr_failover_last_rto_seconds{namespace="dr",protection_group="hr",type="Test"} 300',
      'vmdr_failover_last_rto_seconds{namespace="dr",protection_group="hr",type="Disaster"} 1200',
    ]);
    expect(await samples(r, "vmdr_last_successful_test_timestamp_seconds")).toEqual([
      `vmdr_last_successful_test_timestamp_seconds{namespace="dr",protection_group="hr"} ${t / 1000}`,
      `vmdr_last_successful_test_timestamp_seconds{namespace="dr",protection_group="finance"} ${(t + 5_000) / 1000}`,
    ]);
    m.forgetGroup("dr", "hr");
    expect(await samples(r, "vmdr_failover_last_rto_seconds")).toEqual([]);
    expect(await samples(r, "vmdr_last_successful_test_timestamp_seconds")).toHaveLength(1);
  });
});
