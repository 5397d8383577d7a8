import type { EndpointTls } from "../net/http.js";
import type { Done, JobRef, JobStatus } from "./jobs.js";

export type { Done, JobRef, JobStatus } from "./jobs.js";

/**
 * The operator's view of one ONTAP cluster (STYLE.md §2.5): domain verbs over the REST API of
 * docs/ontap-api.md, ONTAP 9.8 as the baseline.
 *
 * Contract shared by every method:
 *  - `signal` is last; every call is bounded by the connection's timeout and by `signal`.
 *  - Failures are classified OperatorErrors (errors.ts `classify`); the ONTAP code and HTTP status
 *    stay reachable through `ontapCodeOf(err)` / `httpStatusOf(err)`.
 *  - Asynchronous ONTAP operations return a JobRef and are never awaited here: the caller persists
 *    the handle and polls `getJob` on a later pass.
 *  - Verbs that change something observe first and return DONE when the object is already in the
 *    requested state, so repeating a call after a crash never repeats the change.
 *  - Getters return undefined for an object that does not exist; deletes of a missing object are DONE.
 *  - Credentials never appear in logs or error messages.
 */
export interface OntapClient {
  // Cluster and jobs ------------------------------------------------------------------------
  /** The cluster's name, uuid and version (read once per client, then remembered). */
  getCluster(signal: AbortSignal): Promise<ClusterInfo>;
  /** Reads the cluster now, not from memory: proves the endpoint answers and accepts the credentials. */
  probe(signal: AbortSignal): Promise<ClusterInfo>;
  /** What this cluster's version supports beyond the 9.8 baseline. */
  getCapabilities(signal: AbortSignal): Promise<OntapCapabilities>;
  /**
   * A job's state; a failed job carries its code and message as a classified error. A job ONTAP
   * no longer knows (finished more than ~300 s ago) is `unknown`: observe the object instead.
   */
  getJob(job: JobRef, signal: AbortSignal): Promise<JobStatus>;

  // SnapMirror relationships (on the destination cluster unless noted) -----------------------
  getRelationship(uuid: string, signal: AbortSignal): Promise<SnapMirrorRelationship | undefined>;
  /** The relationship whose destination is `destination`, as the destination cluster sees it. */
  findRelationship(destination: VolumePath, signal: AbortSignal): Promise<SnapMirrorRelationship | undefined>;
  /**
   * On the SOURCE cluster: its record of the relationship to `destination`
   * (list_destinations_only). ONTAP fills it in at the first transfer, not at create.
   */
  findRelationshipAtSource(destination: VolumePath, signal: AbortSignal): Promise<SnapMirrorRelationship | undefined>;
  /**
   * Creates source → destination (destination volume DP, or RW for the 9.8 reverse path). DONE when
   * a relationship with that destination and source already exists; a PermanentError when the
   * destination is taken by a different source.
   */
  createRelationship(spec: RelationshipSpec, signal: AbortSignal): Promise<JobRef | Done>;
  /** Baseline transfer of an uninitialized relationship. DONE when mirrored; refuses paused/broken_off. */
  initialize(uuid: string, signal: AbortSignal): Promise<JobRef | Done>;
  /** Starts an update transfer (ONTAP answers 201, no job): poll the relationship's `transfer`. Not idempotent, harmless to repeat. */
  update(uuid: string, signal: AbortSignal): Promise<TransferRef>;
  /** Aborts the running transfer, if any. DONE whether or not one was running. */
  abortTransfer(uuid: string, signal: AbortSignal): Promise<Done>;
  /** snapmirrored → paused (a running transfer finishes first). DONE when paused. */
  quiesce(uuid: string, signal: AbortSignal): Promise<JobRef | Done>;
  /** paused → mirrored. DONE when mirrored; refuses broken_off (that would be a resync). */
  resume(uuid: string, signal: AbortSignal): Promise<JobRef | Done>;
  /** → broken_off; the destination volume becomes RW. DONE when broken off; Wait while a transfer runs. */
  breakOff(uuid: string, signal: AbortSignal): Promise<JobRef | Done>;
  /**
   * broken_off → mirrored in the same direction; the destination becomes DP again and its writes
   * since the last common snapshot are discarded. DONE when mirrored; Wait while a transfer runs.
   */
  resync(uuid: string, signal: AbortSignal): Promise<JobRef | Done>;
  /**
   * ONTAP 9.9.1+ only (§6.6 way 1): reverses the relationship in place (PATCH with swapped paths)
   * on the cluster that owns it (the old destination). Afterwards the relationship lives on the
   * other cluster, so observe completion there (findRelationship of the old source). Before
   * 9.9.1 it throws a PermanentError (Unsupported): use `establishReverse` on the old source.
   */
  reverse(uuid: string, signal: AbortSignal): Promise<JobRef | Done>;
  /**
   * All versions (§6.6 way 2), on the OLD SOURCE cluster, which becomes the destination: creates
   * `spec` (the opposite relationship, over the RW old source volume) and then resyncs it. Call
   * again after each job until DONE (mirrored in the new direction). The old relationship is left
   * broken_off on the other cluster and its common snapshots are kept.
   */
  establishReverse(spec: RelationshipSpec, signal: AbortSignal): Promise<JobRef | Done>;
  /**
   * Deletes the relationship. `scope`: "full" (destination cluster; also releases the source and
   * deletes common snapshots), "destination_only", "source_only" or "source_info_only" (on the
   * source cluster with the uuid from findRelationshipAtSource). DONE when it does not exist.
   */
  deleteRelationship(uuid: string, scope: DeleteScope, signal: AbortSignal): Promise<JobRef | Done>;
  /** On the source cluster: `snapmirror release` (DELETE source_only), which removes the relationship's snapshots there. */
  release(uuid: string, signal: AbortSignal): Promise<JobRef | Done>;
  getPolicy(name: string, signal: AbortSignal): Promise<SnapMirrorPolicy | undefined>;
  /**
   * Sets (or with undefined removes) the relationship's transfer schedule. 9.11.1+ only: older
   * clusters refuse with a PermanentError (Unsupported). DONE when already so.
   */
  setSchedule(uuid: string, schedule: string | undefined, signal: AbortSignal): Promise<JobRef | Done>;

  // Volumes, snapshots, FlexClone -------------------------------------------------------------
  getVolume(volume: VolumeRef, signal: AbortSignal): Promise<Volume | undefined>;
  /** Creates a DP volume (a SnapMirror destination). DONE when a DP volume of that name exists. */
  createDpVolume(spec: DpVolumeSpec, signal: AbortSignal): Promise<JobRef | Done>;
  /** Mounts at `junctionPath`. DONE when already mounted there. */
  mountVolume(volume: VolumeRef, junctionPath: string, signal: AbortSignal): Promise<JobRef | Done>;
  /** DONE when not mounted. */
  unmountVolume(volume: VolumeRef, signal: AbortSignal): Promise<JobRef | Done>;
  /** Assigns an NFS export policy. DONE when already assigned. */
  setExportPolicy(volume: VolumeRef, policy: string, signal: AbortSignal): Promise<JobRef | Done>;
  /** Takes the volume offline (which also unmounts it). DONE when offline. */
  offlineVolume(volume: VolumeRef, signal: AbortSignal): Promise<JobRef | Done>;
  /** Deletes any volume. DONE when it does not exist. */
  deleteVolume(volume: VolumeRef, signal: AbortSignal): Promise<JobRef | Done>;
  /** Snapshots of a volume, oldest first. */
  listSnapshots(volume: VolumeRef, signal: AbortSignal): Promise<Snapshot[]>;
  /** The newest `snapmirror.*` snapshot: the base for a FlexClone that exists on both sides. */
  findNewestSnapMirrorSnapshot(volume: VolumeRef, signal: AbortSignal): Promise<Snapshot | undefined>;
  /** Creates a FlexClone of a named snapshot. DONE when that clone (same parent and snapshot) exists; PermanentError when the name is taken otherwise. */
  createFlexClone(spec: FlexCloneSpec, signal: AbortSignal): Promise<JobRef | Done>;
  /** Starts a clone split. DONE when the volume is no longer a FlexClone; Wait while a split runs. */
  splitClone(volume: VolumeRef, signal: AbortSignal): Promise<JobRef | Done>;
  /**
   * Deletes a FlexClone, one step per call: unmount if mounted, then delete. DONE when gone.
   * Refuses (PermanentError) a volume that is not a FlexClone, so a cleanup can never destroy a
   * production volume.
   */
  deleteClone(volume: VolumeRef, signal: AbortSignal): Promise<JobRef | Done>;

  // SAN ---------------------------------------------------------------------------------------
  /** LUNs of a volume with their maps. */
  listLuns(volume: VolumeRef, signal: AbortSignal): Promise<Lun[]>;
  /** Online (`enabled`) or offline. DONE when already so, and usually after the (synchronous) PATCH. */
  setLunEnabled(lunUuid: string, enabled: boolean, signal: AbortSignal): Promise<JobRef | Done>;
  getIgroup(svm: string, name: string, signal: AbortSignal): Promise<Igroup | undefined>;
  /** Creates an igroup (synchronous); returns the existing one when os type and protocol match. */
  createIgroup(spec: IgroupSpec, signal: AbortSignal): Promise<Igroup>;
  /** Adds the initiators the igroup lacks. DONE when all are members. */
  addInitiators(svm: string, igroup: string, initiators: readonly string[], signal: AbortSignal): Promise<Done>;
  /** Maps a LUN to an igroup (synchronous); an existing map is the answer (1254207 is success). */
  mapLun(spec: LunMapSpec, signal: AbortSignal): Promise<LunMap>;
  /** Removes a LUN map. DONE when it does not exist (404, 5374922, 5374875). */
  unmapLun(lunUuid: string, igroupUuid: string, signal: AbortSignal): Promise<Done>;

  // NFS ---------------------------------------------------------------------------------------
  getExportPolicy(svm: string, name: string, signal: AbortSignal): Promise<ExportPolicy | undefined>;
  /** Creates an empty export policy (synchronous); returns the existing one. */
  createExportPolicy(svm: string, name: string, signal: AbortSignal): Promise<ExportPolicy>;
  /** Adds a rule unless one for the same clients exists (then that one is returned). */
  addExportRule(svm: string, policy: string, rule: ExportRuleSpec, signal: AbortSignal): Promise<ExportRule>;
  /** Deletes an export policy (synchronous). DONE when it does not exist; a PermanentError (InUse) while a volume uses it. */
  deleteExportPolicy(svm: string, name: string, signal: AbortSignal): Promise<Done>;

  /** Releases pooled connections. */
  close(): void;
}

/** How to reach one ONTAP cluster (one Site storage controller). */
export interface OntapConnectionOptions {
  /** Cluster management URL, e.g. https://ontap1.example.com (the API lives below /api). */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly tls: EndpointTls;
  /** Upper bound of every request (default 30 s). */
  readonly timeoutMs?: number;
  /** max_records per page of a collection GET (default 1000). */
  readonly pageSize?: number;
}

/** A volume endpoint "svm:volume". */
export interface VolumePath {
  readonly svm: string;
  readonly volume: string;
}

/** A volume by SVM and name. */
export interface VolumeRef {
  readonly svm: string;
  readonly name: string;
}

export const formatPath = (p: VolumePath): string => `${p.svm}:${p.volume}`;

export interface OntapVersion {
  readonly generation: number;
  readonly major: number;
  readonly minor: number;
  readonly full: string;
}

export interface ClusterInfo {
  readonly name: string;
  readonly uuid: string;
  readonly version: OntapVersion;
}

export interface OntapCapabilities {
  /** 9.9.1+: reverse a relationship with a PATCH of swapped paths. */
  readonly reverseInPlace: boolean;
  /** 9.9.1+: `transfer.end_time` / `transfer.total_duration`. */
  readonly transferEndTime: boolean;
  /** 9.12.1+ (where the bindings first show it): `last_transfer_type`. */
  readonly lastTransferType: boolean;
  /** 9.11.1+ (UNCONFIRMED between 9.11.1 and 9.12.1): a relationship's own `transfer_schedule`. */
  readonly transferSchedule: boolean;
}

export type RelationshipState =
  | "uninitialized" | "snapmirrored" | "paused" | "broken_off" | "in_sync" | "out_of_sync" | "synchronizing" | "expanding" | "shrinking";
export type TransferState = "queued" | "transferring" | "success" | "failed" | "aborted" | "hard_aborted";
export type PolicyType = "async" | "sync" | "continuous";
export type DeleteScope = "full" | "destination_only" | "source_only" | "source_info_only";

export interface SnapMirrorRelationship {
  readonly uuid: string;
  readonly source: VolumePath;
  readonly destination: VolumePath;
  readonly policy: { readonly name?: string; readonly type?: PolicyType };
  readonly state: RelationshipState;
  readonly healthy?: boolean;
  readonly unhealthyReasons: readonly string[];
  /** Seconds since the newest exported snapshot was taken (ONTAP lag_time). */
  readonly lagTimeSeconds?: number;
  readonly exportedSnapshot?: string;
  /** The current or last transfer; `uuid` only while it is active. */
  readonly transfer?: {
    readonly uuid?: string;
    readonly state: TransferState;
    readonly bytesTransferred?: number;
    readonly endTime?: string;
    readonly totalDurationSeconds?: number;
  };
  readonly lastTransferType?: string;
  /** The relationship's own schedule (9.11.1+; undefined on older clusters or when none is set). */
  readonly schedule?: string;
}

/** A transfer started by `update`; `uuid` when ONTAP named it in the Location header. */
export interface TransferRef {
  readonly kind: "transfer";
  readonly relationshipUuid: string;
  readonly uuid?: string;
}

export interface RelationshipSpec {
  readonly source: VolumePath;
  readonly destination: VolumePath;
  /** ONTAP policy name; ONTAP's default (Asynchronous) when omitted. */
  readonly policy?: string;
  /** A transfer schedule name (9.11.1+ only; older clusters refuse it with Unsupported). */
  readonly schedule?: string;
}

export interface SnapMirrorPolicy {
  readonly uuid: string;
  readonly name: string;
  readonly type: PolicyType;
  readonly syncType?: string;
}

export type VolumeType = "rw" | "dp" | "ls";
export type VolumeState = "online" | "offline" | "error" | "mixed" | "restricted";

export interface Volume {
  readonly uuid: string;
  readonly name: string;
  readonly svm: string;
  readonly type: VolumeType;
  readonly state: VolumeState;
  readonly sizeBytes?: number;
  /** Junction path; absent when not mounted. */
  readonly nasPath?: string;
  readonly exportPolicy?: string;
  /** Present only for a FlexClone. */
  readonly clone?: {
    readonly parentVolume?: string;
    readonly parentSnapshot?: string;
    readonly splitInitiated?: boolean;
    readonly splitCompletePercent?: number;
  };
}

export interface DpVolumeSpec {
  readonly svm: string;
  readonly name: string;
  readonly aggregate: string;
  readonly sizeBytes: number;
}

export interface FlexCloneSpec {
  readonly svm: string;
  readonly name: string;
  readonly parentVolume: string;
  readonly parentSnapshot: string;
  /** Mount the clone here at creation (NFS). */
  readonly junctionPath?: string;
}

export interface Snapshot {
  readonly uuid: string;
  readonly name: string;
  readonly createTime: string;
  readonly owners: readonly string[];
}

export interface Lun {
  readonly uuid: string;
  /** "/vol/<volume>/<lun>" */
  readonly name: string;
  readonly svm: string;
  readonly volume: string;
  readonly serialNumber: string;
  readonly enabled: boolean;
  readonly state?: string;
  readonly maps: readonly { readonly igroup: string; readonly igroupUuid: string; readonly logicalUnitNumber: number }[];
}

export type IgroupProtocol = "fcp" | "iscsi" | "mixed";

export interface Igroup {
  readonly uuid: string;
  readonly name: string;
  readonly svm: string;
  readonly protocol?: IgroupProtocol;
  readonly osType?: string;
  readonly initiators: readonly string[];
}

export interface IgroupSpec {
  readonly svm: string;
  readonly name: string;
  readonly osType: string;
  readonly protocol?: IgroupProtocol;
  readonly initiators?: readonly string[];
}

export interface LunMapSpec {
  readonly svm: string;
  /** "/vol/<volume>/<lun>" */
  readonly lun: string;
  readonly igroup: string;
  /** A specific LUN id; the lowest free one when omitted. */
  readonly logicalUnitNumber?: number;
}

export interface LunMap {
  readonly lunUuid: string;
  readonly lun: string;
  readonly igroupUuid: string;
  readonly igroup: string;
  readonly logicalUnitNumber: number;
}

export interface ExportRuleSpec {
  readonly clients: readonly string[];
  readonly roRule: readonly string[];
  readonly rwRule: readonly string[];
  readonly superuser?: readonly string[];
  readonly protocols?: readonly string[];
}

export interface ExportRule extends ExportRuleSpec {
  readonly index: number;
}

export interface ExportPolicy {
  readonly id: number;
  readonly name: string;
  readonly svm: string;
  readonly rules: readonly ExportRule[];
}
