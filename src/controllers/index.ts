import type { KubeStore } from "../kube/store.js";
import type { RuntimeMetrics } from "../metrics/controller.js";
import type { ReplicationMetrics } from "../metrics/replication.js";
import type { FailoverMetrics } from "../metrics/failover.js";
import type { ProtectionGroupMetrics } from "../metrics/protection-group.js";
import type { EventRecorder } from "../runtime/events.js";
import type { Manager } from "../runtime/manager.js";
import type { SiteConnections } from "../sites/connections.js";
import type { ReferencedSecrets } from "../sites/secrets.js";
import type { ExternalMetrics } from "../metrics/external.js";
import type { SiteInventories } from "../sites/inventories.js";
import type { Clock } from "../util/clock.js";
import { setupReplicationRelationshipController } from "./replication-relationship/setup.js";
import { setupSiteController } from "./site/setup.js";
import { setupProtectionGroupController } from "./protection-group/setup.js";
import { setupFailoverRunController } from "./failover-run/setup.js";
import type { CrashPoint } from "../engine/runner.js";

/** What every controller may depend on; each takes the subset it needs. */
export interface ControllerDeps {
  readonly kube: KubeStore;
  readonly clock: Clock;
  readonly events: EventRecorder;
  readonly metrics: RuntimeMetrics;
  readonly replicationMetrics: ReplicationMetrics;
  /** FailoverRun metrics (the engine reports runs, steps, RTOs and successful tests). */
  readonly failoverMetrics: FailoverMetrics;
  /** Per-group gauges, read from the ProtectionGroup cache at scrape time. */
  readonly groupMetrics: ProtectionGroupMetrics;
  readonly connections: SiteConnections;
  /** The credentials Secrets Sites name (changes re-check the Sites). */
  readonly secrets: Pick<ReferencedSecrets, "onChange" | "readKey">;
  /** Durations and outcomes of DNS exchanges (the runs' UpdateDns); none recorded when absent. */
  readonly externalMetrics?: ExternalMetrics;
  readonly inventories: SiteInventories;
  readonly sitePollIntervalMs: number;
  readonly ontapPollIntervalMs: number;
  /** Slow safety resync of each ProtectionGroup (its work is otherwise event-driven). */
  readonly groupResyncMs: number;
  /** Test-only crash points of the step engine. */
  readonly crash?: (point: CrashPoint, step: string) => void;
}

/** Registers every controller with the manager, with its watches. */
export function registerControllers(manager: Manager, deps: ControllerDeps): void {
  setupSiteController(manager, deps);
  setupReplicationRelationshipController(manager, deps);
  setupProtectionGroupController(manager, deps);
  setupFailoverRunController(manager, deps);
  manager.addRunnable((signal) => deps.inventories.run(signal));
}
