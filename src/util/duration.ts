/** Go-style durations ("90s", "1m30s", "250ms", "2h") as used in our specs and flags. */
export const DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Parses a duration to milliseconds; throws on anything DURATION_PATTERN rejects. */
export function parseDuration(text: string): number {
  if (!new RegExp(DURATION_PATTERN).test(text)) throw new Error(`invalid duration "${text}" (want e.g. 30s, 5m, 1h30m)`);
  let total = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ""] ?? 0);
  }
  return Math.round(total);
}

/**
 * A duration in seconds, or undefined when it is not one: for values the CRD schema admits only as
 * durations but that may reach us from objects written around it (saved files, older versions).
 */
export function durationSeconds(text: string): number | undefined {
  return new RegExp(DURATION_PATTERN).test(text) ? parseDuration(text) / 1000 : undefined;
}
