import type { FailoverRunSpec, FailoverRunStatus, ProtectionGroup, Site, VmRecord, VolumeRecord } from "../../api/v1alpha1/index.js";
import type { ObjectMeta } from "../../kube/types.js";
import type { Logger } from "../../log/logger.js";
import type { KubeStore } from "../../kube/store.js";
import type { JobRef, OntapClient } from "../../ontap/client.js";
import type { Handle } from "../../engine/types.js";
import { PermanentError, WaitError } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import type { InventoryIndex } from "../../sites/inventory-index.js";
import type { Clock } from "../../util/clock.js";
import type { VsphereClient } from "../../vsphere/client.js";
import type { DnsClient } from "../../dns/client.js";

/** How steps reach the outside world: clients per Site, inventories, the API. */
export interface RunWorld {
  readonly kube: KubeStore;
  readonly clock: Clock;
  readonly events: EventRecorder;
  readonly site: (name: string) => Site | undefined;
  readonly vcenter: (site: Site, signal: AbortSignal) => Promise<VsphereClient>;
  readonly ontap: (site: Site, controller: string | undefined) => OntapClient;
  /** The Site's inventory as its watcher has it now, or undefined when it has not synced. */
  readonly inventory: (site: string) => InventoryIndex | undefined;
  /**
   * Resolves when the inventory of one of these Sites changes (a VM registered, powered on, asked
   * a question), or after ms; absent where nothing reports changes (a run then looks once per pass).
   */
  readonly changed?: (sites: readonly string[], ms: number, signal: AbortSignal) => Promise<void>;
  /** A client of the group's DNS server (spec.dns), its TSIG key read from its Secret; absent where runs update no DNS. */
  readonly dns?: (group: ProtectionGroup, signal: AbortSignal) => Promise<DnsClient>;
}

/**
 * What the steps read and record: the run's identity and options, its volume and VM records, and
 * the parts of its status they report into. A FailoverRun (RunStore) is one; a ProtectionGroup's
 * pre-registration batch is another, with the same steps.
 */
export interface RunState {
  readonly run: {
    readonly metadata: Pick<ObjectMeta, "name" | "namespace" | "uid">;
    readonly spec: Pick<FailoverRunSpec, "networkMode" | "powerOn" | "testLocation" | "shutdown" | "quiesceTimeout" | "reIp" | "discardRecoverySiteChanges" | "createMissingVolumes"> & { readonly type: FailoverRunSpec["type"] | "PreRegistration" };
  };
  readonly status: Pick<FailoverRunStatus, "volumes" | "recoveryPoints" | "recoveryPointSkewSeconds" | "dataLossWindowSeconds" | "cleanup" | "testRun" | "testRunUid" | "capacity">;
  readonly vms: VmRecord[];
}

/** What every step sees during one pass. */
export class RunContext {
  private readonly inventories = new Map<string, InventoryIndex>();
  private readonly memos = new Map<string, unknown>();

  constructor(
    readonly store: RunState,
    readonly world: RunWorld,
    /** The run's groups, read live at the start of the pass, by name. */
    readonly groups: ReadonlyMap<string, ProtectionGroup>,
    readonly log: Logger,
    readonly signal: AbortSignal,
  ) {}

  get run(): RunState["run"] {
    return this.store.run;
  }

  get vms(): VmRecord[] {
    return this.store.vms;
  }

  get volumes(): VolumeRecord[] {
    return (this.store.status.volumes ??= []);
  }

  /**
   * The short id that names what the run creates (clones, export policies): the first 8 hex digits
   * of its uid — for a CleanupTest, of the Test's, since it removes what the Test made.
   */
  get shortId(): string {
    return (this.store.status.testRunUid ?? this.run.metadata.uid ?? "").replace(/-/g, "").slice(0, 8);
  }

  now(): number {
    return this.world.clock.now();
  }

  group(name: string): ProtectionGroup {
    const g = this.groups.get(name);
    if (!g) throw new PermanentError(`ProtectionGroup ${name} no longer exists`, "GroupNotFound");
    return g;
  }

  /**
   * Which way the run moves a group: to its recovery site (tests, planned migrations, disasters),
   * or back to its protected site (a failback). Steps bring VMs up at the "target" site.
   */
  get backToProtected(): boolean {
    return this.run.spec.type === "Failback";
  }

  /** The name of the Site where the run brings the group's VMs up. */
  targetSiteName(group: string): string {
    const g = this.group(group);
    return this.backToProtected ? g.spec.protectedSiteRef : g.spec.recoverySiteRef;
  }

  /** The name of the Site the group's VMs leave (the protected site, but for a failback). */
  sourceSiteName(group: string): string {
    const g = this.group(group);
    return this.backToProtected ? g.spec.recoverySiteRef : g.spec.protectedSiteRef;
  }

  private siteNamed(name: string, what: string): Site {
    const s = this.world.site(name);
    if (!s) throw new PermanentError(`${what} Site ${name} no longer exists`, "SiteNotFound");
    return s;
  }

  /** The Site where the run brings a group's VMs up (its recovery site; its protected site for a failback). */
  recoverySite(group: string): Site {
    return this.siteNamed(this.targetSiteName(group), "target");
  }

  /** The Site a group's VMs leave. */
  sourceSite(group: string): Site {
    return this.siteNamed(this.sourceSiteName(group), "source");
  }

  /** The target Sites of the run (usually one). */
  recoverySites(): Site[] {
    return [...new Set([...this.groups.keys()].map((g) => this.targetSiteName(g)))].sort().map((n) => this.siteNamed(n, "target"));
  }

  /** Drops the inventory snapshots and memos: the next read sees the world as its watchers have it now. */
  refresh(): void {
    this.inventories.clear();
    this.memos.clear();
  }

  /** A value computed once per look (until refresh): what the steps derive from all records, once instead of per VM. */
  memo<T>(key: string, compute: () => T): T {
    if (!this.memos.has(key)) this.memos.set(key, compute());
    return this.memos.get(key) as T;
  }

  /** One inventory snapshot per Site per look (refresh); waits (WaitError) while the Site's watcher is not synced. */
  inventory(site: string): InventoryIndex {
    let inv = this.inventories.get(site);
    if (!inv) {
      inv = this.world.inventory(site);
      if (!inv) throw new WaitError(`waiting for Site ${site}'s vCenter inventory (is the Site Ready?)`, "WaitingForInventory", 5_000);
      this.inventories.set(site, inv);
    }
    return inv;
  }

  vcenter(site: Site): Promise<VsphereClient> {
    return this.world.vcenter(site, this.signal);
  }

  ontapFor(v: VolumeRecord): OntapClient {
    return this.world.ontap(this.recoverySite(v.group), v.controller);
  }

  /** The engine's handle of an ONTAP job started at an endpoint (ontapEndpoint). */
  ontapJob(endpoint: string, job: JobRef): Handle {
    return { system: "ontap", endpoint, kind: "job", id: job.uuid, startedAt: new Date(this.now()).toISOString() };
  }

  /** The ONTAP endpoint name a handle of this volume's cluster carries. */
  ontapEndpoint(v: VolumeRecord): string {
    return `${this.recoverySite(v.group).metadata.name}/${v.controller ?? ""}`;
  }
}
