import type { JSONSchemaType } from "ajv";
import { optional, stringEnum, timestamp } from "./common.js";

/**
 * The persisted shapes of the step engine (src/engine): step records and the per-item bookkeeping
 * of batch steps. FailoverRun status and a ProtectionGroup's pre-registration batch both carry them.
 */

/** A handle on an external asynchronous operation (a vCenter task, an ONTAP job). */
export interface Handle {
  readonly system: "vsphere" | "ontap";
  /** The Site name for vSphere, "site/controller" for ONTAP. */
  readonly endpoint: string;
  readonly kind: "task" | "job";
  /** The task's managed object id ("task-123") or the job's uuid. */
  readonly id: string;
  readonly startedAt: string;
}

export type StepState = "Pending" | "Running" | "Succeeded" | "Failed" | "Skipped" | "Blocked";

export interface StepRecord {
  name: string;
  state: StepState;
  attempts: number;
  startedAt?: string;
  completedAt?: string;
  /** Written before a non-idempotent act, so a restart knows the act may have happened. */
  intentAt?: string;
  message?: string;
  /** Operations this step started and has not yet seen finish. */
  operations?: Handle[];
  /** No act before this time (a retry's backoff, or a wait). */
  notBefore?: string;
}

/** The engine's bookkeeping for one item of a batch step, kept on the item's own record. */
export interface ItemOp {
  /** The step this bookkeeping belongs to (reset when the item moves on). */
  step: string;
  attempts: number;
  /** When this step first acted on the item (for its timeout). */
  startedAt?: string;
  intentAt?: string;
  handle?: Handle;
  notBefore?: string;
  /** The last failure (kept for the message when attempts run out). */
  error?: string;
  /** This step is through with the item. */
  done?: boolean;
  settled?: "Failed" | "Skipped";
}

export const handleSchema: JSONSchemaType<Handle> = {
  type: "object",
  required: ["system", "endpoint", "kind", "id", "startedAt"],
  properties: {
    system: stringEnum(["vsphere", "ontap"] as const),
    endpoint: { type: "string", maxLength: 512 },
    kind: stringEnum(["task", "job"] as const),
    id: { type: "string", maxLength: 256 },
    startedAt: timestamp,
  },
};

export const stepRecordSchema: JSONSchemaType<StepRecord> = {
  type: "object",
  required: ["name", "state", "attempts"],
  properties: {
    name: { type: "string", maxLength: 64 },
    state: stringEnum<StepState>(["Pending", "Running", "Succeeded", "Failed", "Skipped", "Blocked"]),
    attempts: { type: "integer", minimum: 0 },
    startedAt: optional(timestamp),
    completedAt: optional(timestamp),
    intentAt: optional(timestamp),
    message: optional({ type: "string", maxLength: 4096 }),
    operations: optional({ type: "array", maxItems: 512, items: handleSchema }),
    notBefore: optional(timestamp),
  },
};

export const stepRecordsSchema: JSONSchemaType<StepRecord[]> = {
  type: "array",
  maxItems: 64,
  items: stepRecordSchema,
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["name"],
};

export const itemOpSchema: JSONSchemaType<ItemOp> = {
  type: "object",
  required: ["step", "attempts"],
  properties: {
    step: { type: "string", maxLength: 64 },
    attempts: { type: "integer", minimum: 0 },
    startedAt: optional(timestamp),
    intentAt: optional(timestamp),
    handle: optional(handleSchema),
    notBefore: optional(timestamp),
    error: optional({ type: "string", maxLength: 2048 }),
    done: optional({ type: "boolean" }),
    settled: optional(stringEnum(["Failed", "Skipped"] as const)),
  },
};
