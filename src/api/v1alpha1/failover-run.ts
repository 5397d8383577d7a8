import type { JSONSchemaType } from "ajv";
import type { ResourceType, StatusObject } from "../../kube/types.js";
import { conditionsSchema } from "./conditions.js";
import type { Condition } from "./conditions.js";
import { ageColumn, duration, objectName, optional, stringEnum, timestamp, withDefault } from "./common.js";
import type { KindDefinition } from "./common.js";
import { GROUP, VERSION } from "./meta.js";

export const RUN_TYPES = ["Test", "CleanupTest", "PlannedMigration", "Disaster", "Failback", "Reprotect"] as const;
export type RunType = (typeof RUN_TYPES)[number];

/** Run types that change production: they need spec.confirmation set to the type's name. */
export const DISRUPTIVE_RUN_TYPES: readonly RunType[] = ["PlannedMigration", "Disaster", "Failback", "Reprotect"];

export type NetworkMode = "Isolated" | "Mapped" | "Disconnected";

export interface FailoverRunSpec {
  type: RunType;
  /** The ProtectionGroups (same namespace) this run acts on... */
  protectionGroups?: string[];
  /** ...or every ProtectionGroup whose protected site is this Site (a whole-site failover). */
  site?: string;
  /** CleanupTest: the Test run to clean up; the newest Test run of the groups when omitted. */
  testRun?: string;
  /** Where recovered NICs connect: Isolated (test portgroup), Mapped (network mappings), Disconnected. */
  networkMode?: NetworkMode;
  powerOn?: {
    /** VMs powered on at once. */
    concurrency?: number;
    /** Priority follows the groups' priority order; AllAtOnce ignores it. */
    order?: "Priority" | "AllAtOnce";
    /** How long one VM may take to become ready. */
    vmTimeout?: string;
  };
  /** Apply the groups' IP customization rules (default: on for failovers, off for tests). */
  reIp?: boolean;
  capacity?: { action?: "None" | "Throttle" | "Suspend" };
  /** Compute and show the plan; change nothing. */
  dryRun?: boolean;
  /** Disruptive runs (PlannedMigration, Disaster, Failback, Reprotect) must repeat their type here. */
  confirmation?: string;
}

export type StepState = "Pending" | "Running" | "Succeeded" | "Failed" | "Skipped" | "Blocked";

export interface StepRecord {
  name: string;
  state: StepState;
  attempts: number;
  startedAt?: string;
  completedAt?: string;
  /** Written before an external action starts, so a restart knows one may have. */
  intentAt?: string;
  message?: string;
  operation?: { system: "ontap" | "vsphere" | "kube"; kind: "job" | "task"; id: string; startedAt: string };
}

export type VmRecoveryState = "Pending" | "Registered" | "Configured" | "PoweredOn" | "Ready" | "Failed" | "Skipped";

export interface VmResult {
  name: string;
  group: string;
  instanceUuid?: string;
  state: VmRecoveryState;
  message?: string;
  readyAt?: string;
}

export interface RecoveryPoint {
  relationship: string;
  snapshot: string;
  createTime?: string;
}

export interface FailoverRunStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  startedAt?: string;
  completedAt?: string;
  /** Derived from steps, for printer columns. */
  currentStep?: string;
  plan?: { groups: string[]; vmCount: number; steps: string[] };
  steps?: StepRecord[];
  vms?: VmResult[];
  rtoSeconds?: number;
  recoveryPoints?: RecoveryPoint[];
}

export type FailoverRun = StatusObject<FailoverRunStatus> & { spec: FailoverRunSpec };

export const FailoverRunType: ResourceType<FailoverRun> = {
  group: GROUP,
  version: VERSION,
  kind: "FailoverRun",
  plural: "failoverruns",
  namespaced: true,
};

const disruptiveList = DISRUPTIVE_RUN_TYPES.map((t) => `'${t}'`).join(", ");

export const failoverRunSpecSchema: JSONSchemaType<FailoverRunSpec> = {
  type: "object",
  required: ["type"],
  properties: {
    type: stringEnum<RunType>(RUN_TYPES),
    protectionGroups: optional({
      type: "array",
      minItems: 1,
      maxItems: 64,
      items: objectName,
      "x-kubernetes-list-type": "set",
    }),
    site: optional(objectName),
    testRun: optional(objectName),
    networkMode: optional(stringEnum<NetworkMode>(["Isolated", "Mapped", "Disconnected"])),
    powerOn: optional({
      type: "object",
      properties: {
        concurrency: withDefault<number>({ type: "integer", minimum: 1, maximum: 1000 }, 10),
        order: withDefault(stringEnum(["Priority", "AllAtOnce"] as const), "Priority"),
        vmTimeout: withDefault(duration, "10m"),
      },
      additionalProperties: false,
    }),
    reIp: optional({ type: "boolean" }),
    capacity: optional({
      type: "object",
      properties: { action: withDefault(stringEnum(["None", "Throttle", "Suspend"] as const), "None") },
      additionalProperties: false,
    }),
    dryRun: withDefault<boolean>({ type: "boolean" }, false),
    confirmation: optional({ type: "string", maxLength: 64 }),
  },
  additionalProperties: false,
  "x-kubernetes-validations": [
    { rule: "self == oldSelf", message: "spec is immutable: a FailoverRun is one operation; create a new FailoverRun instead" },
    { rule: "has(self.protectionGroups) != has(self.site)", message: "set exactly one of protectionGroups or site" },
    {
      rule: `!(self.type in [${disruptiveList}]) || (has(self.confirmation) && self.confirmation == self.type)`,
      messageExpression: "'confirmation: a ' + self.type + ' run is disruptive; set spec.confirmation to \"' + self.type + '\" to confirm it'",
      fieldPath: ".confirmation",
      reason: "FieldValueRequired",
    },
    { rule: "!has(self.testRun) || self.type == 'CleanupTest'", message: "testRun is only valid for CleanupTest runs", fieldPath: ".testRun" },
  ],
};

const stepRecord: JSONSchemaType<StepRecord> = {
  type: "object",
  required: ["name", "state", "attempts"],
  properties: {
    name: { type: "string" },
    state: stringEnum<StepState>(["Pending", "Running", "Succeeded", "Failed", "Skipped", "Blocked"]),
    attempts: { type: "integer", minimum: 0 },
    startedAt: optional(timestamp),
    completedAt: optional(timestamp),
    intentAt: optional(timestamp),
    message: optional({ type: "string", maxLength: 4096 }),
    operation: optional({
      type: "object",
      required: ["system", "kind", "id", "startedAt"],
      properties: {
        system: stringEnum(["ontap", "vsphere", "kube"] as const),
        kind: stringEnum(["job", "task"] as const),
        id: { type: "string" },
        startedAt: timestamp,
      },
    }),
  },
};

export const failoverRunStatusSchema: JSONSchemaType<FailoverRunStatus> = {
  type: "object",
  properties: {
    observedGeneration: optional({ type: "integer", format: "int64" }),
    conditions: optional(conditionsSchema),
    startedAt: optional(timestamp),
    completedAt: optional(timestamp),
    currentStep: optional({ type: "string" }),
    plan: optional({
      type: "object",
      required: ["groups", "vmCount", "steps"],
      properties: {
        groups: { type: "array", maxItems: 64, items: { type: "string" } },
        vmCount: { type: "integer" },
        steps: { type: "array", maxItems: 64, items: { type: "string" } },
      },
    }),
    steps: optional({
      type: "array",
      maxItems: 64,
      items: stepRecord,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    }),
    vms: optional({
      type: "array",
      maxItems: 20000,
      items: {
        type: "object",
        required: ["name", "group", "state"],
        properties: {
          name: { type: "string" },
          group: { type: "string" },
          instanceUuid: optional({ type: "string" }),
          state: stringEnum<VmRecoveryState>(["Pending", "Registered", "Configured", "PoweredOn", "Ready", "Failed", "Skipped"]),
          message: optional({ type: "string", maxLength: 1024 }),
          readyAt: optional(timestamp),
        },
      },
    }),
    rtoSeconds: optional({ type: "integer", format: "int64" }),
    recoveryPoints: optional({
      type: "array",
      maxItems: 256,
      items: {
        type: "object",
        required: ["relationship", "snapshot"],
        properties: { relationship: { type: "string" }, snapshot: { type: "string" }, createTime: optional(timestamp) },
      },
    }),
  },
};

export const failoverRunKind: KindDefinition<FailoverRunSpec, FailoverRunStatus> = {
  kind: "FailoverRun",
  plural: "failoverruns",
  singular: "failoverrun",
  shortNames: ["fr", "drrun"],
  scope: "Namespaced",
  description:
    "One DR operation on one or more ProtectionGroups, like a Job: a test, its cleanup, a planned migration, a disaster failover, a failback or a reprotect. Its status is the live runbook.",
  spec: failoverRunSpecSchema,
  status: failoverRunStatusSchema,
  printerColumns: [
    { name: "Type", type: "string", jsonPath: ".spec.type" },
    { name: "Step", type: "string", jsonPath: ".status.currentStep" },
    { name: "Succeeded", type: "string", jsonPath: '.status.conditions[?(@.type=="Succeeded")].status' },
    { name: "Reason", type: "string", jsonPath: '.status.conditions[?(@.type=="Succeeded")].reason', priority: 1 },
    { name: "RTO", type: "integer", jsonPath: ".status.rtoSeconds", description: "Seconds from start to the last VM ready" },
    ageColumn,
  ],
};
