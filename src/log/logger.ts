import { pino, stdSerializers, stdTimeFunctions } from "pino";
import type { DestinationStream, Logger, LevelWithSilent } from "pino";

export type { Logger } from "pino";

/**
 * Paths pino replaces with "[REDACTED]" wherever they appear in a log line's fields. This is a
 * second line of defence: our code never logs Secret data, SOAP envelopes or request bodies, but
 * an error from a library may carry headers or config objects.
 */
export const REDACT_PATHS: readonly string[] = [
  "password",
  "*.password",
  "*.*.password",
  "passwd",
  "*.passwd",
  "token",
  "*.token",
  "*.*.token",
  "bearerToken",
  "*.bearerToken",
  "credentials",
  "*.credentials",
  "secret",
  "*.secret",
  "cookie",
  "*.cookie",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "headers.cookie",
  'headers["set-cookie"]',
  "*.headers.authorization",
  "*.headers.cookie",
  '*.headers["set-cookie"]',
  "err.config.headers",
  "err.headers",
  "err.response.headers",
  "err.body",
  "err.response.body",
  "soapSession",
  "*.soapSession",
  "data",
  "stringData",
];

const SECRETISH = /(password|passwd|token|secret|cookie|authorization)/i;

/**
 * Serializes errors for logs: message, type, stack, a `code`/`statusCode`/`reason` if present and
 * the cause chain. Bodies, headers and request configs (which can hold credentials) are dropped,
 * as are any other fields whose names look like secrets.
 */
export function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const base = stdSerializers.err(err) as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { type: base.type, message: base.message, stack: base.stack };
  const e = err as unknown as Record<string, unknown>;
  for (const key of ["code", "statusCode", "reason", "class", "retryAfterMs", "fault"]) {
    const v = e[key];
    if (v !== undefined && (typeof v !== "string" || !SECRETISH.test(key))) out[key] = v;
  }
  if (err.cause !== undefined) out.cause = serializeError(err.cause);
  return out;
}

export interface LoggerOptions {
  readonly level: LevelWithSilent;
  readonly component?: string;
  /** Where lines go; stdout by default. Tests pass a stream to inspect output. */
  readonly destination?: DestinationStream;
}

/** Builds the one root logger; only the composition root calls this. */
export function createLogger(o: LoggerOptions): Logger {
  return pino(
    {
      level: o.level,
      base: { component: o.component ?? "vmdr" },
      timestamp: stdTimeFunctions.isoTime,
      redact: { paths: [...REDACT_PATHS], censor: "[REDACTED]" },
      serializers: { err: serializeError, error: serializeError },
      formatters: { level: (label) => ({ level: label }) },
    },
    o.destination,
  );
}
