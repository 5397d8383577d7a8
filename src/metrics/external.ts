import { Counter, Histogram } from "prom-client";
import type { Registry } from "prom-client";
import { METRIC_PREFIX } from "./registry.js";

export type ExternalSystem = "vsphere" | "ontap" | "dns";
export type ExternalOutcome = "ok" | "client_error" | "server_error" | "timeout" | "unreachable";

/** Records one call to vCenter, ONTAP or a DNS server. `operation` comes from a fixed set of verbs, never a URL. */
export interface ExternalMetrics {
  observe(system: ExternalSystem, operation: string, outcome: ExternalOutcome, seconds: number): void;
}

export const noExternalMetrics: ExternalMetrics = { observe: () => {} };

export function createExternalMetrics(register: Registry): ExternalMetrics {
  const labelNames = ["system", "operation", "outcome"] as const;
  const duration = new Histogram({
    name: `${METRIC_PREFIX}_external_request_duration_seconds`,
    help: "Duration of requests to vCenter, ONTAP and DNS servers by operation and outcome.",
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [register],
  });
  const total = new Counter({
    name: `${METRIC_PREFIX}_external_requests_total`,
    help: "Requests to vCenter, ONTAP and DNS servers by operation and outcome.",
    labelNames,
    registers: [register],
  });
  return {
    observe(system, operation, outcome, seconds) {
      duration.observe({ system, operation, outcome }, seconds);
      total.inc({ system, operation, outcome });
    },
  };
}
