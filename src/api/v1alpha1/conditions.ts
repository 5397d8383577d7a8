import type { JSONSchemaType } from "ajv";

/** A standard Kubernetes condition (metav1.Condition). */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** Condition types. */
export const ConditionType = {
  Ready: "Ready",
  VCenterReachable: "VCenterReachable",
  StorageReachable: "StorageReachable",
  Healthy: "Healthy",
  WithinRPO: "WithinRPO",
  Aligned: "Aligned",
  ShadowInSync: "ShadowInSync",
  ReplicationHealthy: "ReplicationHealthy",
  SplitBrain: "SplitBrain",
  Degraded: "Degraded",
  Succeeded: "Succeeded",
  Progressing: "Progressing",
} as const;

/** Condition reasons: PascalCase causes, machine-readable. */
export const Reason = {
  Reconciling: "Reconciling",
  InvalidSpec: "InvalidSpec",
  InvalidCredentials: "InvalidCredentials",
  SecretNotFound: "SecretNotFound",
  TLSVerificationFailed: "TLSVerificationFailed",
  Unreachable: "Unreachable",
  VCenterUnreachable: "VCenterUnreachable",
  OntapUnreachable: "OntapUnreachable",
  TransferInProgress: "TransferInProgress",
  WaitingForJob: "WaitingForJob",
  StepFailed: "StepFailed",
  CreateIncomplete: "CreateIncomplete",
  Running: "Running",
  Cancelled: "Cancelled",
  Completed: "Completed",
  InUse: "InUse",
  GroupInUse: "GroupInUse",
  Blocked: "Blocked",
  Planned: "Planned",
  DryRun: "DryRun",
  VmsFailed: "VmsFailed",
  Succeeded: "Succeeded",
  CleanedUp: "CleanedUp",
} as const;

export const conditionSchema: JSONSchemaType<Condition> = {
  type: "object",
  required: ["type", "status", "lastTransitionTime", "reason", "message"],
  properties: {
    type: { type: "string", minLength: 1, maxLength: 316, pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$" },
    status: { type: "string", enum: ["True", "False", "Unknown"] },
    observedGeneration: { type: "integer", format: "int64", minimum: 0, nullable: true },
    lastTransitionTime: { type: "string", format: "date-time" },
    reason: { type: "string", minLength: 1, maxLength: 1024, pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$" },
    message: { type: "string", maxLength: 32768 },
  },
};

/** The conditions list as a list-map keyed by type, so server-side apply merges per condition. */
export const conditionsSchema: JSONSchemaType<Condition[]> = {
  type: "array",
  maxItems: 32,
  items: conditionSchema,
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["type"],
};

export interface ConditionInput {
  type: string;
  status: Condition["status"];
  reason: string;
  message?: string;
  observedGeneration?: number;
}

/**
 * Sets a condition in place, keeping lastTransitionTime when the status did not change (so an
 * unchanged condition leaves the status byte-for-byte identical and no write happens).
 * Returns the list for chaining.
 */
export function setCondition(conditions: Condition[], c: ConditionInput, nowIso: string): Condition[] {
  const existing = conditions.find((x) => x.type === c.type);
  const next: Condition = {
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message ?? "",
    lastTransitionTime: existing && existing.status === c.status ? existing.lastTransitionTime : nowIso,
    ...(c.observedGeneration !== undefined ? { observedGeneration: c.observedGeneration } : {}),
  };
  if (existing) Object.assign(existing, next, c.observedGeneration === undefined ? { observedGeneration: undefined } : {});
  else conditions.push(next);
  return conditions;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === "True";
}
