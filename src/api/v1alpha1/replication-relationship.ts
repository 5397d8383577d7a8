import type { JSONSchemaType } from "ajv";
import type { ResourceType, StatusObject } from "../../kube/types.js";
import { conditionsSchema } from "./conditions.js";
import type { Condition } from "./conditions.js";
import { ageColumn, duration, externalName, objectName, optional, readyColumn, reasonColumn, stringEnum, timestamp, withDefault } from "./common.js";
import type { KindDefinition } from "./common.js";
import { GROUP, VERSION } from "./meta.js";

/** One end of a SnapMirror relationship. */
export interface VolumeEndpoint {
  /** The Site whose array holds the volume. */
  siteRef: string;
  /** The Site's storage controller by name; the Site's first controller when omitted. */
  controller?: string;
  /** The SVM; the controller's SVM when omitted. */
  svm?: string;
  /** The FlexVol volume, by name. */
  volume: string;
}

export type DesiredReplicationState = "Mirrored" | "Paused" | "BrokenOff";

export interface ReplicationRelationshipSpec {
  /** The protected volume (the datastore's). */
  source: VolumeEndpoint;
  /** The replica (a DP volume, usually named <source>_SM). */
  destination: VolumeEndpoint;
  /** The SnapMirror policy. */
  policy?: {
    /** Async (SnapMirror) or Sync (SnapMirror Synchronous). */
    type?: "Async" | "Sync";
    /** ONTAP policy name; MirrorAllSnapshots for Async, Sync for Sync, when omitted. */
    name?: string;
  };
  /** An ONTAP schedule name (e.g. "hourly"). Mutually exclusive with updateInterval. */
  schedule?: string;
  /** Without an ONTAP schedule, the operator starts an update this often (e.g. "15m"). */
  updateInterval?: string;
  /** The recovery point objective: lag beyond this is an RPO breach (e.g. "1h"). */
  rpo: string;
  /** Mirrored keeps it replicating (resyncing one that was broken off); Paused quiesces it; BrokenOff makes the replica writable. */
  desiredState?: DesiredReplicationState;
  /** Forward replicates source → destination; Reverse replicates destination → source (after a failover). */
  direction?: "Forward" | "Reverse";
  /** Retain leaves the SnapMirror relationship when this object is deleted; Release deletes it. */
  deletionPolicy?: "Retain" | "Release";
  /** With deletionPolicy Release: also delete the common snapshots (default keeps them). */
  releaseDeletesSnapshots?: boolean;
}

export interface PendingOperation {
  /** ONTAP job uuid. */
  id: string;
  /** What the job does (Create, Initialize, Update, Quiesce, Resume, Break, Resync, Delete, Release). */
  operation: string;
  startedAt: string;
}

export interface ReplicationRelationshipStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  uuid?: string;
  /** ONTAP relationship state: snapmirrored, uninitialized, paused, broken_off, in_sync, out_of_sync, ... */
  state?: string;
  transferState?: string;
  healthy?: boolean;
  unhealthyReasons?: string[];
  lagSeconds?: number;
  lastTransfer?: { endTime?: string; bytes?: number; durationSeconds?: number };
  newestSnapshot?: { name: string; createTime?: string };
  pendingOperation?: PendingOperation;
  lastUpdateRequestedAt?: string;
  /** Set when this controller broke the relationship off for desiredState BrokenOff (so Mirrored means resync). */
  brokenOffByOperator?: boolean;
  /** Where the relationship lives: the cluster of the destination (Forward) or of the source (Reverse). */
  activeDestination?: string;
}

export type ReplicationRelationship = StatusObject<ReplicationRelationshipStatus> & { spec: ReplicationRelationshipSpec };

export const ReplicationRelationshipType: ResourceType<ReplicationRelationship> = {
  group: GROUP,
  version: VERSION,
  kind: "ReplicationRelationship",
  plural: "replicationrelationships",
  namespaced: true,
};

const volumeEndpoint: JSONSchemaType<VolumeEndpoint> = {
  type: "object",
  required: ["siteRef", "volume"],
  properties: {
    siteRef: objectName,
    controller: optional({ type: "string", minLength: 1, maxLength: 63 }),
    svm: optional(externalName),
    volume: { type: "string", minLength: 1, maxLength: 203, pattern: "^[A-Za-z_][A-Za-z0-9_]*$" },
  },
  additionalProperties: false,
};

export const replicationRelationshipSpecSchema: JSONSchemaType<ReplicationRelationshipSpec> = {
  type: "object",
  required: ["source", "destination", "rpo"],
  properties: {
    source: volumeEndpoint,
    destination: volumeEndpoint,
    policy: optional({
      type: "object",
      properties: {
        type: withDefault(stringEnum(["Async", "Sync"] as const), "Async"),
        name: optional(externalName),
      },
      additionalProperties: false,
    }),
    schedule: optional(externalName),
    updateInterval: optional(duration),
    rpo: duration,
    desiredState: withDefault(stringEnum<DesiredReplicationState>(["Mirrored", "Paused", "BrokenOff"]), "Mirrored"),
    direction: withDefault(stringEnum(["Forward", "Reverse"] as const), "Forward"),
    deletionPolicy: withDefault(stringEnum(["Retain", "Release"] as const), "Retain"),
    releaseDeletesSnapshots: withDefault<boolean>({ type: "boolean" }, false),
  },
  additionalProperties: false,
  "x-kubernetes-validations": [
    { rule: "!(has(self.schedule) && has(self.updateInterval))", message: "set at most one of schedule or updateInterval" },
    {
      rule: "!(self.source.siteRef == self.destination.siteRef && self.source.volume == self.destination.volume)",
      message: "source and destination must be different volumes",
    },
    { rule: "self.source == oldSelf.source && self.destination == oldSelf.destination", message: "source and destination are immutable; create a new ReplicationRelationship" },
  ],
};

export const replicationRelationshipStatusSchema: JSONSchemaType<ReplicationRelationshipStatus> = {
  type: "object",
  properties: {
    observedGeneration: optional({ type: "integer", format: "int64" }),
    conditions: optional(conditionsSchema),
    uuid: optional({ type: "string" }),
    state: optional({ type: "string" }),
    transferState: optional({ type: "string" }),
    healthy: optional({ type: "boolean" }),
    unhealthyReasons: optional({ type: "array", maxItems: 16, items: { type: "string" } }),
    lagSeconds: optional({ type: "integer", format: "int64" }),
    lastTransfer: optional({
      type: "object",
      properties: {
        endTime: optional(timestamp),
        bytes: optional({ type: "integer", format: "int64" }),
        durationSeconds: optional({ type: "integer", format: "int64" }),
      },
    }),
    newestSnapshot: optional({
      type: "object",
      required: ["name"],
      properties: { name: { type: "string" }, createTime: optional(timestamp) },
    }),
    pendingOperation: optional({
      type: "object",
      required: ["id", "operation", "startedAt"],
      properties: { id: { type: "string" }, operation: { type: "string" }, startedAt: timestamp },
    }),
    lastUpdateRequestedAt: optional(timestamp),
    brokenOffByOperator: optional({ type: "boolean" }),
    activeDestination: optional({ type: "string" }),
  },
};

export const replicationRelationshipKind: KindDefinition<ReplicationRelationshipSpec, ReplicationRelationshipStatus> = {
  kind: "ReplicationRelationship",
  plural: "replicationrelationships",
  singular: "replicationrelationship",
  shortNames: ["rr", "drrepl"],
  scope: "Namespaced",
  description: "One SnapMirror relationship between a source volume and a destination volume, in a desired state and direction.",
  spec: replicationRelationshipSpecSchema,
  status: replicationRelationshipStatusSchema,
  printerColumns: [
    { name: "Source", type: "string", jsonPath: ".spec.source.volume" },
    { name: "Destination", type: "string", jsonPath: ".spec.destination.volume" },
    { name: "Desired", type: "string", jsonPath: ".spec.desiredState" },
    { name: "State", type: "string", jsonPath: ".status.state" },
    { name: "Lag", type: "integer", jsonPath: ".status.lagSeconds", description: "Seconds since the newest common snapshot" },
    { name: "RPO", type: "string", jsonPath: ".spec.rpo" },
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
};
