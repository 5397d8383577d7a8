import { randomBytes } from "node:crypto";

/** A short random id for correlating the log lines of one reconcile. */
export function newReconcileId(): string {
  return randomBytes(8).toString("hex");
}
