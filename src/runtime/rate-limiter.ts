import { backoffDelay } from "../util/backoff.js";
import type { Clock } from "../util/clock.js";

/** Decides how long a failed key waits before its next attempt (client-go's RateLimiter). */
export interface RateLimiter {
  /** The delay for this key's next retry; counts the retry. */
  when(key: string): number;
  /** Clears the key's failure history (after a successful pass). */
  forget(key: string): void;
  /** How many retries the key has had since it was last forgotten. */
  retries(key: string): number;
}

/** Per-key exponential backoff: base·2^n, capped (controller-runtime: 5 ms → 1000 s). */
export class ItemExponentialRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1_000_000,
  ) {}

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return backoffDelay(n, { baseMs: this.baseMs, maxMs: this.maxMs });
  }
  forget(key: string): void {
    this.failures.delete(key);
  }
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/**
 * An overall token bucket over all retries (controller-runtime: 10 qps, burst 100), so a storm of
 * failures cannot hammer vCenter or ONTAP however many keys fail at once. Each call reserves a
 * token and returns how long until that token exists.
 */
export class BucketRateLimiter implements RateLimiter {
  private tokens: number;
  private last: number;
  constructor(
    private readonly clock: Clock,
    private readonly qps = 10,
    private readonly burst = 100,
  ) {
    this.tokens = burst;
    this.last = clock.monotonic();
  }

  when(): number {
    const now = this.clock.monotonic();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }
  forget(): void {}
  retries(): number {
    return 0;
  }
}

/** The worst (longest) delay of several limiters. */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: readonly RateLimiter[];
  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }
  when(key: string): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.when(key));
    return max;
  }
  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }
  retries(key: string): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.retries(key));
    return max;
  }
}

/** controller-runtime's default: per-key 5 ms → 1000 s, max'd with a 10 qps / 100 burst bucket. */
export function defaultControllerRateLimiter(clock: Clock): RateLimiter {
  return new MaxOfRateLimiter(new ItemExponentialRateLimiter(5, 1_000_000), new BucketRateLimiter(clock, 10, 100));
}

/**
 * For controllers whose objects are operations in progress (a FailoverRun): per-key 5 ms → 10 s,
 * so a run notices within seconds that an endpoint that was down for minutes is back.
 */
export function operationRateLimiter(clock: Clock): RateLimiter {
  return new MaxOfRateLimiter(new ItemExponentialRateLimiter(5, 10_000), new BucketRateLimiter(clock, 10, 100));
}
