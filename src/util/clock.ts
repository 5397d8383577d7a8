/**
 * Time as a dependency. Everything that waits, schedules or stamps goes through a Clock so unit
 * tests can drive time with FakeClock (test/fakes) instead of sleeping.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch (for timestamps written to the API). */
  now(): number;
  /** Monotonic milliseconds (for durations and deadlines; never goes backwards). */
  monotonic(): number;
  /**
   * Calls fn after ms; the returned function cancels the call (idempotent). A pending timer keeps
   * the process alive, so whoever sets one must cancel it on shutdown.
   */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(t);
  },
};

/** RFC 3339 timestamp with second precision, as Kubernetes serializes metav1.Time. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** Resolves after ms on the given clock, or rejects when signal aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason as Error);
    };
    const cancel = clock.setTimer(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
