/**
 * What a reconcile pass returns (STYLE.md §2.3). There is no `requeue: true`: every wait states its
 * poll interval. `requeueAfterMs` of 0 means "again now"; test for `!== undefined`.
 */
export interface Result {
  readonly requeueAfterMs?: number;
}

export const done = (): Result => ({});
export const requeueAfter = (ms: number): Result => ({ requeueAfterMs: Math.max(0, ms) });
