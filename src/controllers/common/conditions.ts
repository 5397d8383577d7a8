import { findCondition, setCondition } from "../../api/v1alpha1/conditions.js";
import type { Condition } from "../../api/v1alpha1/conditions.js";
import type { EventRecorder } from "../../runtime/events.js";
import type { KubeObject } from "../../kube/types.js";
import { rfc3339 } from "../../util/clock.js";
import type { Clock } from "../../util/clock.js";

/** Sets conditions on a status being built, all stamped with the object's generation. */
export class ConditionSetter {
  constructor(
    private readonly conditions: Condition[],
    private readonly generation: number | undefined,
    private readonly clock: Clock,
  ) {}

  set(type: string, status: boolean | "Unknown", reason: string, message = ""): void {
    setCondition(
      this.conditions,
      { type, status: status === "Unknown" ? "Unknown" : status ? "True" : "False", reason, message, observedGeneration: this.generation },
      rfc3339(this.clock.now()),
    );
  }

  /** Drops a condition that no longer applies (SplitBrain once a group is home). */
  remove(type: string): void {
    const i = this.conditions.findIndex((c) => c.type === type);
    if (i >= 0) this.conditions.splice(i, 1);
  }
}

/**
 * Records an Event for each listed condition whose status changed between `before` and `after`, or
 * that stayed False with a different reason: Normal when it became True, Warning when False.
 * Events mark transitions only, so a steady state records nothing.
 */
export function recordTransitions(
  events: EventRecorder,
  obj: KubeObject,
  before: readonly Condition[] | undefined,
  after: readonly Condition[] | undefined,
  types: readonly string[],
): void {
  for (const type of types) {
    const was = findCondition(before, type);
    const now = findCondition(after, type);
    // A new status, or a new reason for a failure (SecretNotFound → InvalidCredentials) is news.
    if (!now || (was?.status === now.status && (now.status !== "False" || was.reason === now.reason))) continue;
    if (now.status === "True") events.normal(obj, now.reason, now.message || `${type} is True`);
    else if (now.status === "False") events.warning(obj, now.reason, now.message || `${type} is False`);
  }
}
