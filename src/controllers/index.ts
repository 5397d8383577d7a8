import type { KubeStore } from "../kube/store.js";
import type { RuntimeMetrics } from "../metrics/controller.js";
import type { EventRecorder } from "../runtime/events.js";
import type { Manager } from "../runtime/manager.js";
import type { Clock } from "../util/clock.js";

/** What every controller may depend on; each takes the subset it needs. */
export interface ControllerDeps {
  readonly kube: KubeStore;
  readonly clock: Clock;
  readonly events: EventRecorder;
  readonly metrics: RuntimeMetrics;
}

/**
 * Registers every controller with the manager, with its watches. The Site, ReplicationRelationship,
 * ProtectionGroup and FailoverRun controllers arrive with their issues.
 */
export function registerControllers(_manager: Manager, _deps: ControllerDeps): void {}
