import { setMaxListeners } from "node:events";

/**
 * A signal that aborts when `parent` aborts or after `ms`, whichever comes first. Unlike
 * AbortSignal.timeout + AbortSignal.any, the timer and the listener on the parent are released
 * by release() as soon as the guarded work is over, so thousands of short calls do not leave
 * thousands of pending timers and listeners behind.
 */
export function deadline(parent: AbortSignal | undefined, ms: number): { signal: AbortSignal; release(): void } {
  const ac = new AbortController();
  // Work under one signal (a reconcile's) may fan out into many concurrent calls, each adding a
  // listener; that is by design, not a leak.
  setMaxListeners(0, ac.signal);
  const onAbort = (): void => ac.abort(parent?.reason);
  if (parent?.aborted) ac.abort(parent.reason);
  else parent?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => ac.abort(new DOMException(`timed out after ${ms}ms`, "TimeoutError")), Math.max(1, Math.ceil(ms)));
  return {
    signal: ac.signal,
    release() {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onAbort);
    },
  };
}
