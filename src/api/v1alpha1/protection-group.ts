import type { JSONSchemaType } from "ajv";
import type { ResourceType, StatusObject } from "../../kube/types.js";
import { conditionsSchema } from "./conditions.js";
import type { Condition } from "./conditions.js";
import {
  ageColumn, cidr, duration, externalName, inventoryPath, ipAddress, ipList, objectName, optional, readyColumn,
  reasonColumn, stringEnum, timestamp, withDefault,
} from "./common.js";
import type { KindDefinition } from "./common.js";
import { GROUP, VERSION } from "./meta.js";
import type { DnsSettings } from "../../dns/config.js";
import { cleanupReportSchema, nasExportSchema, recoveryPointsSchema, vmRecordSchema, volumeRecordSchema } from "./failover-run.js";
import type { FailoverRunStatus, NasExport, RecoveryPoint, VmRecord, VolumeRecord } from "./failover-run.js";
import { stepRecordsSchema } from "./steps.js";
import type { StepRecord } from "./steps.js";

/** VMs one pre-registration batch registers at most; more wait for the next batch. */
export const PRE_REGISTRATION_BATCH = 200;

export interface FolderNameRule {
  from: string;
  to: string;
}

export interface ShadowLayout {
  /** Folder path at the recovery site under which the protected tree is mirrored. */
  rootFolder: string;
  /** How protected folder names map to shadow names, e.g. prefix "Site1-" → "Site1-Finance Servers". */
  folderNameMapping?: { prefix?: string; rules?: FolderNameRule[] };
  /** Resource pool path (in the recovery cluster) recovered VMs go into. */
  resourcePool: string;
  /** The recovery compute cluster; the datacenter's first cluster when omitted. */
  cluster?: string;
  /** Pre-register placeholder VMs from FlexClones of the mirrors (VMbook ch. 11). */
  preRegister?: boolean;
  /** How long to batch membership changes before a pre-registration pass. */
  preRegisterDebounce?: string;
  /** How long a VM removed at the protected site keeps its placeholder. */
  removalGracePeriod?: string;
  /** Retain leaves the shadow objects when the group is deleted; Remove deletes those the operator made. */
  deletionPolicy?: "Retain" | "Remove";
}

export interface NetworkMapping {
  /** A portgroup at the protected site, by name. */
  protectedPortgroup: string;
  /** Where its NICs connect at the recovery site after a failover (and back, after a failback). */
  recoveryPortgroup: string;
  /** Where this network's NICs go during a DR test; the group's testPortgroup when omitted. */
  testPortgroup?: string;
}

export interface IpRule {
  /** A guest address in this network... */
  fromCidr: string;
  /** ...gets the same host part in this one (docs/reip.md). */
  toCidr: string;
  /** The default gateway at the recovery site; the Site network's gateway when omitted. */
  gateway?: string;
  /** The DNS servers at the recovery site; the Site network's when omitted. */
  dns?: string[];
}

export interface NicOverride {
  /** NIC position in the VM (0 = first). */
  index: number;
  /** The address this NIC gets at the recovery site. */
  ip: string;
  prefixLength: number;
  gateway?: string;
  dns?: string[];
}

export interface Readiness {
  /** Wait for the VMware Tools heartbeat (default true). */
  toolsHeartbeat?: boolean;
  /** And a TCP connection to this port of the guest's address succeeds. */
  tcp?: { port: number };
  /** And an HTTP GET of the guest's address answers with a status below 400. */
  http?: { port: number; path?: string; scheme?: "http" | "https" };
}

export interface PriorityGroup {
  /** Its name, for dependsOn and the run's records. */
  name: string;
  /** Lower starts first. */
  priority: number;
  /** VM names or glob patterns. */
  vms: string[];
  /** Other priority groups that must be ready first. */
  dependsOn?: string[];
  /** When its VMs count as ready; the group's defaultReadiness when omitted. */
  readiness?: Readiness;
  /** How long each of its VMs may take to become ready; the run's vmTimeout when omitted. */
  timeout?: string;
}

export type ReipMethod = "GuestCustomization" | "GuestScript";

export interface ProtectionGroupSpec {
  /** The Site the VMs run at in normal operation. */
  protectedSiteRef: string;
  /** The Site they recover to. */
  recoverySiteRef: string;
  /** ReplicationRelationships (same namespace) whose destination volumes carry this group's datastores. */
  replicationRefs: string[];
  /** Which VMs the group protects: those under a folder (recursively) and/or matching names. */
  vms: {
    /** A VM folder path at the protected site; its VMs and those of its subfolders. */
    folder?: string;
    /** VM names or glob patterns (e.g. "HR-*"). */
    namePatterns?: string[];
    /** VM names or patterns left out. */
    excludeNames?: string[];
  };
  /** Where the recovery site's shadow inventory (folders, resource pools, placeholders) lives. */
  shadow: ShadowLayout;
  /** Which recovery portgroup each protected portgroup's NICs move to. */
  networkMappings?: NetworkMapping[];
  /** The isolated portgroup at the recovery site used for DR tests. */
  testPortgroup?: string;
  ipCustomization?: {
    rules?: IpRule[];
    overrides?: { vm: string; nics: NicOverride[] }[];
    /**
     * How a recovered guest gets its new addresses (docs/reip.md): GuestCustomization (the default)
     * by CustomizeVM_Task; GuestScript, the VMbook's appendix B way, by the guest's own VMware Tools
     * power-on script reading the guest variable guestinfo.vmdr.reip at a first boot with its NICs
     * disconnected, which are connected and the scripts turned off once the address shows.
     */
    method?: ReipMethod;
  };
  powerOn?: { priorityGroups?: PriorityGroup[]; defaultReadiness?: Readiness };
  /** VMs local to the recovery site that start with the group (e.g. a directory server). */
  auxiliaryVms?: { name: string; priority?: number }[];
  /**
   * What the group must achieve, for reports and alerts (the RPO is each relationship's). rto: the
   * longest a run may take from its start to the last VM ready ("15m"); testInterval: the longest
   * the group may go without a successful Test ("720h" for monthly).
   */
  objectives?: { rto?: string; testInterval?: string };
  /**
   * How replicas and clones of the group's VMFS datastores are mounted at the recovery site (ESXi
   * sees them as unresolved VMFS copies): KeepSignature force-mounts them with their signature
   * (never where another copy of the same VMFS is mounted at the site); Resignature gives them a
   * new signature and renames the snap-xxxxxxxx- datastore back to its name.
   */
  vmfsCopies?: "KeepSignature" | "Resignature";
  /**
   * The recovery site's DNS server whose A and PTR records follow re-addressed VMs (docs/dns.md):
   * dynamic updates signed with the TSIG key in a Secret of the group's namespace.
   */
  dns?: DnsSettings;
}

export type AlignmentProblemKind = "VmOutsideGroupDatastores" | "StrayVm" | "SharedDatastore" | "VmInMultipleGroups";

export interface AlignmentProblem {
  kind: AlignmentProblemKind;
  /** The VM or datastore concerned. */
  subject: string;
  message: string;
}

/** Where a group stands in a failover sequence (see ProtectionGroupStatus.failover). */
/** An NFS replica's export before a failover changed it (see NasExport). */
export interface ReplicaExport extends NasExport {
  relationship: string;
  controller?: string;
  svm: string;
  volume: string;
}

export type FailoverState = "FailingOver" | "FailedOver" | "FailingBack" | "FailedBack";

export interface ProtectionGroupStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  counts?: { members: number; shadowed: number; placeholders: number; problems: number };
  datastores?: string[];
  /**
   * Per relationship: its source volume, the datastores that volume carries at the protected site
   * (empty: none found) and how it is presented (SAN LUNs or an NFS export). What a failover mounts
   * at the recovery site, known even when the protected site is lost.
   */
  volumes?: { relationship: string; volume: string; datastores: string[]; protocol?: "SAN" | "NFS" }[];
  /**
   * The protected site's networks the group's VMs use, with a distributed portgroup's key: how a
   * recovered NIC (still backed by the protected site's portgroup) is matched to its mapping.
   */
  protectedNetworks?: { name: string; portgroupKey?: string }[];
  /** The first problems found (bounded); counts.problems has the total. */
  problems?: AlignmentProblem[];
  /** The FailoverRun that holds this group; no other run may start while it is set. */
  activeRun?: { name: string; uid: string; type: string; since: string };
  /**
   * Where the group runs, once a run passed its point of no return (the first break of a mirror):
   * FailingOver / FailedOver (to and at its recovery site, by a PlannedMigration or Disaster),
   * FailingBack / FailedBack (to and at home again, by a Failback, awaiting its Reprotect).
   * `runningAt` is the site the group runs (or is being brought up) at. A Reprotect clears it.
   * `replicaExports`: how the NFS replicas at the recovery site were exported before the failover
   * presented them (carried through the Failback), so the Reprotect restores them.
   */
  failover?: { state: FailoverState; runningAt: string; run: string; type: string; at: string; replicaExports?: ReplicaExport[] };
  /** The newest Test of the group that succeeded: the last time recovery was proven (written by the run). */
  lastSuccessfulTest?: { run: string; completedAt: string; rtoSeconds?: number; rtoObjectiveMet?: boolean };
  lastFullSyncTime?: string;
  /**
   * The resource pool path (below the recovery cluster's root pool) whose pools this group created;
   * deletionPolicy Remove removes them when empty and no other group uses them.
   */
  createdPool?: string;
  /**
   * A pre-registration batch in progress (VMbook ch. 11), run by the step engine like a
   * FailoverRun: its steps, the replicas it clones and the VMs it registers, persisted so a restart
   * or a new leader resumes it.
   */
  preRegistration?: PreRegistrationBatch;
  /** VMs a batch could not register because their files were newer than the replica; they wait for a transfer past these snapshots. */
  awaitingReplication?: { snapshots: { volume: string; snapshot: string }[]; vms: string[] };
  /** The last batch that left VMs unregistered for another reason: no new batch for a while (clones are not free). */
  preRegistrationFailure?: { at: string; message: string };
}

export interface PreRegistrationBatch {
  startedAt: string;
  steps: StepRecord[];
  /** After a failed step: the cleanup that removes the batch's clones. */
  cleanupSteps?: StepRecord[];
  volumes: VolumeRecord[];
  vms: VmRecord[];
  recoveryPoints?: RecoveryPoint[];
  cleanup?: FailoverRunStatus["cleanup"];
}

export type ProtectionGroup = StatusObject<ProtectionGroupStatus> & { spec: ProtectionGroupSpec };

export const ProtectionGroupType: ResourceType<ProtectionGroup> = {
  group: GROUP,
  version: VERSION,
  kind: "ProtectionGroup",
  plural: "protectiongroups",
  namespaced: true,
};

const readiness: JSONSchemaType<Readiness> = {
  type: "object",
  properties: {
    toolsHeartbeat: withDefault<boolean>({ type: "boolean" }, true),
    tcp: optional({
      type: "object",
      required: ["port"],
      properties: { port: { type: "integer", minimum: 1, maximum: 65535 } },
      additionalProperties: false,
    }),
    http: optional({
      type: "object",
      required: ["port"],
      properties: {
        port: { type: "integer", minimum: 1, maximum: 65535 },
        path: optional({ type: "string", maxLength: 1024, pattern: "^/" }),
        scheme: optional(stringEnum(["http", "https"] as const)),
      },
      additionalProperties: false,
    }),
  },
  additionalProperties: false,
};

const dnsName = { type: "string", minLength: 1, maxLength: 253, pattern: "^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\\.?$" } as const;

const dnsSettingsSchema: JSONSchemaType<DnsSettings> = {
  type: "object",
  required: ["server", "zone", "tsig"],
  properties: {
    server: { type: "string", minLength: 1, maxLength: 253 },
    port: optional({ type: "integer", minimum: 1, maximum: 65535 }),
    zone: dnsName,
    reverseZones: optional({
      type: "array",
      maxItems: 64,
      items: {
        type: "object",
        required: ["zone"],
        properties: { zone: { type: "string", minLength: 1, maxLength: 253 }, cidr: optional(cidr) },
        additionalProperties: false,
      },
    }),
    ttl: optional({ type: "integer", minimum: 0, maximum: 2147483647 }),
    tsig: {
      type: "object",
      required: ["keyName", "secretRef"],
      properties: {
        keyName: dnsName,
        algorithm: optional(stringEnum(["hmac-sha256", "hmac-sha512"] as const)),
        secretRef: {
          type: "object",
          required: ["name"],
          properties: { name: objectName, key: optional({ type: "string", minLength: 1, maxLength: 253 }) },
          additionalProperties: false,
        },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

const nameList = (max: number): JSONSchemaType<string[]> => ({ type: "array", maxItems: max, items: externalName });

export const protectionGroupSpecSchema: JSONSchemaType<ProtectionGroupSpec> = {
  type: "object",
  required: ["protectedSiteRef", "recoverySiteRef", "replicationRefs", "vms", "shadow"],
  properties: {
    protectedSiteRef: objectName,
    recoverySiteRef: objectName,
    replicationRefs: {
      type: "array",
      minItems: 1,
      maxItems: 64,
      items: objectName,
      "x-kubernetes-list-type": "set",
    },
    vms: {
      type: "object",
      properties: {
        folder: optional(inventoryPath),
        namePatterns: optional(nameList(256)),
        excludeNames: optional(nameList(1024)),
      },
      additionalProperties: false,
      "x-kubernetes-validations": [
        { rule: "has(self.folder) || has(self.namePatterns)", message: "set folder, namePatterns or both" },
      ],
    },
    shadow: {
      type: "object",
      required: ["rootFolder", "resourcePool"],
      properties: {
        rootFolder: inventoryPath,
        folderNameMapping: optional({
          type: "object",
          properties: {
            prefix: optional({ type: "string", maxLength: 64 }),
            rules: optional({
              type: "array",
              maxItems: 64,
              items: {
                type: "object",
                required: ["from", "to"],
                properties: { from: externalName, to: externalName },
                additionalProperties: false,
              },
            }),
          },
          additionalProperties: false,
        }),
        resourcePool: inventoryPath,
        cluster: optional(externalName),
        preRegister: withDefault<boolean>({ type: "boolean" }, false),
        preRegisterDebounce: withDefault(duration, "10s"),
        removalGracePeriod: withDefault(duration, "1h"),
        deletionPolicy: withDefault(stringEnum(["Retain", "Remove"] as const), "Retain"),
      },
      additionalProperties: false,
    },
    networkMappings: optional({
      type: "array",
      maxItems: 64,
      items: {
        type: "object",
        required: ["protectedPortgroup", "recoveryPortgroup"],
        properties: {
          protectedPortgroup: externalName,
          recoveryPortgroup: externalName,
          testPortgroup: optional(externalName),
        },
        additionalProperties: false,
      },
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["protectedPortgroup"],
    }),
    testPortgroup: optional(externalName),
    ipCustomization: optional({
      type: "object",
      properties: {
        method: optional({ type: "string", enum: ["GuestCustomization", "GuestScript"] }),
        rules: optional({
          type: "array",
          maxItems: 64,
          items: {
            type: "object",
            required: ["fromCidr", "toCidr"],
            properties: { fromCidr: cidr, toCidr: cidr, gateway: optional(ipAddress), dns: optional(ipList) },
            additionalProperties: false,
          },
        }),
        overrides: optional({
          type: "array",
          maxItems: 1024,
          items: {
            type: "object",
            required: ["vm", "nics"],
            properties: {
              vm: externalName,
              nics: {
                type: "array",
                minItems: 1,
                maxItems: 10,
                items: {
                  type: "object",
                  required: ["index", "ip", "prefixLength"],
                  properties: {
                    index: { type: "integer", minimum: 0, maximum: 9 },
                    ip: ipAddress,
                    prefixLength: { type: "integer", minimum: 1, maximum: 128 },
                    gateway: optional(ipAddress),
                    dns: optional(ipList),
                  },
                  additionalProperties: false,
                },
              },
            },
            additionalProperties: false,
          },
        }),
      },
      additionalProperties: false,
    }),
    powerOn: optional({
      type: "object",
      properties: {
        priorityGroups: optional({
          type: "array",
          maxItems: 32,
          items: {
            type: "object",
            required: ["name", "priority", "vms"],
            properties: {
              name: { type: "string", minLength: 1, maxLength: 63 },
              priority: { type: "integer", minimum: 1, maximum: 100 },
              vms: nameList(1024),
              dependsOn: optional({ type: "array", maxItems: 32, items: { type: "string", maxLength: 63 } }),
              readiness: optional(readiness),
              timeout: optional(duration),
            },
            additionalProperties: false,
          },
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["name"],
        }),
        defaultReadiness: optional(readiness),
      },
      additionalProperties: false,
    }),
    vmfsCopies: withDefault(stringEnum(["KeepSignature", "Resignature"] as const), "KeepSignature"),
    auxiliaryVms: optional({
      type: "array",
      maxItems: 64,
      items: {
        type: "object",
        required: ["name"],
        properties: { name: externalName, priority: optional({ type: "integer", minimum: 1, maximum: 100 }) },
        additionalProperties: false,
      },
    }),
    dns: optional(dnsSettingsSchema),
    objectives: optional({
      type: "object",
      properties: { rto: optional(duration), testInterval: optional(duration) },
      additionalProperties: false,
    }),
  },
  additionalProperties: false,
  "x-kubernetes-validations": [
    { rule: "self.protectedSiteRef != self.recoverySiteRef", message: "protectedSiteRef and recoverySiteRef must name different Sites" },
  ],
};

export const protectionGroupStatusSchema: JSONSchemaType<ProtectionGroupStatus> = {
  type: "object",
  properties: {
    observedGeneration: optional({ type: "integer", format: "int64" }),
    conditions: optional(conditionsSchema),
    counts: optional({
      type: "object",
      required: ["members", "shadowed", "placeholders", "problems"],
      properties: {
        members: { type: "integer" },
        shadowed: { type: "integer" },
        placeholders: { type: "integer" },
        problems: { type: "integer" },
      },
    }),
    datastores: optional({ type: "array", maxItems: 256, items: { type: "string" } }),
    volumes: optional({
      type: "array",
      maxItems: 64,
      items: {
        type: "object",
        required: ["relationship", "volume", "datastores"],
        properties: {
          relationship: { type: "string", maxLength: 253 },
          volume: { type: "string", maxLength: 255 },
          datastores: { type: "array", maxItems: 64, items: { type: "string", maxLength: 255 } },
          protocol: optional(stringEnum(["SAN", "NFS"] as const)),
        },
      },
    }),
    protectedNetworks: optional({
      type: "array",
      maxItems: 256,
      items: {
        type: "object",
        required: ["name"],
        properties: { name: { type: "string", maxLength: 255 }, portgroupKey: optional({ type: "string", maxLength: 255 }) },
      },
    }),
    problems: optional({
      type: "array",
      maxItems: 100,
      items: {
        type: "object",
        required: ["kind", "subject", "message"],
        properties: {
          kind: stringEnum<AlignmentProblemKind>(["VmOutsideGroupDatastores", "StrayVm", "SharedDatastore", "VmInMultipleGroups"]),
          subject: { type: "string" },
          message: { type: "string" },
        },
      },
    }),
    activeRun: optional({
      type: "object",
      required: ["name", "uid", "type", "since"],
      properties: { name: { type: "string" }, uid: { type: "string" }, type: { type: "string" }, since: timestamp },
    }),
    lastSuccessfulTest: optional({
      type: "object",
      required: ["run", "completedAt"],
      properties: { run: { type: "string", maxLength: 253 }, completedAt: timestamp, rtoSeconds: optional({ type: "number", minimum: 0 }), rtoObjectiveMet: optional({ type: "boolean" }) },
    }),
    failover: optional({
      type: "object",
      required: ["state", "runningAt", "run", "type", "at"],
      properties: {
        state: stringEnum(["FailingOver", "FailedOver", "FailingBack", "FailedBack"] as const),
        runningAt: { type: "string", maxLength: 253 },
        run: { type: "string", maxLength: 253 },
        type: { type: "string", maxLength: 64 },
        at: timestamp,
        replicaExports: optional({
          type: "array",
          maxItems: 64,
          items: {
            type: "object",
            required: ["relationship", "svm", "volume"],
            properties: {
              relationship: { type: "string", maxLength: 253 },
              controller: optional({ type: "string", maxLength: 63 }),
              svm: { type: "string", maxLength: 255 },
              volume: { type: "string", maxLength: 255 },
              ...nasExportSchema.properties,
            },
          },
        }),
      },
    }),
    lastFullSyncTime: optional(timestamp),
    createdPool: optional({ type: "string", maxLength: 1024 }),
    preRegistration: optional({
      type: "object",
      required: ["startedAt", "steps", "volumes", "vms"],
      properties: {
        startedAt: timestamp,
        steps: stepRecordsSchema,
        cleanupSteps: optional(stepRecordsSchema),
        volumes: { type: "array", maxItems: 64, items: volumeRecordSchema },
        vms: { type: "array", maxItems: PRE_REGISTRATION_BATCH, items: vmRecordSchema },
        recoveryPoints: optional(recoveryPointsSchema),
        cleanup: optional(cleanupReportSchema),
      },
    }),
    awaitingReplication: optional({
      type: "object",
      required: ["snapshots", "vms"],
      properties: {
        snapshots: {
          type: "array",
          maxItems: 64,
          items: { type: "object", required: ["volume", "snapshot"], properties: { volume: { type: "string", maxLength: 255 }, snapshot: { type: "string", maxLength: 255 } } },
        },
        vms: { type: "array", maxItems: 20000, items: { type: "string", maxLength: 64 } },
      },
    }),
    preRegistrationFailure: optional({
      type: "object",
      required: ["at", "message"],
      properties: { at: timestamp, message: { type: "string", maxLength: 4096 } },
    }),
  },
};

export const protectionGroupKind: KindDefinition<ProtectionGroupSpec, ProtectionGroupStatus> = {
  kind: "ProtectionGroup",
  plural: "protectiongroups",
  singular: "protectiongroup",
  shortNames: ["pg"],
  scope: "Namespaced",
  description:
    "The atomic unit of failover: the VMs of a folder at the protected site, the replicated datastores they live on, and how they recover at the recovery site.",
  spec: protectionGroupSpecSchema,
  status: protectionGroupStatusSchema,
  printerColumns: [
    { name: "Protected", type: "string", jsonPath: ".spec.protectedSiteRef" },
    { name: "Recovery", type: "string", jsonPath: ".spec.recoverySiteRef" },
    { name: "Members", type: "integer", jsonPath: ".status.counts.members" },
    { name: "Shadowed", type: "integer", jsonPath: ".status.counts.shadowed" },
    { name: "Problems", type: "integer", jsonPath: ".status.counts.problems" },
    { name: "Run", type: "string", jsonPath: ".status.activeRun.name", priority: 1 },
    { name: "Tested", type: "date", jsonPath: ".status.lastSuccessfulTest.completedAt", description: "When the newest successful Test completed" },
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
};
