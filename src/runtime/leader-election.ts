import type { Logger } from "../log/logger.js";
import type { Clock } from "../util/clock.js";
import { sleep } from "../util/clock.js";
import { jitter } from "../util/backoff.js";
import { deadline } from "../util/deadline.js";
import { isAlreadyExists, isConflict } from "../kube/errors.js";
import type { KubeStore } from "../kube/store.js";
import type { KubeObject, ResourceType } from "../kube/types.js";

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export type Lease = KubeObject & { spec?: LeaseSpec };

export const LeaseType: ResourceType<Lease> = {
  group: "coordination.k8s.io",
  version: "v1",
  kind: "Lease",
  plural: "leases",
  namespaced: true,
};

export interface LeaderElectionOptions {
  readonly kube: KubeStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica (hostname + random suffix). */
  readonly identity: string;
  readonly leaseDurationMs: number; // 15 s
  readonly renewDeadlineMs: number; // 10 s
  readonly retryPeriodMs: number; // 2 s
  /** On a graceful stop, hand the lease back so a standby takes over at once. */
  readonly releaseOnCancel: boolean;
}

/**
 * Lease-based leader election with client-go's algorithm: a candidate takes the Lease when it is
 * free or when its holder has not renewed it for leaseDuration, measured on the candidate's own
 * clock from when it last saw the record change (so clock skew between replicas does not matter).
 * All writes are conditional on resourceVersion, so two candidates cannot both win.
 */
export class LeaderElector {
  private observed: LeaseSpec | undefined;
  private observedAt = 0;
  private leading = false;

  constructor(private readonly o: LeaderElectionOptions) {}

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until this replica leads (resolves true) or signal aborts (resolves false).
   */
  async acquire(signal: AbortSignal): Promise<boolean> {
    const { clock, log } = this.o;
    log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, "Attempting to acquire leader lease");
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew(signal)) {
        this.leading = true;
        log.info({ identity: this.o.identity }, "Acquired leader lease");
        return true;
      }
      try {
        await sleep(clock, jitter(this.o.retryPeriodMs, 0.2), signal);
      } catch {
        break;
      }
    }
    return false;
  }

  /**
   * Keeps renewing until the lease is lost (resolves "lost": no successful renew within
   * renewDeadline, or another holder took it) or signal aborts (resolves "stopped", after
   * releasing the lease if configured).
   */
  async hold(signal: AbortSignal): Promise<"lost" | "stopped"> {
    const { clock, log } = this.o;
    let lastRenew = clock.monotonic();
    while (!signal.aborted) {
      try {
        await sleep(clock, this.o.retryPeriodMs, signal);
      } catch {
        break;
      }
      const remaining = this.o.renewDeadlineMs - (clock.monotonic() - lastRenew);
      const attempt = deadline(signal, remaining);
      const renewed = await this.tryAcquireOrRenew(attempt.signal);
      attempt.release();
      if (renewed) {
        lastRenew = clock.monotonic();
        continue;
      }
      if (signal.aborted) break;
      if (clock.monotonic() - lastRenew >= this.o.renewDeadlineMs) {
        this.leading = false;
        log.error({ identity: this.o.identity, holder: this.observed?.holderIdentity }, "Lost leader lease");
        return "lost";
      }
    }
    if (this.o.releaseOnCancel) await this.release();
    this.leading = false;
    return "stopped";
  }

  /** One attempt; true when we hold the lease afterwards. Never throws. */
  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const { kube, clock, namespace, name, identity } = this.o;
    const now = microTime(clock.now());
    const durationS = Math.ceil(this.o.leaseDurationMs / 1000);
    try {
      const lease = await kube.get(LeaseType, { namespace, name }, signal);
      if (!lease) {
        const spec: LeaseSpec = { holderIdentity: identity, leaseDurationSeconds: durationS, acquireTime: now, renewTime: now, leaseTransitions: 0 };
        await kube.create(LeaseType, { metadata: { namespace, name }, spec }, signal);
        this.observe(spec);
        return true;
      }
      const current = lease.spec ?? {};
      if (!this.observed || !sameRecord(this.observed, current)) this.observe(current);
      const holder = current.holderIdentity ?? "";
      const theirDurationMs = (current.leaseDurationSeconds ?? durationS) * 1000;
      if (holder !== "" && holder !== identity && clock.monotonic() < this.observedAt + theirDurationMs) {
        return false;
      }
      const mine = holder === identity;
      const spec: LeaseSpec = {
        holderIdentity: identity,
        leaseDurationSeconds: durationS,
        acquireTime: mine ? current.acquireTime ?? now : now,
        renewTime: now,
        leaseTransitions: mine ? current.leaseTransitions ?? 0 : (current.leaseTransitions ?? 0) + 1,
      };
      await kube.replace(LeaseType, { ...lease, spec }, signal);
      this.observe(spec);
      return true;
    } catch (err) {
      if (!isConflict(err) && !isAlreadyExists(err) && !signal.aborted) {
        this.o.log.warn({ err }, "Could not read or update the leader lease");
      }
      return false;
    }
  }

  /** Gives the lease up so a standby can take it without waiting for it to expire. */
  private async release(): Promise<void> {
    const { kube, clock, namespace, name, identity, log } = this.o;
    try {
      const lease = await kube.get(LeaseType, { namespace, name }, AbortSignal.timeout(this.o.renewDeadlineMs));
      if (!lease || lease.spec?.holderIdentity !== identity) return;
      const now = microTime(clock.now());
      await kube.replace(
        LeaseType,
        { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now, acquireTime: now } },
        AbortSignal.timeout(this.o.renewDeadlineMs),
      );
      log.info({ identity }, "Released leader lease");
    } catch (err) {
      log.warn({ err }, "Could not release the leader lease; it will expire");
    }
  }

  private observe(spec: LeaseSpec): void {
    this.observed = { ...spec };
    this.observedAt = this.o.clock.monotonic();
  }
}

function sameRecord(a: LeaseSpec, b: LeaseSpec): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.renewTime === b.renewTime &&
    a.acquireTime === b.acquireTime &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.leaseTransitions === b.leaseTransitions
  );
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
