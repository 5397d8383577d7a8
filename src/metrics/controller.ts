import { Counter, Gauge, Histogram } from "prom-client";
import type { Registry } from "prom-client";
import { METRIC_PREFIX } from "./registry.js";

/** Metrics of the controller runtime, named after controller-runtime's and client-go's. */
export interface RuntimeMetrics {
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller" | "class">;
  readonly reconcileDuration: Histogram<"controller">;
  readonly activeWorkers: Gauge<"controller">;
  readonly queueDepth: Gauge<"name">;
  readonly queueAdds: Counter<"name">;
  readonly queueRetries: Counter<"name">;
  readonly queueDuration: Histogram<"name">;
  readonly leader: Gauge;
}

const p = METRIC_PREFIX;

/** Creates the runtime metrics once, on the manager's registry. */
export function createRuntimeMetrics(register: Registry): RuntimeMetrics {
  const registers = [register];
  return {
    reconcileTotal: new Counter({
      name: `${p}_reconcile_total`,
      help: "Reconcile passes by controller and result (success, error, requeue_after, terminal).",
      labelNames: ["controller", "result"],
      registers,
    }),
    reconcileErrors: new Counter({
      name: `${p}_reconcile_errors_total`,
      help: "Failed reconcile passes by controller and error class.",
      labelNames: ["controller", "class"],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: `${p}_reconcile_duration_seconds`,
      help: "Duration of reconcile passes.",
      labelNames: ["controller"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    activeWorkers: new Gauge({
      name: `${p}_active_workers`,
      help: "Workers currently running a reconcile, by controller.",
      labelNames: ["controller"],
      registers,
    }),
    queueDepth: new Gauge({
      name: `${p}_workqueue_depth`,
      help: "Keys waiting in the work queue (ready now).",
      labelNames: ["name"],
      registers,
    }),
    queueAdds: new Counter({
      name: `${p}_workqueue_adds_total`,
      help: "Keys added to the work queue.",
      labelNames: ["name"],
      registers,
    }),
    queueRetries: new Counter({
      name: `${p}_workqueue_retries_total`,
      help: "Rate-limited re-adds (retries after a failed pass).",
      labelNames: ["name"],
      registers,
    }),
    queueDuration: new Histogram({
      name: `${p}_workqueue_queue_duration_seconds`,
      help: "Time a key waited in the queue between becoming ready and being picked up.",
      labelNames: ["name"],
      buckets: [0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60],
      registers,
    }),
    leader: new Gauge({
      name: `${p}_leader`,
      help: "1 while this replica holds the leader Lease, 0 otherwise.",
      registers,
    }),
  };
}
