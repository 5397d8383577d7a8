import type { Logger } from "../../log/logger.js";
import { ConditionType, FINALIZERS, SiteType } from "../../api/v1alpha1/index.js";
import type { ProtectionGroup, ReplicationRelationship, Site, SiteStatus } from "../../api/v1alpha1/index.js";
import type { KubeStore } from "../../kube/store.js";
import { updateStatusIfChanged } from "../../kube/store.js";
import { asOperatorError, classOf, PermanentError, withMessage } from "../../runtime/errors.js";
import type { OperatorError } from "../../runtime/errors.js";
import type { ReconcileContext, Reconciler } from "../../runtime/controller.js";
import type { EventRecorder } from "../../runtime/events.js";
import { done, requeueAfter } from "../../runtime/result.js";
import type { Result } from "../../runtime/result.js";
import { jitter } from "../../util/backoff.js";
import type { Clock } from "../../util/clock.js";
import type { ObjectKey } from "../../kube/types.js";
import type { SiteConnections } from "../../sites/connections.js";
import type { SiteInventories } from "../../sites/inventories.js";
import { ensureFinalizer, removeFinalizer } from "../common/finalizers.js";
import { ConditionSetter, recordTransitions } from "../common/conditions.js";

export interface SiteReconcilerDeps {
  readonly kube: KubeStore;
  readonly clock: Clock;
  readonly events: EventRecorder;
  readonly connections: SiteConnections;
  readonly inventories: SiteInventories;
  /** Who still uses a Site (from the informer caches), for the deletion guard. */
  readonly users: (site: string) => { protectionGroups: ProtectionGroup[]; relationships: ReplicationRelationship[] };
  /** How often a healthy Site's endpoints are checked again. */
  readonly pollIntervalMs: number;
}

/** Retry slowly after a failure no retry can fix (bad credentials, unknown CA), in case the far end changed. */
const PERMANENT_RECHECK_MS = 5 * 60_000;

/**
 * Site: loads the credentials, opens and checks the vCenter session and every ONTAP controller,
 * reports one condition per endpoint kind plus Ready and Degraded, records versions, and owns the
 * Site's inventory watcher. Deletion waits until no ProtectionGroup or ReplicationRelationship
 * names the Site, then closes its sessions.
 */
export class SiteReconciler implements Reconciler {
  readonly name = "site";

  constructor(private readonly deps: SiteReconcilerDeps) {}

  async reconcile(ctx: ReconcileContext, key: ObjectKey): Promise<Result> {
    const { kube } = this.deps;
    const site = await kube.get(SiteType, key, ctx.signal);
    if (!site) {
      this.deps.inventories.stop(key.name);
      return done();
    }
    if (!site.metadata.deletionTimestamp && (await ensureFinalizer(kube, SiteType, site, FINALIZERS.site, ctx.signal))) return done();

    const status: SiteStatus = structuredClone(site.status ?? {});
    status.conditions ??= [];
    const cond = new ConditionSetter(status.conditions, site.metadata.generation, this.deps.clock);
    try {
      if (site.metadata.deletionTimestamp) return await this.reconcileDelete(ctx, site, cond);
      return await this.reconcileNormal(ctx, site, status, cond);
    } finally {
      status.observedGeneration = site.metadata.generation;
      const before = site.status?.conditions;
      const { written } = await updateStatusIfChanged(kube, SiteType, site, status, ctx.signal);
      if (written) recordTransitions(this.deps.events, site, before, status.conditions, [ConditionType.Ready, ConditionType.VCenterReachable, ConditionType.StorageReachable]);
    }
  }

  private async reconcileDelete(ctx: ReconcileContext, site: Site, cond: ConditionSetter): Promise<Result> {
    const users = this.deps.users(site.metadata.name);
    const names = [
      ...users.protectionGroups.map((p) => `ProtectionGroup ${p.metadata.namespace}/${p.metadata.name}`),
      ...users.relationships.map((r) => `ReplicationRelationship ${r.metadata.namespace}/${r.metadata.name}`),
    ];
    if (names.length > 0) {
      const shown = names.slice(0, 10).join(", ") + (names.length > 10 ? ` and ${names.length - 10} more` : "");
      cond.set(ConditionType.Ready, false, "InUse", `deletion waits until nothing uses this Site: ${shown}`);
      ctx.log.info({ users: names.length }, "Site deletion held by its users");
      return done(); // their deletion re-enqueues us
    }
    this.deps.inventories.stop(site.metadata.name);
    await this.deps.connections.release(site);
    await removeFinalizer(this.deps.kube, SiteType, site, FINALIZERS.site, ctx.signal);
    ctx.log.info("Released Site");
    return done();
  }

  /**
   * 1. vCenter: credentials, session (shared cache), version and instance UUID, the datacenter.
   * 2. Each ONTAP controller: credentials and cluster version.
   * 3. Conditions; the inventory watcher runs while the vCenter is reachable.
   */
  private async reconcileNormal(ctx: ReconcileContext, site: Site, status: SiteStatus, cond: ConditionSetter): Promise<Result> {
    const failures: OperatorError[] = [];
    const vcenterOk = await this.checkVcenter(ctx, site, status, cond, failures);
    const storageOk = await this.checkStorage(ctx, site, status, cond, failures);

    if (vcenterOk && storageOk) {
      cond.set(ConditionType.Ready, true, "Ready", "vCenter and every storage controller are reachable");
      cond.set(ConditionType.Degraded, false, "AllReachable");
    } else {
      const first = failures[0];
      cond.set(ConditionType.Ready, false, first?.reason ?? "Unreachable", failures.map((f) => f.message).join("; "));
      cond.set(ConditionType.Degraded, true, first?.reason ?? "Unreachable", failures.map((f) => f.message).join("; "));
    }
    if (vcenterOk) {
      try {
        this.deps.inventories.ensure(site);
      } catch (err) {
        ctx.log.warn({ err }, "Could not start the inventory watch");
      }
    } else {
      this.deps.inventories.stop(site.metadata.name);
    }

    const transient = failures.find((f) => classOf(f) !== "Permanent");
    if (transient) throw transient; // status is written on the way out; the runtime backs off
    if (failures.length > 0) return requeueAfter(PERMANENT_RECHECK_MS);
    return requeueAfter(jitter(this.deps.pollIntervalMs));
  }

  private async checkVcenter(ctx: ReconcileContext, site: Site, status: SiteStatus, cond: ConditionSetter, failures: OperatorError[]): Promise<boolean> {
    try {
      const client = await this.deps.connections.vcenter(site, ctx.signal);
      const about = client.about;
      status.vcenter = { version: about.version, apiVersion: about.apiVersion, instanceUuid: about.instanceUuid };
      const dc = await client.findDatacenter(site.spec.vcenter.datacenter, ctx.signal);
      if (!dc) {
        const err = new PermanentError(`vCenter ${site.spec.vcenter.url} has no datacenter "${site.spec.vcenter.datacenter}"`, "DatacenterNotFound");
        failures.push(err);
        cond.set(ConditionType.VCenterReachable, false, err.reason, err.message);
        return false;
      }
      cond.set(ConditionType.VCenterReachable, true, "Connected", `${about.fullName || `vCenter ${about.version}`}; datacenter "${dc.name}"`);
      return true;
    } catch (err) {
      // The credentials are still being read: not a finding about the endpoint.
      if (classOf(err) === "Wait") throw err;
      const e = asOperatorError(err);
      failures.push(e);
      cond.set(ConditionType.VCenterReachable, false, e.reason, e.message);
      logFailure(ctx.log, e, "Could not reach vCenter");
      return false;
    }
  }

  private async checkStorage(ctx: ReconcileContext, site: Site, status: SiteStatus, cond: ConditionSetter, failures: OperatorError[]): Promise<boolean> {
    const storage: NonNullable<SiteStatus["storage"]> = [];
    const problems: OperatorError[] = [];
    for (const c of site.spec.storage.controllers) {
      try {
        const info = await this.deps.connections.ontapClient(site, c.name).probe(ctx.signal);
        const v = info.version;
        storage.push({ name: c.name, version: `${v.generation}.${v.major}.${v.minor}`, cluster: info.name });
      } catch (err) {
        if (classOf(err) === "Wait") throw err;
        const e = asOperatorError(err);
        storage.push({ name: c.name });
        problems.push(withMessage(e, `controller ${c.name}: ${e.message}`));
        logFailure(ctx.log, e, "Could not reach ONTAP");
      }
    }
    status.storage = storage;
    if (problems.length === 0) {
      cond.set(ConditionType.StorageReachable, true, "Connected", storage.map((s) => `${s.name}: cluster ${s.cluster ?? "?"}, ONTAP ${s.version ?? "?"}`).join("; "));
      return true;
    }
    failures.push(...problems);
    cond.set(ConditionType.StorageReachable, false, problems[0]?.reason ?? "OntapUnreachable", problems.map((p) => p.message).join("; "));
    return false;
  }
}

function logFailure(log: Logger, e: OperatorError, msg: string): void {
  if (classOf(e) === "Permanent") log.error({ reason: e.reason, detail: e.message }, msg);
  else log.warn({ reason: e.reason, detail: e.message }, msg);
}
