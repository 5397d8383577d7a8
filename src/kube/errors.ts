import { ConflictError, PermanentError, TransientError } from "../runtime/errors.js";
import type { OperatorError } from "../runtime/errors.js";

/** The fields of a metav1.Status we use. */
export interface KubeStatus {
  readonly kind?: string;
  readonly status?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
  readonly details?: {
    readonly name?: string;
    readonly kind?: string;
    readonly causes?: readonly { readonly field?: string; readonly message?: string; readonly reason?: string }[];
  };
}

/**
 * An API server answer that was not 2xx, or no answer at all (statusCode 0: network error or
 * timeout). The message is the server's own (it names the field for validation errors); the raw
 * body is not kept, so nothing the server echoed back can reach a log.
 */
export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly reason: string;
  readonly status: KubeStatus | undefined;
  constructor(statusCode: number, message: string, status?: KubeStatus, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KubeApiError";
    this.statusCode = statusCode;
    this.status = status;
    this.reason = status?.reason ?? (statusCode === 0 ? "Unreachable" : `HTTP${statusCode}`);
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 409;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof KubeApiError && err.statusCode === 409 && err.reason === "AlreadyExists";
export const isGone = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 410;

/**
 * Maps an API error to the runtime's taxonomy (STYLE.md §2.7): 409 → Conflict (quiet requeue),
 * 422/400/403 → Permanent, anything else (network, 5xx, 429, timeouts) → Transient.
 */
export function classifyKubeError(err: unknown, what: string): OperatorError {
  if (err instanceof KubeApiError) {
    const msg = `${what}: ${err.message}`;
    if (err.statusCode === 409) return new ConflictError(msg, "Conflict", { cause: err });
    if (err.statusCode === 422 || err.statusCode === 400) return new PermanentError(msg, "InvalidSpec", { cause: err });
    if (err.statusCode === 403 || err.statusCode === 401) return new PermanentError(msg, "Forbidden", { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new TransientError(`${what}: ${message}`, "KubeApiUnavailable", { cause: err });
}
