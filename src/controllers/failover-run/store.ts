import { FailoverRunType, INLINE_VM_LIMIT, LABELS, GROUP, VERSION } from "../../api/v1alpha1/index.js";
import type { FailoverRun, FailoverRunStatus, StepRecord, VmRecord } from "../../api/v1alpha1/index.js";
import type { RunHost } from "../../engine/types.js";
import { isAlreadyExists, isConflict } from "../../kube/errors.js";
import type { KubeStore } from "../../kube/store.js";
import { updateStatusIfChanged } from "../../kube/store.js";
import { ConflictError } from "../../runtime/errors.js";
import { ConfigMapType } from "../protection-group/records.js";
import type { ConfigMap } from "../protection-group/records.js";

/** VM records per shard ConfigMap: 500 records of ~0.7 KiB stay far below the 1 MiB object limit. */
export const VMS_PER_SHARD = 500;

const shardName = (run: string, i: number): string => `${run}-vms-${i}`;

/** What this process last wrote (or read) of each shard, so a pass neither re-reads nor rewrites unchanged shards. */
export type ShardCache = Map<string, { resourceVersion: string; json: string }>;

/**
 * A FailoverRun as the step engine's RunHost: its status (step records, volumes, plan, report)
 * and its per-VM records, which live in the status up to INLINE_VM_LIMIT and beyond it in
 * ConfigMaps owned by the run (garbage-collected with it). A checkpoint writes the shards that
 * changed, then the status, each conditional on the version this process last saw; a 409 means
 * another writer (a stale leader) and surfaces as ConflictError.
 */
export class RunStore implements RunHost {
  /** Which step list the engine advances: the run's own, or a Test's cleanup of itself. */
  phase: "main" | "cleanup" = "main";

  private constructor(
    private readonly kube: KubeStore,
    public run: FailoverRun,
    readonly status: FailoverRunStatus,
    readonly vms: VmRecord[],
    private readonly cache: ShardCache,
  ) {}

  static async load(kube: KubeStore, run: FailoverRun, cache: ShardCache, signal: AbortSignal): Promise<RunStore> {
    const status: FailoverRunStatus = structuredClone(run.status ?? {});
    let vms: VmRecord[] = status.vms ?? [];
    if (status.vmShards?.length) {
      vms = [];
      for (const s of status.vmShards) {
        const key = `${run.metadata.uid}/${s.name}`;
        let json = cache.get(key)?.json;
        if (json === undefined) {
          const cm = await kube.get(ConfigMapType, { namespace: run.metadata.namespace, name: s.name }, signal);
          json = cm?.data?.vms ?? "[]";
          cache.set(key, { resourceVersion: cm?.metadata.resourceVersion ?? "", json });
        }
        vms.push(...(JSON.parse(json) as VmRecord[]));
      }
    }
    return new RunStore(kube, run, status, vms, cache);
  }

  get steps(): StepRecord[] {
    return (this.phase === "cleanup" ? this.status.cleanupSteps : this.status.steps) ?? [];
  }

  /** Replaces the VM records (at plan time); large runs get their shards. */
  setVms(vms: VmRecord[]): void {
    this.vms.splice(0, this.vms.length, ...vms);
    if (vms.length > INLINE_VM_LIMIT) {
      this.status.vmShards = Array.from({ length: Math.ceil(vms.length / VMS_PER_SHARD) }, (_, i) => ({
        name: shardName(this.run.metadata.name, i),
        vms: Math.min(VMS_PER_SHARD, vms.length - i * VMS_PER_SHARD),
      }));
    }
  }

  async checkpoint(signal: AbortSignal): Promise<void> {
    summarize(this.status, this.vms, this.steps);
    if (this.status.vmShards?.length) {
      this.status.vms = undefined;
      for (const [i, s] of this.status.vmShards.entries()) await this.writeShard(s.name, this.vms.slice(i * VMS_PER_SHARD, (i + 1) * VMS_PER_SHARD), signal);
    } else {
      this.status.vms = this.vms.length ? this.vms : undefined;
    }
    this.status.observedGeneration = this.run.metadata.generation;
    this.run = (await updateStatusIfChanged(this.kube, FailoverRunType, this.run, this.status, signal)).object;
  }

  private async writeShard(name: string, vms: readonly VmRecord[], signal: AbortSignal): Promise<void> {
    const key = `${this.run.metadata.uid}/${name}`;
    const json = JSON.stringify(vms);
    const cached = this.cache.get(key);
    if (cached?.json === json) return;
    const metadata = {
      namespace: this.run.metadata.namespace,
      name,
      labels: { [LABELS.failoverRun]: this.run.metadata.name },
      ownerReferences: [{ apiVersion: `${GROUP}/${VERSION}`, kind: "FailoverRun", name: this.run.metadata.name, uid: this.run.metadata.uid ?? "", controller: true, blockOwnerDeletion: false }],
    };
    try {
      const written: ConfigMap = cached?.resourceVersion
        ? await this.kube.replace(ConfigMapType, { metadata: { ...metadata, resourceVersion: cached.resourceVersion }, data: { vms: json } }, signal)
        : await this.kube.create(ConfigMapType, { metadata, data: { vms: json } }, signal);
      this.cache.set(key, { resourceVersion: written.metadata.resourceVersion ?? "", json });
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) {
        this.cache.delete(key); // re-read on the next pass
        throw new ConflictError(`per-VM records ${name} of FailoverRun ${this.run.metadata.name} changed since read`, "Conflict", { cause: err });
      }
      throw err;
    }
  }
}

/** Derived fields: counts, progress and the current step (for printer columns and people). */
export function summarize(status: FailoverRunStatus, vms: readonly VmRecord[], steps: readonly StepRecord[]): void {
  const n = (f: (v: VmRecord) => boolean): number => vms.filter(f).length;
  const reached = (...states: VmRecord["state"][]): ((v: VmRecord) => boolean) => (v) => states.includes(v.state);
  if (vms.length) {
    status.counts = {
      vms: vms.length,
      registered: n(reached("Registered", "Configured", "PoweredOn", "Ready")),
      configured: n(reached("Configured", "PoweredOn", "Ready")),
      poweredOn: n(reached("PoweredOn", "Ready")),
      ready: n(reached("Ready")),
      failed: n(reached("Failed")),
      skipped: n(reached("Skipped")),
    };
    status.progress = `${status.counts.ready}/${vms.length}`;
  }
  const current = steps.find((s) => s.state !== "Succeeded" && s.state !== "Skipped" && s.state !== "Failed") ?? steps.find((s) => s.state === "Failed");
  status.currentStep = current?.name ?? (steps.length ? "Done" : status.currentStep);
}
