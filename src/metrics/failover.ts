import { Counter, Gauge, Histogram } from "prom-client";
import type { Registry } from "prom-client";
import { RUN_TYPES } from "../api/v1alpha1/failover-run.js";
import type { RunType } from "../api/v1alpha1/failover-run.js";
import { METRIC_PREFIX } from "./registry.js";

/** How a FailoverRun ended. */
export type RunResult = "succeeded" | "failed" | "cancelled";
export const RUN_RESULTS: readonly RunResult[] = ["succeeded", "failed", "cancelled"];

/** How one step of a run ended (a step that stopped for a human counts as blocked). */
export type StepResult = "succeeded" | "failed" | "blocked";

const p = METRIC_PREFIX;

/**
 * Metrics of FailoverRuns, created once at startup on the manager's registry (STYLE.md §2.9):
 *
 *   vmdr_failover_runs_total{type,result}                          counter
 *   vmdr_failover_run_duration_seconds{type}                       histogram
 *   vmdr_failover_step_duration_seconds{step,result}               histogram
 *   vmdr_failover_last_rto_seconds{namespace,protection_group,type} gauge
 *   vmdr_last_successful_test_timestamp_seconds{namespace,protection_group} gauge
 *
 * Labels are bounded: `type` is a RunType, `step` a step name of the engine's plans (a fixed set;
 * never a VM or an error), namespace/protection_group one series per ProtectionGroup, our own
 * objects. The engine calls the methods; none of them does I/O.
 */
export class FailoverMetrics {
  private readonly runs: Counter<"type" | "result">;
  private readonly runDuration: Histogram<"type">;
  private readonly stepDuration: Histogram<"step" | "result">;
  private readonly lastRto: Gauge<"namespace" | "protection_group" | "type">;
  private readonly lastTest: Gauge<"namespace" | "protection_group">;
  /** When each gauge series was last set (epoch ms), so an older run never overwrites a newer one. */
  private readonly rtoAt = new Map<string, number>();
  private readonly testAt = new Map<string, number>();

  constructor(register: Registry) {
    const registers = [register];
    this.runs = new Counter({
      name: `${p}_failover_runs_total`,
      help: "Finished FailoverRuns by type and result (succeeded, failed, cancelled).",
      labelNames: ["type", "result"],
      registers,
    });
    // Every type/result pair from zero, so rate() and increase() work before the first run.
    for (const type of RUN_TYPES) for (const result of RUN_RESULTS) this.runs.inc({ type, result }, 0);
    this.runDuration = new Histogram({
      name: `${p}_failover_run_duration_seconds`,
      help: "Duration of finished FailoverRuns, from start to completion, by type.",
      labelNames: ["type"],
      buckets: [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800],
      registers,
    });
    this.stepDuration = new Histogram({
      name: `${p}_failover_step_duration_seconds`,
      help: "Duration of finished FailoverRun steps, across attempts, by step and result.",
      labelNames: ["step", "result"],
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200],
      registers,
    });
    this.lastRto = new Gauge({
      name: `${p}_failover_last_rto_seconds`,
      help: "Recovery time of the newest successful run per ProtectionGroup and run type: start to the last VM ready.",
      labelNames: ["namespace", "protection_group", "type"],
      registers,
    });
    this.lastTest = new Gauge({
      name: `${p}_last_successful_test_timestamp_seconds`,
      help: "When the newest successful Test run of the ProtectionGroup completed (Unix seconds).",
      labelNames: ["namespace", "protection_group"],
      registers,
    });
  }

  /** A run reached its end: counts it and records its duration. Call once per run. */
  runFinished(type: RunType, result: RunResult, durationSeconds: number): void {
    this.runs.inc({ type, result });
    this.runDuration.observe({ type }, Math.max(0, durationSeconds));
  }

  /** A step reached Succeeded, Failed or Blocked: its duration from first start, across attempts. */
  stepFinished(step: string, result: StepResult, durationSeconds: number): void {
    this.stepDuration.observe({ step, result }, Math.max(0, durationSeconds));
  }

  /**
   * The RTO a successful run measured for one group. Keeps the newest by completion time, so
   * re-seeding from existing FailoverRuns after a restart may replay them in any order.
   */
  recordRto(namespace: string, protectionGroup: string, type: RunType, rtoSeconds: number, completedAtMs: number): void {
    const id = `${namespace}/${protectionGroup}/${type}`;
    if ((this.rtoAt.get(id) ?? -Infinity) > completedAtMs) return;
    this.rtoAt.set(id, completedAtMs);
    this.lastRto.set({ namespace, protection_group: protectionGroup, type }, Math.max(0, rtoSeconds));
  }

  /** A Test run of the group succeeded at completedAtMs (epoch ms); older news is ignored. */
  testSucceeded(namespace: string, protectionGroup: string, completedAtMs: number): void {
    const id = `${namespace}/${protectionGroup}`;
    if ((this.testAt.get(id) ?? -Infinity) >= completedAtMs) return;
    this.testAt.set(id, completedAtMs);
    this.lastTest.set({ namespace, protection_group: protectionGroup }, Math.floor(completedAtMs / 1000));
  }

  /** Drops the group's series (it was deleted). */
  forgetGroup(namespace: string, protectionGroup: string): void {
    for (const type of RUN_TYPES) {
      if (this.rtoAt.delete(`${namespace}/${protectionGroup}/${type}`)) this.lastRto.remove({ namespace, protection_group: protectionGroup, type });
    }
    if (this.testAt.delete(`${namespace}/${protectionGroup}`)) this.lastTest.remove({ namespace, protection_group: protectionGroup });
  }
}
