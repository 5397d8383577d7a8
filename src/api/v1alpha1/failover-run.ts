import type { JSONSchemaType } from "ajv";
import type { ResourceType, StatusObject } from "../../kube/types.js";
import { conditionsSchema } from "./conditions.js";
import type { Condition } from "./conditions.js";
import { ageColumn, duration, inventoryPath, objectName, optional, stringEnum, timestamp, withDefault } from "./common.js";
import { itemOpSchema, stepRecordsSchema } from "./steps.js";
import type { ItemOp, StepRecord } from "./steps.js";
import type { KindDefinition } from "./common.js";
import { GROUP, VERSION } from "./meta.js";
import type { NicPlan } from "../../reip/plan.js";
import type { HostRecords } from "../../dns/client.js";

export const RUN_TYPES = ["Test", "CleanupTest", "PlannedMigration", "Disaster", "Failback", "Reprotect"] as const;
export type RunType = (typeof RUN_TYPES)[number];

/** Run types that change production: they need spec.confirmation set to the type's name. */
export const DISRUPTIVE_RUN_TYPES: readonly RunType[] = ["PlannedMigration", "Disaster", "Failback", "Reprotect"];

export const CAPACITY_ACTIONS = ["None", "Throttle", "Suspend", "Ignore"] as const;
export type CapacityAction = (typeof CAPACITY_ACTIONS)[number];

/** One recovery cluster's numbers, as the pre-flight found them (CPU in MHz, memory in MB). */
export interface CapacityCheck {
  site: string;
  cluster: string;
  /** VMs the run brings there, and those of them whose size is not known (not counted). */
  vms: number;
  unknownVms?: number;
  /** Powered-on VMs already there (not the run's). */
  runningVms: number;
  cpu: CapacityMeasure;
  memory: CapacityMeasure;
}

export interface CapacityMeasure {
  /** Configured size the run brings, in use already, and the ceiling (effective x overcommit). */
  need: number;
  inUse: number;
  offered: number;
  /** Reservations the run brings, reserved already, and the effective capacity. */
  reserve: number;
  reserved: number;
  reservable: number;
  /** What the run's reclaims free. */
  reclaimed?: number;
}

/** One thing a run reclaims to make room (status.capacity.reclaim), and undoes later. */
export interface ReclaimRecord {
  site: string;
  action: "Suspend" | "Throttle";
  /** The VM's name, or the pool's path below its cluster's root pool. */
  name: string;
  /** Its managed object id. */
  ref: string;
  /** Throttle: the limits set (-1: that one left alone). */
  limits?: { cpuMhz: number; memoryMB: number };
  /** Throttle: the pool's limits before, recorded before they were changed. */
  before?: { cpuMhz: number; memoryMB: number };
  /** Planned → Done (reclaimed) → Restored (undone), or Left (not undone, with why). */
  state: "Planned" | "Done" | "Restored" | "Left";
  /** The run that reclaimed it (on the records a CleanupTest or Failback undoes). */
  run?: string;
  message?: string;
  op?: ItemOp;
}

export interface CapacityReport {
  /** False when spec.capacity.action is Ignore. */
  checked: boolean;
  message: string;
  clusters: CapacityCheck[];
  reclaim: ReclaimRecord[];
}

export type NetworkMode = "Isolated" | "Mapped" | "Disconnected";

export interface FailoverRunSpec {
  /**
   * The operation: Test (a copy at the recovery site, production untouched) and CleanupTest;
   * PlannedMigration (shut down, last update, move) and Disaster (the protected site is lost);
   * Failback (home again) and Reprotect (replication protected → recovery again).
   */
  type: RunType;
  /** The ProtectionGroups (same namespace) this run acts on... */
  protectionGroups?: string[];
  /** ...or every ProtectionGroup whose protected site is this Site (a whole-site failover). */
  site?: string;
  /** CleanupTest: the Test run to clean up; the newest Test run of the groups when omitted. */
  testRun?: string;
  /** Where recovered NICs connect: Isolated (test portgroup), Mapped (network mappings), Disconnected. */
  networkMode?: NetworkMode;
  /** How the recovered VMs are started. */
  powerOn?: {
    /** vCenter operations in flight at once in each per-VM step (registrations, reconfigurations, power-ons). */
    concurrency?: number;
    /** Priority follows the groups' priority order; AllAtOnce ignores it. */
    order?: "Priority" | "AllAtOnce";
    /** How long one VM may take to become ready. */
    vmTimeout?: string;
  };
  /**
   * Apply the groups' IP customization rules (docs/reip.md): default on for PlannedMigration,
   * Disaster and Failback; off for a Test, whose VMs keep their addresses on the isolated network
   * unless true rehearses the failover's re-IP on the copies.
   */
  reIp?: boolean;
  /**
   * The capacity pre-flight (docs/capacity.md): None (default) refuses a run the recovery cluster
   * cannot hold; Throttle may also limit the resource pools the Site's capacityPolicy names for
   * throttling; Suspend may do that and suspend the VMs it names for suspending; Ignore skips the check.
   */
  capacity?: { action?: CapacityAction };
  /**
   * Test: where the recovered VMs are registered, by full inventory path at the recovery site
   * (a folder below the datacenter's VM folder, a resource pool below the recovery cluster). The
   * groups' shadow trees when omitted (the pre-registered placeholders are reused there).
   */
  testLocation?: {
    /** A folder path below the datacenter's VM folder, e.g. "DR-Tests/2026-12". */
    folder?: string;
    /** A resource pool path below the recovery cluster's root pool. */
    resourcePool?: string;
  };
  /** PlannedMigration: how the protected site's VMs are stopped (guest shutdown, then power-off only if allowed). */
  shutdown?: {
    /** How long a guest shutdown may take (e.g. "5m"). */
    timeout?: string;
    /** Power off a VM whose guest has not shut down within the timeout; otherwise the run fails before anything is broken. */
    powerOffAfterTimeout?: boolean;
  };
  /** How long a SnapMirror quiesce may wait for a running transfer before the step fails with that reason. */
  quiesceTimeout?: string;
  /** Failback: create (and initialize) a protected-site volume that no longer exists. */
  createMissingVolumes?: boolean;
  /** Reprotect after a failover that was not failed back: confirms that the recovery site's writes are discarded. */
  discardRecoverySiteChanges?: boolean;
  /** Compute and show the plan; change nothing. */
  dryRun?: boolean;
  /** Disruptive runs (PlannedMigration, Disaster, Failback, Reprotect) must repeat their type here. */
  confirmation?: string;
}

export type VmRecoveryState = "Pending" | "Registered" | "Configured" | "PoweredOn" | "Ready" | "Failed" | "Skipped";

/** One destination volume a run works on (status.volumes). */
export interface VolumeRecord {
  /** ProtectionGroup that owns it. */
  group: string;
  /** The ReplicationRelationship replicating it. */
  relationship: string;
  /** Storage controller of the recovery Site (its first when omitted). */
  controller?: string;
  svm: string;
  /** The SnapMirror destination volume (the replica). */
  volume: string;
  protocol: "SAN" | "NFS";
  /** The datastore it carries, as named at the protected site. */
  datastore: string;
  /** The SnapMirror snapshot the run recovers from, and when it was taken. */
  snapshot?: string;
  snapshotTime?: string;
  /** Test: the FlexClone the run made of the snapshot (named from the run). */
  clone?: string;
  /** The volume the run presents and mounts, when it is not its clone: a failover mounts the replica itself. */
  copy?: string;
  /** A failover's final update: the newest snapshot before it, so its end can be told apart. */
  updatedFrom?: string;
  /**
   * The other end of the replication: for a Failback, the replica at the recovery site whose data
   * comes home (the source of the reverse resync); for a Reprotect, the protected volume (the
   * destination of the reverse relationship it releases).
   */
  peer?: { controller?: string; svm: string; volume: string };
  /**
   * NFS, a failover or failback: the volume's export as it was before the run presented it (its
   * export policy and junction path, none when it was not mounted), read before the run commits.
   * The run mounts it at that junction; a Reprotect restores both on the replica.
   */
  nasBefore?: NasExport;
  op?: ItemOp;
}

/** How an NFS volume is exported: its export policy and its junction path (absent: not mounted). */
export interface NasExport {
  exportPolicy?: string;
  junctionPath?: string;
  /** The export policy the run makes for it when its own does not admit the hosts (vmdr_<id>). */
  runPolicy?: string;
}

/** One VM a run recovers (status.vms, or shards beyond the inline bound). */
export interface VmRecord {
  name: string;
  group: string;
  /** vCenter instance UUID (kept across sites). */
  instanceUuid: string;
  /** "[datastore] dir/name.vmx" */
  vmx: string;
  /** Inventory path of the folder and pool it is registered into at the recovery site. */
  folder: string;
  resourcePool: string;
  priorityGroup?: string;
  /** Power-on wave (0 first), from the priority groups. */
  wave: number;
  /** A pre-registered placeholder was reused instead of registering. */
  placeholder?: boolean;
  /** A VM of the recovery site itself that the group starts with it (spec.auxiliaryVms): powered on, nothing else. */
  auxiliary?: boolean;
  state: VmRecoveryState;
  /** The recovery site's managed object id of the VM. */
  registeredAs?: string;
  /** Devices the run reconfigured (NICs moved, media disconnected). */
  devicesChanged?: number;
  /** The portgroup its NICs connect to (or "disconnected"). */
  network?: string;
  /** When the VM was seen registered at the recovery site, and when its devices were seen as the run wants them (the report's timeline). */
  registeredAt?: string;
  configuredAt?: string;
  poweredOnAt?: string;
  /** The "moved or copied" question, answered for this VM ("moved": UUIDs kept). */
  questionAnswered?: string;
  readyAt?: string;
  /**
   * Its re-IP, planned when the run started from what the guest last reported at the site it
   * leaves: one entry per NIC (reassigned, or kept with the reason). Only when a NIC changes.
   */
  reip?: VmReip;
  /** The guest's IPv4 addresses after boot, once they matched the re-IP ("30.1.1.50/24"). */
  addresses?: string[];
  /** Its DNS records, for a re-addressed VM of a group with spec.dns (docs/dns.md). */
  dns?: VmDns;
  /** Where it lives at the protected site (a failback registers it there again). */
  protectedFolder?: string;
  protectedPool?: string;
  message?: string;
  op?: ItemOp;
}

/** A VM's planned re-IP (see docs/reip.md): the guest customization identity and each NIC's plan. */
export interface VmReip {
  os: "linux" | "windows";
  hostName?: string;
  direction: "failover" | "failback";
  nics: NicPlan[];
}

/** A recovered VM's forward and reverse records on the recovery site's DNS server. */
export interface VmDns {
  /** Its fully qualified host name. */
  name: string;
  /** The records as the server held them when this run changed them. */
  before?: HostRecords;
  /** Updated (records changed), Unchanged (already so), Failed (message says why; the VM runs). */
  state?: "Updated" | "Unchanged" | "Failed";
  message?: string;
}

export interface RecoveryPoint {
  relationship: string;
  volume: string;
  snapshot: string;
  createTime?: string;
}

export interface RunPlan {
  groups: string[];
  vmCount: number;
  steps: string[];
  /** Power-on waves in order: the priority groups in each, and how many VMs. */
  waves: { priority: number; priorityGroups: string[]; vms: number }[];
  volumes: number;
  /** Where VMs are registered ("shadow tree" or the test folder). */
  location: string;
}

export interface CleanupEntry {
  kind: "VirtualMachine" | "Datastore" | "Volume" | "LunMap" | "ExportRule" | "ScsiLun";
  name: string;
  site: string;
  /** What was done: Unregistered, Unmounted, Detached, Unmapped, Removed, Deleted, Restored. */
  action: string;
}

export interface FailoverRunStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  startedAt?: string;
  completedAt?: string;
  /** Derived from steps, for printer columns. */
  currentStep?: string;
  /** The groups, comma-separated (printer column). */
  groupsSummary?: string;
  /** VMs ready / VMs in the run (printer column). */
  progress?: string;
  plan?: RunPlan;
  steps?: StepRecord[];
  /** A Test cleaning up after itself (cancelled or deleted): the cleanup's steps. */
  cleanupSteps?: StepRecord[];
  volumes?: VolumeRecord[];
  /** Per-VM records when the run is small enough; otherwise in vmShards. */
  vms?: VmRecord[];
  /** ConfigMaps (owned by the run) holding the per-VM records of a large run. */
  vmShards?: { name: string; vms: number }[];
  counts?: { vms: number; registered: number; configured: number; poweredOn: number; ready: number; failed: number; skipped: number };
  /** Seconds from the first step's start to the last VM ready. */
  rtoSeconds?: number;
  recoveryPoints?: RecoveryPoint[];
  /** Seconds between the oldest and newest snapshot the run recovers from, per group's volumes (max over groups). */
  recoveryPointSkewSeconds?: number;
  /** A failover: seconds between its recovery point (the oldest snapshot it recovered from) and the break: the data lost. */
  dataLossWindowSeconds?: number;
  /** CleanupTest: the Test run it cleans up, and its uid (which names what the Test made). */
  testRun?: string;
  testRunUid?: string;
  /** A Test: the run that cleaned it up (a CleanupTest, or the Test itself when cancelled or deleted). */
  cleanedUpBy?: string;
  /** What a cleanup removed, checked against the world afterwards. */
  cleanup?: { removed: CleanupEntry[]; verifiedAt?: string; remaining?: string[] };
  /** The capacity pre-flight's numbers and what the run reclaimed (or, undoing, gives back). */
  capacity?: CapacityReport;
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
      properties: { action: withDefault(stringEnum(CAPACITY_ACTIONS), "None") },
      additionalProperties: false,
    }),
    testLocation: optional({
      type: "object",
      properties: { folder: optional(inventoryPath), resourcePool: optional(inventoryPath) },
      additionalProperties: false,
    }),
    shutdown: optional({
      type: "object",
      properties: { timeout: withDefault(duration, "5m"), powerOffAfterTimeout: withDefault<boolean>({ type: "boolean" }, false) },
      additionalProperties: false,
    }),
    quiesceTimeout: optional(duration),
    createMissingVolumes: optional({ type: "boolean" }),
    discardRecoverySiteChanges: optional({ type: "boolean" }),
    dryRun: withDefault<boolean>({ type: "boolean" }, false),
    confirmation: optional({ type: "string", maxLength: 64 }),
  },
  additionalProperties: false,
  "x-kubernetes-validations": [
    { rule: "self == oldSelf", message: "spec is immutable: a FailoverRun is one operation; create a new FailoverRun instead" },
    {
      rule: "(self.type == 'CleanupTest' && has(self.testRun)) ? !(has(self.protectionGroups) && has(self.site)) : has(self.protectionGroups) != has(self.site)",
      message: "set exactly one of protectionGroups or site (a CleanupTest naming its testRun may set neither)",
    },
    {
      rule: `!(self.type in [${disruptiveList}]) || (has(self.confirmation) && self.confirmation == self.type)`,
      messageExpression: "'confirmation: a ' + self.type + ' run is disruptive; set spec.confirmation to \"' + self.type + '\" to confirm it'",
      fieldPath: ".confirmation",
      reason: "FieldValueRequired",
    },
    { rule: "!has(self.testRun) || self.type == 'CleanupTest'", message: "testRun is only valid for CleanupTest runs", fieldPath: ".testRun" },
    { rule: "!has(self.testLocation) || self.type == 'Test'", message: "testLocation is only valid for Test runs", fieldPath: ".testLocation" },
    {
      rule: "self.type != 'Test' || !has(self.networkMode) || self.networkMode != 'Mapped'",
      message: "a Test never connects recovered VMs to production networks: use networkMode Isolated or Disconnected",
      fieldPath: ".networkMode",
    },
  ],
};

export const nasExportSchema: JSONSchemaType<NasExport> = {
  type: "object",
  properties: {
    exportPolicy: optional({ type: "string", maxLength: 255 }),
    junctionPath: optional({ type: "string", maxLength: 1024 }),
    runPolicy: optional({ type: "string", maxLength: 255 }),
  },
};

export const volumeRecordSchema: JSONSchemaType<VolumeRecord> = {
  type: "object",
  required: ["group", "relationship", "svm", "volume", "protocol", "datastore"],
  properties: {
    group: { type: "string", maxLength: 253 },
    relationship: { type: "string", maxLength: 253 },
    controller: optional({ type: "string", maxLength: 63 }),
    svm: { type: "string", maxLength: 255 },
    volume: { type: "string", maxLength: 255 },
    protocol: stringEnum(["SAN", "NFS"] as const),
    datastore: { type: "string", maxLength: 255 },
    snapshot: optional({ type: "string", maxLength: 255 }),
    snapshotTime: optional(timestamp),
    clone: optional({ type: "string", maxLength: 255 }),
    copy: optional({ type: "string", maxLength: 255 }),
    updatedFrom: optional({ type: "string", maxLength: 255 }),
    peer: optional({
      type: "object",
      required: ["svm", "volume"],
      properties: { controller: optional({ type: "string", maxLength: 63 }), svm: { type: "string", maxLength: 255 }, volume: { type: "string", maxLength: 255 } },
    }),
    nasBefore: optional(nasExportSchema),
    op: optional(itemOpSchema),
  },
};

const ipv4 = { type: "string", maxLength: 15 } as const;
const ipv4List = { type: "array", maxItems: 8, items: { type: "string", maxLength: 45 } } as const;
const reportedNicSchema = {
  type: "object",
  required: ["index"],
  properties: {
    index: { type: "integer", minimum: 0 },
    dhcp: { type: "boolean" },
    ip: { type: "string", maxLength: 45 },
    prefixLength: { type: "integer", minimum: 0, maximum: 128 },
    gateway: { type: "string", maxLength: 45 },
    dns: ipv4List,
  },
} as const;

/** One NIC of a VM's re-IP plan (reassign with `to`, or keep with `reason`). */
const nicPlanSchema = {
  type: "object",
  required: ["index", "action"],
  properties: {
    index: { type: "integer", minimum: 0 },
    action: { type: "string", enum: ["reassign", "keep"] },
    source: { type: "string", enum: ["override", "rule", "recorded"] },
    rule: { type: "string", maxLength: 128 },
    from: reportedNicSchema,
    to: {
      type: "object",
      required: ["ip", "prefixLength", "subnetMask"],
      properties: { ip: ipv4, prefixLength: { type: "integer", minimum: 0, maximum: 32 }, subnetMask: ipv4, gateway: ipv4, dns: ipv4List },
    },
    notes: { type: "array", maxItems: 4, items: { type: "string", maxLength: 256 } },
    reason: { type: "string", maxLength: 32 },
    message: { type: "string", maxLength: 256 },
  },
} as unknown as JSONSchemaType<NicPlan>;

const rrsetProperties = {
  zone: { type: "string", maxLength: 253 },
  owner: { type: "string", maxLength: 253 },
  type: { type: "string", enum: ["A", "PTR"] },
  ttl: { type: "integer", minimum: 0 },
  values: { type: "array", maxItems: 32, items: { type: "string", maxLength: 253 } },
} as const;
const hostRecordsSchema = {
  type: "object",
  required: ["name", "a", "ptr", "unmanaged"],
  properties: {
    name: { type: "string", maxLength: 253 },
    a: { type: "object", required: ["zone", "owner", "type", "ttl", "values"], properties: rrsetProperties },
    ptr: {
      type: "array",
      maxItems: 32,
      items: { type: "object", required: ["zone", "owner", "type", "ttl", "values", "address"], properties: { ...rrsetProperties, address: { type: "string", maxLength: 15 } } },
    },
    unmanaged: { type: "array", maxItems: 32, items: { type: "string", maxLength: 15 } },
  },
} as unknown as JSONSchemaType<HostRecords>;

const vmDnsSchema: JSONSchemaType<VmDns> = {
  type: "object",
  required: ["name"],
  properties: {
    name: { type: "string", maxLength: 253 },
    before: optional(hostRecordsSchema),
    state: optional(stringEnum<NonNullable<VmDns["state"]>>(["Updated", "Unchanged", "Failed"])),
    message: optional({ type: "string", maxLength: 1024 }),
  },
};

const vmReipSchema: JSONSchemaType<VmReip> = {
  type: "object",
  required: ["os", "direction", "nics"],
  properties: {
    os: stringEnum<VmReip["os"]>(["linux", "windows"]),
    hostName: optional({ type: "string", maxLength: 255 }),
    direction: stringEnum<VmReip["direction"]>(["failover", "failback"]),
    nics: { type: "array", maxItems: 16, items: nicPlanSchema },
  },
};

export const vmRecordSchema: JSONSchemaType<VmRecord> = {
  type: "object",
  required: ["name", "group", "instanceUuid", "vmx", "folder", "resourcePool", "wave", "state"],
  properties: {
    name: { type: "string", maxLength: 255 },
    group: { type: "string", maxLength: 253 },
    instanceUuid: { type: "string", maxLength: 64 },
    vmx: { type: "string", maxLength: 2048 },
    folder: { type: "string", maxLength: 2048 },
    resourcePool: { type: "string", maxLength: 2048 },
    priorityGroup: optional({ type: "string", maxLength: 63 }),
    wave: { type: "integer", minimum: 0 },
    placeholder: optional({ type: "boolean" }),
    auxiliary: optional({ type: "boolean" }),
    state: stringEnum<VmRecoveryState>(["Pending", "Registered", "Configured", "PoweredOn", "Ready", "Failed", "Skipped"]),
    registeredAs: optional({ type: "string", maxLength: 64 }),
    devicesChanged: optional({ type: "integer", minimum: 0 }),
    network: optional({ type: "string", maxLength: 255 }),
    registeredAt: optional(timestamp),
    configuredAt: optional(timestamp),
    poweredOnAt: optional(timestamp),
    questionAnswered: optional({ type: "string", maxLength: 64 }),
    readyAt: optional(timestamp),
    reip: optional(vmReipSchema),
    addresses: optional({ type: "array", maxItems: 16, items: { type: "string", maxLength: 64 } }),
    dns: optional(vmDnsSchema),
    protectedFolder: optional({ type: "string", maxLength: 2048 }),
    protectedPool: optional({ type: "string", maxLength: 2048 }),
    message: optional({ type: "string", maxLength: 1024 }),
    op: optional(itemOpSchema),
  },
};

export const recoveryPointsSchema: JSONSchemaType<RecoveryPoint[]> = {
  type: "array",
  maxItems: 1024,
  items: {
    type: "object",
    required: ["relationship", "volume", "snapshot"],
    properties: {
      relationship: { type: "string", maxLength: 253 },
      volume: { type: "string", maxLength: 255 },
      snapshot: { type: "string", maxLength: 255 },
      createTime: optional(timestamp),
    },
  },
};

export const cleanupReportSchema: JSONSchemaType<NonNullable<FailoverRunStatus["cleanup"]>> = {
  type: "object",
  required: ["removed"],
  properties: {
    removed: {
      type: "array",
      maxItems: 20000,
      items: {
        type: "object",
        required: ["kind", "name", "site", "action"],
        properties: {
          kind: stringEnum(["VirtualMachine", "Datastore", "Volume", "LunMap", "ExportRule", "ScsiLun"] as const),
          name: { type: "string", maxLength: 2048 },
          site: { type: "string", maxLength: 253 },
          action: { type: "string", maxLength: 64 },
        },
      },
    },
    verifiedAt: optional(timestamp),
    remaining: optional({ type: "array", maxItems: 1000, items: { type: "string", maxLength: 2048 } }),
  },
};

/** Per-VM records kept in the run's status; beyond this they go to shard ConfigMaps. */
const capacityMeasureSchema: JSONSchemaType<CapacityMeasure> = {
  type: "object",
  required: ["need", "inUse", "offered", "reserve", "reserved", "reservable"],
  properties: {
    need: { type: "number" },
    inUse: { type: "number" },
    offered: { type: "number" },
    reserve: { type: "number" },
    reserved: { type: "number" },
    reservable: { type: "number" },
    reclaimed: optional({ type: "number" }),
  },
};

const limitsSchema = {
  type: "object",
  required: ["cpuMhz", "memoryMB"],
  properties: { cpuMhz: { type: "number" }, memoryMB: { type: "number" } },
} as const;

export const reclaimRecordSchema: JSONSchemaType<ReclaimRecord> = {
  type: "object",
  required: ["site", "action", "name", "ref", "state"],
  properties: {
    site: { type: "string", maxLength: 253 },
    action: stringEnum(["Suspend", "Throttle"] as const),
    name: { type: "string", maxLength: 2048 },
    ref: { type: "string", maxLength: 128 },
    limits: optional(limitsSchema),
    before: optional(limitsSchema),
    state: stringEnum(["Planned", "Done", "Restored", "Left"] as const),
    run: optional({ type: "string", maxLength: 253 }),
    message: optional({ type: "string", maxLength: 1024 }),
    op: optional(itemOpSchema),
  },
};

export const capacityReportSchema: JSONSchemaType<CapacityReport> = {
  type: "object",
  required: ["checked", "message", "clusters", "reclaim"],
  properties: {
    checked: { type: "boolean" },
    message: { type: "string", maxLength: 4096 },
    clusters: {
      type: "array",
      maxItems: 64,
      items: {
        type: "object",
        required: ["site", "cluster", "vms", "runningVms", "cpu", "memory"],
        properties: {
          site: { type: "string", maxLength: 253 },
          cluster: { type: "string", maxLength: 255 },
          vms: { type: "integer" },
          unknownVms: optional({ type: "integer" }),
          runningVms: { type: "integer" },
          cpu: capacityMeasureSchema,
          memory: capacityMeasureSchema,
        },
      },
    },
    reclaim: { type: "array", maxItems: 512, items: reclaimRecordSchema },
  },
};

export const INLINE_VM_LIMIT = 200;

export const failoverRunStatusSchema: JSONSchemaType<FailoverRunStatus> = {
  type: "object",
  properties: {
    observedGeneration: optional({ type: "integer", format: "int64" }),
    conditions: optional(conditionsSchema),
    startedAt: optional(timestamp),
    completedAt: optional(timestamp),
    currentStep: optional({ type: "string", maxLength: 64 }),
    groupsSummary: optional({ type: "string", maxLength: 4096 }),
    progress: optional({ type: "string", maxLength: 64 }),
    plan: optional({
      type: "object",
      required: ["groups", "vmCount", "steps", "waves", "volumes", "location"],
      properties: {
        groups: { type: "array", maxItems: 64, items: { type: "string", maxLength: 253 } },
        vmCount: { type: "integer" },
        steps: { type: "array", maxItems: 64, items: { type: "string", maxLength: 64 } },
        waves: {
          type: "array",
          maxItems: 128,
          items: {
            type: "object",
            required: ["priority", "priorityGroups", "vms"],
            properties: {
              priority: { type: "integer" },
              priorityGroups: { type: "array", maxItems: 64, items: { type: "string", maxLength: 128 } },
              vms: { type: "integer" },
            },
          },
        },
        volumes: { type: "integer" },
        location: { type: "string", maxLength: 2048 },
      },
    }),
    steps: optional(stepRecordsSchema),
    cleanupSteps: optional(stepRecordsSchema),
    volumes: optional({ type: "array", maxItems: 1024, items: volumeRecordSchema }),
    vms: optional({ type: "array", maxItems: INLINE_VM_LIMIT, items: vmRecordSchema }),
    vmShards: optional({
      type: "array",
      maxItems: 1000,
      items: { type: "object", required: ["name", "vms"], properties: { name: { type: "string", maxLength: 253 }, vms: { type: "integer" } } },
    }),
    counts: optional({
      type: "object",
      required: ["vms", "registered", "configured", "poweredOn", "ready", "failed", "skipped"],
      properties: {
        vms: { type: "integer" },
        registered: { type: "integer" },
        configured: { type: "integer" },
        poweredOn: { type: "integer" },
        ready: { type: "integer" },
        failed: { type: "integer" },
        skipped: { type: "integer" },
      },
    }),
    rtoSeconds: optional({ type: "number" }),
    recoveryPoints: optional(recoveryPointsSchema),
    recoveryPointSkewSeconds: optional({ type: "number" }),
    dataLossWindowSeconds: optional({ type: "number" }),
    testRun: optional({ type: "string", maxLength: 253 }),
    testRunUid: optional({ type: "string", maxLength: 64 }),
    cleanedUpBy: optional({ type: "string", maxLength: 253 }),
    cleanup: optional(cleanupReportSchema),
    capacity: optional(capacityReportSchema),
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
    { name: "Groups", type: "string", jsonPath: ".status.groupsSummary" },
    { name: "Step", type: "string", jsonPath: ".status.currentStep" },
    { name: "Progress", type: "string", jsonPath: ".status.progress", description: "VMs ready / VMs in the run" },
    { name: "RTO", type: "number", jsonPath: ".status.rtoSeconds", description: "Seconds from the first step's start to the last VM ready" },
    { name: "Succeeded", type: "string", jsonPath: '.status.conditions[?(@.type=="Succeeded")].status' },
    { name: "Reason", type: "string", jsonPath: '.status.conditions[?(@.type=="Succeeded")].reason', priority: 1 },
    ageColumn,
  ],
};
