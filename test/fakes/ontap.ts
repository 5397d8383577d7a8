import { PermanentError, TransientError, WaitError } from "../../src/runtime/errors.js";
import type {
  ClusterInfo, DeleteScope, Igroup, Lun, LunMap, LunMapSpec, OntapCapabilities, OntapClient, RelationshipSpec, SnapMirrorRelationship,
  Snapshot, TransferRef, Volume, VolumePath, VolumeRef, VolumeState, VolumeType,
} from "../../src/ontap/client.js";
import { formatPath } from "../../src/ontap/client.js";
import { classify, OntapApiError, OntapReason, TRANSFER_RETRY_MS } from "../../src/ontap/errors.js";
import { capabilitiesOf } from "../../src/ontap/format.js";
import { DONE, toJobStatus } from "../../src/ontap/jobs.js";
import type { Done, JobRef, JobStatus } from "../../src/ontap/jobs.js";

interface FakeSnap { uuid: string; name: string; createTime: string; owners: string[] }
interface FakeLun { uuid: string; leaf: string; serial: string; enabled: boolean }
interface FakeVol {
  uuid: string; name: string; svm: string; type: VolumeType; state: VolumeState; nasPath?: string;
  clone?: { parentVolume: string; parentSnapshot: string }; snaps: FakeSnap[]; luns: FakeLun[];
}
interface FakeRel {
  uuid: string; src: { cluster: string; path: VolumePath }; dst: { cluster: string; path: VolumePath };
  policy: string; state: SnapMirrorRelationship["state"]; atDestination: boolean; seenAtSource: boolean; exported?: string;
}
interface FakeJob { uuid: string; description: string; state: "queued" | "success" | "failure"; code?: number; message?: string; run: () => OntapApiError | undefined }
interface Fault { method: string; path: RegExp; code: number; message: string }
interface Cluster {
  name: string; svm: string; version: string; vols: FakeVol[]; igroups: Igroup[];
  maps: { lunUuid: string; igroupUuid: string; id: number }[]; jobs: Map<string, FakeJob>; faults: Fault[];
}

const err = (status: number, code: number, message: string, request: string, what: string): never => {
  throw classify(new OntapApiError({ statusCode: status, code, message, request }), what);
};

/**
 * An in-memory two-or-more-cluster ONTAP for unit tests of controllers. It keeps state (volumes
 * with snapshots and LUNs, relationships, igroups, LUN maps, jobs) and behaves as the lab's
 * simulator does at ONTAP 9.8 defaults, which the contract suite (test/contract/ontap.contract.ts)
 * holds it to. Simplifications: a job runs when it is first polled, and transfers finish inside
 * their job. Verbs the controllers do not use yet throw "not implemented".
 */
export class FakeOntapWorld {
  private readonly clusters = new Map<string, Cluster>();
  private readonly rels: FakeRel[] = [];
  private seq = 0;
  /** Every mutating request ("<cluster> <METHOD> <what>"), for tests that count side effects. */
  readonly mutations: string[] = [];

  addCluster(name: string, svm: string, o: { version?: string } = {}): this {
    this.clusters.set(name, { name, svm, version: o.version ?? "9.8.0", vols: [], igroups: [], maps: [], jobs: new Map(), faults: [] });
    return this;
  }

  addVolume(cluster: string, name: string, o: { type: "rw" | "dp"; luns?: string[] }): this {
    const c = this.cluster(cluster);
    c.vols.push({ uuid: this.id("vol"), name, svm: c.svm, type: o.type, state: "online", snaps: [], luns: (o.luns ?? []).map((l) => this.lun(l)) });
    return this;
  }

  addIgroup(cluster: string, name: string, initiators: string[] = []): this {
    this.cluster(cluster).igroups.push({ uuid: this.id("ig"), name, svm: this.cluster(cluster).svm, protocol: "fcp", osType: "vmware", initiators });
    return this;
  }

  /** Creates an initialized (snapmirrored) relationship with its baseline transfer done. */
  seedRelationship(src: { cluster: string; volume: string }, dst: { cluster: string; volume: string }, policy = "MirrorAllSnapshots"): this {
    const r: FakeRel = {
      uuid: this.id("rel"), policy, state: "uninitialized", atDestination: true, seenAtSource: false,
      src: { cluster: src.cluster, path: { svm: this.cluster(src.cluster).svm, volume: src.volume } },
      dst: { cluster: dst.cluster, path: { svm: this.cluster(dst.cluster).svm, volume: dst.volume } },
    };
    this.rels.push(r);
    this.transfer(r);
    return this;
  }

  /** The next job on `cluster` matching method and path (`*` = any run) fails with code and message. */
  failNextJob(cluster: string, f: { method: string; path: string; code: number; message: string }): void {
    const path = new RegExp(`^${f.path.split("*").map((p) => p.replace(/[.?+^$()[\]{}|\\]/g, "\\$&")).join(".*")}$`);
    this.cluster(cluster).faults.push({ method: f.method, path, code: f.code, message: f.message });
  }

  /** A client of one cluster. Like the REST client, every failure is a rejected promise. */
  client(cluster: string): OntapClient {
    const target = new FakeOntapClient(this, this.cluster(cluster));
    return new Proxy(target, {
      get(t, key, receiver): unknown {
        const v: unknown = Reflect.get(t, key, receiver);
        if (typeof v !== "function") return v;
        return (...args: unknown[]): unknown => {
          try {
            return (v as (...a: unknown[]) => unknown).apply(t, args);
          } catch (err) {
            return Promise.reject(err instanceof Error ? err : new Error(String(err)));
          }
        };
      },
    });
  }

  // Internals shared with FakeOntapClient --------------------------------------------------------

  cluster(name: string): Cluster {
    const c = this.clusters.get(name);
    if (!c) throw new Error(`fake ontap: no cluster ${name}`);
    return c;
  }

  id(kind: string): string {
    return `00000000-0000-4000-8000-${kind.padStart(4, "0").slice(0, 4)}${String(++this.seq).padStart(8, "0")}`;
  }

  lun(leaf: string): FakeLun {
    return { uuid: this.id("lun"), leaf, serial: `fake${String(this.seq).padStart(8, "0")}`, enabled: true };
  }

  relsAt(c: Cluster, atSource: boolean): FakeRel[] {
    return this.rels.filter((r) => (atSource ? r.src.cluster === c.name && r.seenAtSource : r.dst.cluster === c.name && r.atDestination));
  }

  clusterBySvm(svm: string): Cluster {
    const c = [...this.clusters.values()].find((x) => x.svm === svm);
    if (!c) throw new Error(`fake ontap: no cluster serves svm ${svm}`);
    return c;
  }

  addRel(r: FakeRel): void {
    this.rels.push(r);
  }

  dropRel(r: FakeRel): void {
    this.rels.splice(this.rels.indexOf(r), 1);
  }

  vol(c: Cluster, name: string): FakeVol | undefined {
    return c.vols.find((v) => v.name === name);
  }

  job(c: Cluster, method: string, path: string, run: () => OntapApiError | undefined): JobRef {
    this.mutations.push(`${c.name} ${method} ${path}`);
    const j: FakeJob = { uuid: this.id("job"), description: `${method} ${path}`, state: "queued", run };
    const i = c.faults.findIndex((f) => f.method === method && f.path.test(path));
    if (i >= 0) {
      const [f] = c.faults.splice(i, 1);
      j.run = () => new OntapApiError({ statusCode: 0, code: f!.code, message: f!.message, request: j.description });
    }
    c.jobs.set(j.uuid, j);
    return { kind: "job", uuid: j.uuid };
  }

  /** A transfer: a new SnapMirror snapshot on the source, copied with the data to the destination. */
  transfer(r: FakeRel): void {
    const sv = this.vol(this.cluster(r.src.cluster), r.src.path.volume);
    const dv = this.vol(this.cluster(r.dst.cluster), r.dst.path.volume);
    if (!sv || !dv) return;
    const n = ++this.seq;
    const snap = (): FakeSnap => ({ uuid: this.id("snap"), name: `snapmirror.${r.uuid}_${n}.2026-11-25_${String(n).padStart(6, "0")}`, createTime: new Date(Date.UTC(2026, 10, 25, 0, 0, n)).toISOString(), owners: ["snapmirror"] });
    sv.snaps.push(snap());
    dv.snaps.push(snap());
    if (dv.luns.length === 0) dv.luns = sv.luns.map((l) => this.lun(l.leaf));
    r.exported = dv.snaps.at(-1)!.name;
    r.state = r.policy === "Sync" ? "in_sync" : "snapmirrored";
    r.seenAtSource = true;
    dv.type = "dp";
  }
}

class FakeOntapClient implements OntapClient {
  constructor(private readonly w: FakeOntapWorld, private readonly c: Cluster) {}

  probe(): Promise<ClusterInfo> {
    return this.getCluster();
  }

  getCluster(): Promise<ClusterInfo> {
    const [generation, major, minor] = this.c.version.split(".").map(Number) as [number, number, number];
    return Promise.resolve({ name: this.c.name, uuid: `${this.c.name}-uuid`, version: { generation, major, minor, full: `NetApp Release ${this.c.version}` } });
  }
  async getCapabilities(): Promise<OntapCapabilities> {
    return capabilitiesOf((await this.getCluster()).version);
  }
  getJob(ref: JobRef): Promise<JobStatus> {
    const j = this.c.jobs.get(ref.uuid);
    if (!j) return Promise.resolve({ uuid: ref.uuid, state: "unknown" });
    if (j.state === "queued") {
      const e = j.run();
      Object.assign(j, e ? { state: "failure", code: e.code, message: e.ontapMessage } : { state: "success", code: 0, message: "success" });
    }
    return Promise.resolve(toJobStatus({ uuid: j.uuid, state: j.state === "queued" ? "running" : j.state, description: j.description, code: j.code, message: j.message }));
  }

  private view(r: FakeRel): SnapMirrorRelationship {
    return {
      uuid: r.uuid, source: r.src.path, destination: r.dst.path, policy: { name: r.policy, type: r.policy === "Sync" ? "sync" : "async" },
      state: r.state, healthy: true, unhealthyReasons: [], lagTimeSeconds: r.exported ? 0 : undefined, exportedSnapshot: r.exported,
      ...(r.exported ? { transfer: { state: "success" as const } } : {}),
    };
  }
  private rel(uuid: string, what: string): FakeRel {
    const r = this.w.relsAt(this.c, false).find((x) => x.uuid === uuid);
    if (!r) throw new TransientError(`${what}: relationship ${uuid} does not exist on this cluster`, OntapReason.NotFound);
    return r;
  }
  getRelationship(uuid: string): Promise<SnapMirrorRelationship | undefined> {
    const r = [...this.w.relsAt(this.c, false), ...this.w.relsAt(this.c, true)].find((x) => x.uuid === uuid);
    return Promise.resolve(r && this.view(r));
  }
  findRelationship(d: VolumePath): Promise<SnapMirrorRelationship | undefined> {
    const r = this.w.relsAt(this.c, false).find((x) => formatPath(x.dst.path) === formatPath(d));
    return Promise.resolve(r && this.view(r));
  }
  findRelationshipAtSource(d: VolumePath): Promise<SnapMirrorRelationship | undefined> {
    const r = this.w.relsAt(this.c, true).find((x) => formatPath(x.dst.path) === formatPath(d));
    return Promise.resolve(r && this.view(r));
  }
  async createRelationship(s: RelationshipSpec): Promise<JobRef | Done> {
    const what = "create relationship";
    const existing = await this.findRelationship(s.destination);
    if (existing) {
      if (formatPath(existing.source) === formatPath(s.source)) return DONE;
      throw new PermanentError(`${what}: ${formatPath(s.destination)} already replicates from ${formatPath(existing.source)}`, OntapReason.AlreadyExists);
    }
    const dv = this.w.vol(this.c, s.destination.volume);
    if (!dv || s.destination.svm !== this.c.svm) return err(400, 917927, `Volume "${s.destination.volume}" does not exist.`, "POST /api/snapmirror/relationships", what);
    const srcCluster = this.w.clusterBySvm(s.source.svm).name;
    return this.w.job(this.c, "POST", "/api/snapmirror/relationships", () => {
      this.w.addRel({
        uuid: this.w.id("rel"), policy: s.policy ?? "Asynchronous", state: dv.type === "dp" ? "uninitialized" : "broken_off", atDestination: true, seenAtSource: false,
        src: { cluster: srcCluster, path: s.source }, dst: { cluster: this.c.name, path: s.destination },
      });
      return undefined;
    });
  }
  private patchJob(r: FakeRel, run: () => OntapApiError | undefined): JobRef {
    return this.w.job(this.c, "PATCH", `/api/snapmirror/relationships/${r.uuid}`, run);
  }
  private refuse(r: FakeRel, what: string, why: string): never {
    throw new PermanentError(`${what}: relationship ${formatPath(r.dst.path)} is ${r.state}; ${why}`, OntapReason.InvalidStateTransition);
  }
  initialize(uuid: string): Promise<JobRef | Done> {
    const r = this.rel(uuid, "initialize relationship");
    if (r.state === "snapmirrored" || r.state === "in_sync") return Promise.resolve(DONE);
    if (r.state !== "uninitialized") this.refuse(r, "initialize relationship", "only an uninitialized relationship can be initialized");
    return Promise.resolve(this.patchJob(r, () => void this.w.transfer(r)));
  }
  update(uuid: string): Promise<TransferRef> {
    const r = this.rel(uuid, "update relationship");
    if (r.state !== "snapmirrored") return err(400, 13303844, "Update operation failed.", `POST /api/snapmirror/relationships/${uuid}/transfers`, "update relationship");
    this.w.mutations.push(`${this.c.name} POST transfer ${uuid}`);
    this.w.transfer(r);
    return Promise.resolve({ kind: "transfer", relationshipUuid: uuid });
  }
  abortTransfer(): Promise<Done> {
    throw new Error("fake ontap: abortTransfer not implemented");
  }
  quiesce(uuid: string): Promise<JobRef | Done> {
    const r = this.rel(uuid, "quiesce relationship");
    if (r.state === "paused") return Promise.resolve(DONE);
    if (r.state === "broken_off") return err(400, 13303818, "Invalid state transition requested.", `PATCH /api/snapmirror/relationships/${uuid}`, "quiesce relationship");
    return Promise.resolve(this.patchJob(r, () => void (r.state = "paused")));
  }
  resume(uuid: string): Promise<JobRef | Done> {
    const r = this.rel(uuid, "resume relationship");
    if (r.state === "snapmirrored") return Promise.resolve(DONE);
    if (r.state !== "paused") this.refuse(r, "resume relationship", "only a paused relationship can be resumed (use resync)");
    return Promise.resolve(this.patchJob(r, () => void (r.state = "snapmirrored")));
  }
  breakOff(uuid: string): Promise<JobRef | Done> {
    const r = this.rel(uuid, "break relationship");
    if (r.state === "broken_off") return Promise.resolve(DONE);
    if (r.state === "uninitialized") return err(400, 13303818, "Invalid state transition requested.", `PATCH /api/snapmirror/relationships/${uuid}`, "break relationship");
    return Promise.resolve(this.patchJob(r, () => {
      r.state = "broken_off";
      this.w.vol(this.c, r.dst.path.volume)!.type = "rw";
      return undefined;
    }));
  }
  resync(uuid: string): Promise<JobRef | Done> {
    const r = this.rel(uuid, "resync relationship");
    if (r.state === "snapmirrored") return Promise.resolve(DONE);
    return Promise.resolve(this.patchJob(r, () => void this.w.transfer(r)));
  }
  async reverse(uuid: string): Promise<JobRef | Done> {
    if (!(await this.getCapabilities()).reverseInPlace) {
      throw new PermanentError(`reverse relationship: ONTAP ${this.c.version} cannot reverse a relationship in place (needs 9.9.1)`, OntapReason.Unsupported);
    }
    if (this.w.relsAt(this.c, true).some((x) => x.uuid === uuid)) return DONE;
    const r = this.rel(uuid, "reverse relationship");
    return this.patchJob(r, () => {
      [r.src, r.dst] = [r.dst, r.src];
      this.w.vol(this.w.cluster(r.src.cluster), r.src.path.volume)!.type = "rw";
      this.w.transfer(r);
      return undefined;
    });
  }
  async establishReverse(s: RelationshipSpec): Promise<JobRef | Done> {
    const r = this.w.relsAt(this.c, false).find((x) => formatPath(x.dst.path) === formatPath(s.destination));
    if (!r) return this.createRelationship(s);
    if (formatPath(r.src.path) !== formatPath(s.source)) throw new PermanentError("establish reverse relationship: destination taken", OntapReason.AlreadyExists);
    return r.state === "snapmirrored" ? DONE : this.patchJob(r, () => void this.w.transfer(r));
  }
  deleteRelationship(uuid: string, scope: DeleteScope): Promise<JobRef | Done> {
    const atSource = scope === "source_only" || scope === "source_info_only";
    const r = this.w.relsAt(this.c, atSource).find((x) => x.uuid === uuid);
    if (!r) return Promise.resolve(DONE);
    return Promise.resolve(this.w.job(this.c, "DELETE", `/api/snapmirror/relationships/${uuid}`, () => {
      if (scope === "destination_only" || scope === "full") r.atDestination = false;
      if (scope !== "destination_only") r.seenAtSource = false;
      if (!r.seenAtSource && !r.atDestination) this.w.dropRel(r);
      return undefined;
    }));
  }
  release(uuid: string): Promise<JobRef | Done> {
    return this.deleteRelationship(uuid, "source_only");
  }
  getPolicy(): never {
    throw new Error("fake ontap: getPolicy not implemented");
  }

  setSchedule(): never {
    throw new Error("fake ontap: setSchedule not implemented");
  }

  private volume(v: FakeVol): Volume {
    return {
      uuid: v.uuid, name: v.name, svm: v.svm, type: v.type, state: v.state, nasPath: v.nasPath,
      clone: v.clone ? { parentVolume: v.clone.parentVolume, parentSnapshot: v.clone.parentSnapshot, splitInitiated: false } : undefined,
    };
  }
  private mustVol(ref: VolumeRef, what: string): FakeVol {
    const v = this.w.vol(this.c, ref.name);
    if (!v) throw new WaitError(`${what}: volume ${ref.svm}:${ref.name} does not exist`, OntapReason.NotFound, TRANSFER_RETRY_MS);
    return v;
  }
  getVolume(ref: VolumeRef): Promise<Volume | undefined> {
    const v = ref.svm === this.c.svm ? this.w.vol(this.c, ref.name) : undefined;
    return Promise.resolve(v && this.volume(v));
  }
  createDpVolume(): never {
    throw new Error("fake ontap: createDpVolume not implemented");
  }
  mountVolume(ref: VolumeRef, path: string): Promise<JobRef | Done> {
    const v = this.mustVol(ref, "mount volume");
    return Promise.resolve(v.nasPath === path ? DONE : this.w.job(this.c, "PATCH", `/api/storage/volumes/${v.uuid}`, () => void (v.nasPath = path)));
  }
  unmountVolume(ref: VolumeRef): Promise<JobRef | Done> {
    const v = this.mustVol(ref, "unmount volume");
    return Promise.resolve(!v.nasPath ? DONE : this.w.job(this.c, "PATCH", `/api/storage/volumes/${v.uuid}`, () => void (v.nasPath = undefined)));
  }
  setExportPolicy(): never {
    throw new Error("fake ontap: setExportPolicy not implemented");
  }
  offlineVolume(ref: VolumeRef): Promise<JobRef | Done> {
    const v = this.mustVol(ref, "offline volume");
    return Promise.resolve(v.state === "offline" ? DONE : this.w.job(this.c, "PATCH", `/api/storage/volumes/${v.uuid}`, () => {
      v.state = "offline";
      v.nasPath = undefined;
      return undefined;
    }));
  }
  deleteVolume(ref: VolumeRef): Promise<JobRef | Done> {
    const v = this.w.vol(this.c, ref.name);
    if (!v) return Promise.resolve(DONE);
    return Promise.resolve(this.w.job(this.c, "DELETE", `/api/storage/volumes/${v.uuid}`, () => {
      if (this.c.vols.some((x) => x.clone?.parentVolume === v.name)) return new OntapApiError({ statusCode: 0, code: 524615, message: "Volume has clones", request: "DELETE" });
      this.c.vols.splice(this.c.vols.indexOf(v), 1);
      this.c.maps = this.c.maps.filter((m) => !v.luns.some((l) => l.uuid === m.lunUuid));
      return undefined;
    }));
  }
  listSnapshots(ref: VolumeRef): Promise<Snapshot[]> {
    const v = this.w.vol(this.c, ref.name);
    if (!v) throw new TransientError(`list snapshots: volume ${ref.svm}:${ref.name} does not exist`, OntapReason.NotFound);
    return Promise.resolve(v.snaps.map((s) => ({ ...s, owners: [...s.owners] })));
  }
  async findNewestSnapMirrorSnapshot(ref: VolumeRef): Promise<Snapshot | undefined> {
    return (await this.listSnapshots(ref)).filter((s) => s.name.startsWith("snapmirror.")).at(-1);
  }
  createFlexClone(s: { svm: string; name: string; parentVolume: string; parentSnapshot: string; junctionPath?: string }): Promise<JobRef | Done> {
    const what = "create flexclone";
    const existing = this.w.vol(this.c, s.name);
    if (existing) {
      if (existing.clone?.parentVolume === s.parentVolume && existing.clone.parentSnapshot === s.parentSnapshot) return Promise.resolve(DONE);
      throw new PermanentError(`${what}: volume ${s.svm}:${s.name} exists and is not that FlexClone`, OntapReason.AlreadyExists);
    }
    const parent = this.w.vol(this.c, s.parentVolume);
    if (!parent) return err(404, 524601, `Parent volume "${s.parentVolume}" not found.`, "POST /api/storage/volumes", what);
    if (!parent.snaps.some((x) => x.name === s.parentSnapshot)) return err(404, 1638600, "Snapshot copy does not exist.", "POST /api/storage/volumes", what);
    return Promise.resolve(this.w.job(this.c, "POST", "/api/storage/volumes", () => {
      this.c.vols.push({
        uuid: this.w.id("vol"), name: s.name, svm: this.c.svm, type: "rw", state: "online", nasPath: s.junctionPath,
        clone: { parentVolume: s.parentVolume, parentSnapshot: s.parentSnapshot }, snaps: [], luns: parent.luns.map((l) => this.w.lun(l.leaf)),
      });
      return undefined;
    }));
  }
  splitClone(): never {
    throw new Error("fake ontap: splitClone not implemented");
  }
  deleteClone(ref: VolumeRef): Promise<JobRef | Done> {
    const v = this.w.vol(this.c, ref.name);
    if (!v) return Promise.resolve(DONE);
    if (!v.clone) throw new PermanentError(`delete flexclone: volume ${ref.svm}:${ref.name} is not a FlexClone; refusing to delete it`, OntapReason.InvalidSpec);
    return v.nasPath ? this.unmountVolume(ref) : this.deleteVolume(ref);
  }

  listLuns(ref: VolumeRef): Promise<Lun[]> {
    const v = this.w.vol(this.c, ref.name);
    return Promise.resolve((v?.luns ?? []).map((l) => ({
      uuid: l.uuid, name: `/vol/${v!.name}/${l.leaf}`, svm: this.c.svm, volume: v!.name, serialNumber: l.serial, enabled: l.enabled, state: l.enabled ? "online" : "offline",
      maps: this.c.maps.filter((m) => m.lunUuid === l.uuid).map((m) => ({ igroup: this.c.igroups.find((g) => g.uuid === m.igroupUuid)!.name, igroupUuid: m.igroupUuid, logicalUnitNumber: m.id })),
    })));
  }
  private findLun(pred: (v: FakeVol, l: FakeLun) => boolean): { v: FakeVol; l: FakeLun } | undefined {
    for (const v of this.c.vols) for (const l of v.luns) if (pred(v, l)) return { v, l };
    return undefined;
  }
  setLunEnabled(uuid: string, enabled: boolean): Promise<JobRef | Done> {
    const found = this.findLun((_v, l) => l.uuid === uuid);
    if (!found) throw new TransientError(`online lun: LUN ${uuid} does not exist`, OntapReason.NotFound);
    if (found.l.enabled !== enabled) this.w.mutations.push(`${this.c.name} PATCH lun ${uuid}`);
    found.l.enabled = enabled;
    return Promise.resolve(DONE);
  }
  getIgroup(svm: string, name: string): Promise<Igroup | undefined> {
    return Promise.resolve(svm === this.c.svm ? this.c.igroups.find((g) => g.name === name) : undefined);
  }
  createIgroup(): never {
    throw new Error("fake ontap: createIgroup not implemented");
  }
  addInitiators(): never {
    throw new Error("fake ontap: addInitiators not implemented");
  }
  mapLun(s: LunMapSpec): Promise<LunMap> {
    const what = "map lun";
    const found = this.findLun((v, l) => `/vol/${v.name}/${l.leaf}` === s.lun);
    const g = this.c.igroups.find((x) => x.name === s.igroup);
    if (!found) return err(404, 5374875, "The specified LUN was not found.", "POST /api/protocols/san/lun-maps", what);
    if (!g) return err(404, 5374852, "The initiator group does not exist.", "POST /api/protocols/san/lun-maps", what);
    let m = this.c.maps.find((x) => x.lunUuid === found.l.uuid && x.igroupUuid === g.uuid);
    if (!m) {
      const used = new Set(this.c.maps.filter((x) => x.igroupUuid === g.uuid).map((x) => x.id));
      let id = s.logicalUnitNumber ?? 0;
      while (s.logicalUnitNumber === undefined && used.has(id)) id++;
      m = { lunUuid: found.l.uuid, igroupUuid: g.uuid, id };
      this.c.maps.push(m);
      this.w.mutations.push(`${this.c.name} POST lun-map ${s.lun}`);
    }
    return Promise.resolve({ lunUuid: m.lunUuid, lun: s.lun, igroupUuid: g.uuid, igroup: g.name, logicalUnitNumber: m.id });
  }
  unmapLun(lunUuid: string, igroupUuid: string): Promise<Done> {
    this.c.maps = this.c.maps.filter((m) => !(m.lunUuid === lunUuid && m.igroupUuid === igroupUuid));
    return Promise.resolve(DONE);
  }
  getExportPolicy(): never {
    throw new Error("fake ontap: getExportPolicy not implemented");
  }
  createExportPolicy(): never {
    throw new Error("fake ontap: createExportPolicy not implemented");
  }
  deleteExportPolicy(): never {
    throw new Error("fake ontap: deleteExportPolicy not implemented");
  }
  addExportRule(): never {
    throw new Error("fake ontap: addExportRule not implemented");
  }
  close(): void {}
}
