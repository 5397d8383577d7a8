import type { Logger } from "../log/logger.js";
import type { ExternalMetrics } from "../metrics/external.js";
import type {
  ClusterInfo, DeleteScope, DpVolumeSpec, ExportPolicy, ExportRule, ExportRuleSpec, FlexCloneSpec, Igroup, IgroupSpec, Lun, LunMap,
  LunMapSpec, OntapCapabilities, OntapClient, OntapConnectionOptions, RelationshipSpec, SnapMirrorPolicy, SnapMirrorRelationship,
  Snapshot, TransferRef, Volume, VolumePath, VolumeRef,
} from "./client.js";
import { capabilitiesOf } from "./format.js";
import { toJobStatus, unknownJob } from "./jobs.js";
import type { Done, JobRef, JobStatus } from "./jobs.js";
import * as nfs from "./nfs.js";
import * as rel from "./relationships.js";
import type { OpsContext } from "./relationships.js";
import * as san from "./san.js";
import { jobSchema } from "./schemas.js";
import { OntapTransport } from "./transport.js";
import * as vol from "./volumes.js";

export interface OntapClientDeps {
  /** Child logger for this connection; the client adds nothing secret to it. */
  readonly log?: Logger;
  readonly metrics?: ExternalMetrics;
}

/**
 * Opens a client for one ONTAP cluster. Nothing is shared between clients (connection pool,
 * schemas, the cached version): the composition root builds one per Site storage controller and
 * closes it when the Site's settings change. No request is sent until the first call.
 */
export function createOntapClient(o: OntapConnectionOptions, deps: OntapClientDeps = {}): OntapClient {
  return new RestOntapClient(new OntapTransport(o, deps), deps.log);
}

/** OntapClient over the ONTAP REST API (docs/ontap-api.md); see OntapClient for the contract. */
export class RestOntapClient implements OntapClient {
  private readonly ctx: OpsContext;

  constructor(private readonly t: OntapTransport, log?: Logger) {
    this.ctx = { t, log };
  }

  getCluster(signal: AbortSignal): Promise<ClusterInfo> {
    return this.t.clusterInfo(signal);
  }

  probe(signal: AbortSignal): Promise<ClusterInfo> {
    return this.t.probeCluster(signal);
  }

  async getCapabilities(signal: AbortSignal): Promise<OntapCapabilities> {
    return capabilitiesOf(await this.t.clusterVersion(signal));
  }

  async getJob(job: JobRef, signal: AbortSignal): Promise<JobStatus> {
    const what = "get job";
    const w = await this.t.getOne(
      { op: "job_get", what, path: `/api/cluster/jobs/${rel.segment(job.uuid, what)}`, query: { fields: "uuid,state,description,message,code,start_time,end_time" }, signal },
      jobSchema,
    );
    return w ? toJobStatus(w) : unknownJob(job.uuid);
  }

  getRelationship(uuid: string, signal: AbortSignal): Promise<SnapMirrorRelationship | undefined> {
    return rel.getRelationship(this.ctx, uuid, signal);
  }
  findRelationship(destination: VolumePath, signal: AbortSignal): Promise<SnapMirrorRelationship | undefined> {
    return rel.findRelationship(this.ctx, destination, false, signal);
  }
  findRelationshipAtSource(destination: VolumePath, signal: AbortSignal): Promise<SnapMirrorRelationship | undefined> {
    return rel.findRelationship(this.ctx, destination, true, signal);
  }
  createRelationship(spec: RelationshipSpec, signal: AbortSignal): Promise<JobRef | Done> {
    return rel.createRelationship(this.ctx, spec, signal);
  }
  initialize(uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
    return rel.initialize(this.ctx, uuid, signal);
  }
  update(uuid: string, signal: AbortSignal): Promise<TransferRef> {
    return rel.update(this.ctx, uuid, signal);
  }
  abortTransfer(uuid: string, signal: AbortSignal): Promise<Done> {
    return rel.abortTransfer(this.ctx, uuid, signal);
  }
  setSchedule(uuid: string, schedule: string | undefined, signal: AbortSignal): Promise<JobRef | Done> {
    return rel.setSchedule(this.ctx, uuid, schedule, signal);
  }

  quiesce(uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
    return rel.quiesce(this.ctx, uuid, signal);
  }
  resume(uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
    return rel.resume(this.ctx, uuid, signal);
  }
  breakOff(uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
    return rel.breakOff(this.ctx, uuid, signal);
  }
  resync(uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
    return rel.resync(this.ctx, uuid, signal);
  }
  reverse(uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
    return rel.reverse(this.ctx, uuid, signal);
  }
  establishReverse(spec: RelationshipSpec, signal: AbortSignal): Promise<JobRef | Done> {
    return rel.establishReverse(this.ctx, spec, signal);
  }
  deleteRelationship(uuid: string, scope: DeleteScope, signal: AbortSignal): Promise<JobRef | Done> {
    return rel.deleteRelationship(this.ctx, uuid, scope, signal);
  }
  release(uuid: string, signal: AbortSignal): Promise<JobRef | Done> {
    return rel.deleteRelationship(this.ctx, uuid, "source_only", signal);
  }
  getPolicy(name: string, signal: AbortSignal): Promise<SnapMirrorPolicy | undefined> {
    return rel.getPolicy(this.ctx, name, signal);
  }

  getVolume(volume: VolumeRef, signal: AbortSignal): Promise<Volume | undefined> {
    return vol.getVolume(this.ctx, volume, signal);
  }
  createDpVolume(spec: DpVolumeSpec, signal: AbortSignal): Promise<JobRef | Done> {
    return vol.createDpVolume(this.ctx, spec, signal);
  }
  mountVolume(volume: VolumeRef, junctionPath: string, signal: AbortSignal): Promise<JobRef | Done> {
    return vol.mountVolume(this.ctx, volume, junctionPath, signal);
  }
  unmountVolume(volume: VolumeRef, signal: AbortSignal): Promise<JobRef | Done> {
    return vol.unmountVolume(this.ctx, volume, signal);
  }
  setExportPolicy(volume: VolumeRef, policy: string, signal: AbortSignal): Promise<JobRef | Done> {
    return vol.setExportPolicy(this.ctx, volume, policy, signal);
  }
  offlineVolume(volume: VolumeRef, signal: AbortSignal): Promise<JobRef | Done> {
    return vol.offlineVolume(this.ctx, volume, signal);
  }
  deleteVolume(volume: VolumeRef, signal: AbortSignal): Promise<JobRef | Done> {
    return vol.deleteVolume(this.ctx, volume, signal);
  }
  listSnapshots(volume: VolumeRef, signal: AbortSignal): Promise<Snapshot[]> {
    return vol.listSnapshots(this.ctx, volume, signal);
  }
  findNewestSnapMirrorSnapshot(volume: VolumeRef, signal: AbortSignal): Promise<Snapshot | undefined> {
    return vol.findNewestSnapMirrorSnapshot(this.ctx, volume, signal);
  }
  createFlexClone(spec: FlexCloneSpec, signal: AbortSignal): Promise<JobRef | Done> {
    return vol.createFlexClone(this.ctx, spec, signal);
  }
  splitClone(volume: VolumeRef, signal: AbortSignal): Promise<JobRef | Done> {
    return vol.splitClone(this.ctx, volume, signal);
  }
  deleteClone(volume: VolumeRef, signal: AbortSignal): Promise<JobRef | Done> {
    return vol.deleteClone(this.ctx, volume, signal);
  }

  listLuns(volume: VolumeRef, signal: AbortSignal): Promise<Lun[]> {
    return san.listLuns(this.ctx, volume, signal);
  }
  setLunEnabled(lunUuid: string, enabled: boolean, signal: AbortSignal): Promise<JobRef | Done> {
    return san.setLunEnabled(this.ctx, lunUuid, enabled, signal);
  }
  getIgroup(svm: string, name: string, signal: AbortSignal): Promise<Igroup | undefined> {
    return san.getIgroup(this.ctx, svm, name, signal);
  }
  createIgroup(spec: IgroupSpec, signal: AbortSignal): Promise<Igroup> {
    return san.createIgroup(this.ctx, spec, signal);
  }
  addInitiators(svm: string, igroup: string, initiators: readonly string[], signal: AbortSignal): Promise<Done> {
    return san.addInitiators(this.ctx, svm, igroup, initiators, signal);
  }
  mapLun(spec: LunMapSpec, signal: AbortSignal): Promise<LunMap> {
    return san.mapLun(this.ctx, spec, signal);
  }
  unmapLun(lunUuid: string, igroupUuid: string, signal: AbortSignal): Promise<Done> {
    return san.unmapLun(this.ctx, lunUuid, igroupUuid, signal);
  }

  getExportPolicy(svm: string, name: string, signal: AbortSignal): Promise<ExportPolicy | undefined> {
    return nfs.getExportPolicy(this.ctx, svm, name, signal);
  }
  createExportPolicy(svm: string, name: string, signal: AbortSignal): Promise<ExportPolicy> {
    return nfs.createExportPolicy(this.ctx, svm, name, signal);
  }
  addExportRule(svm: string, policy: string, rule: ExportRuleSpec, signal: AbortSignal): Promise<ExportRule> {
    return nfs.addExportRule(this.ctx, svm, policy, rule, signal);
  }

  deleteExportPolicy(svm: string, name: string, signal: AbortSignal): Promise<Done> {
    return nfs.deleteExportPolicy(this.ctx, svm, name, signal);
  }

  close(): void {
    this.t.close();
  }
}
