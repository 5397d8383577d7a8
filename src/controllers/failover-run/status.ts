import { ConditionType } from "../../api/v1alpha1/index.js";
import type { FailoverRunStatus } from "../../api/v1alpha1/index.js";
import type { ConditionSetter } from "../common/conditions.js";
import type { RunStore } from "./store.js";

/** Ends the run: Succeeded True or False (it never changes again), Progressing False. */
export function finish(status: FailoverRunStatus, cond: ConditionSetter, reason: string, message: string, now: number, ok = false): void {
  status.completedAt = new Date(now).toISOString();
  cond.set(ConditionType.Succeeded, ok, reason, message);
  cond.set(ConditionType.Progressing, false, reason, message);
}

/** Seconds from the first step's start to the last VM ready (undefined until a VM is ready). */
export function rtoSeconds(store: RunStore): number | undefined {
  const first = store.status.steps?.[0]?.startedAt;
  const ready = store.vms.map((v) => v.readyAt).filter((t): t is string => t !== undefined).sort();
  const last = ready.at(-1);
  if (!first || !last) return undefined;
  return Math.round((Date.parse(last) - Date.parse(first)) / 100) / 10;
}
