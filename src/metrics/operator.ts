import type { Registry } from "prom-client";
import type { Clock } from "../util/clock.js";
import { createRuntimeMetrics } from "./controller.js";
import type { RuntimeMetrics } from "./controller.js";
import { createExternalMetrics } from "./external.js";
import type { ExternalMetrics } from "./external.js";
import { FailoverMetrics } from "./failover.js";
import { ProtectionGroupMetrics } from "./protection-group.js";
import { createRegistry } from "./registry.js";
import { ReplicationMetrics } from "./replication.js";

/** Every metric the operator exports, on one registry. */
export interface OperatorMetrics {
  readonly registry: Registry;
  readonly runtime: RuntimeMetrics;
  readonly external: ExternalMetrics;
  readonly replication: ReplicationMetrics;
  readonly failover: FailoverMetrics;
  readonly groups: ProtectionGroupMetrics;
}

/**
 * Creates the operator's registry and all its metrics, once, at startup. The manager serves this
 * registry on /metrics; tooling that must agree with what is exported (the Grafana dashboard's
 * test) builds it the same way.
 */
export function createOperatorMetrics(build: { version: string; commit: string }, clock: Clock): OperatorMetrics {
  const registry = createRegistry(build);
  return {
    registry,
    runtime: createRuntimeMetrics(registry),
    external: createExternalMetrics(registry),
    replication: new ReplicationMetrics(registry, clock),
    failover: new FailoverMetrics(registry),
    groups: new ProtectionGroupMetrics(registry),
  };
}
