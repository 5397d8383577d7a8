/** Exponential backoff with an optional ceiling and full jitter where asked for. */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly factor?: number;
}

/** The delay before attempt n (n = 0 is the first retry): base * factor^n, capped at max. */
export function backoffDelay(n: number, o: BackoffOptions): number {
  const factor = o.factor ?? 2;
  // Cap the exponent so the arithmetic cannot overflow to Infinity for very large n.
  const exp = Math.min(n, 64);
  return Math.min(o.maxMs, o.baseMs * Math.pow(factor, exp));
}

/** Spreads a period by ±fraction so many objects polled on the same period do not align. */
export function jitter(ms: number, fraction = 0.1, random: () => number = Math.random): number {
  return Math.round(ms * (1 - fraction + 2 * fraction * random()));
}
