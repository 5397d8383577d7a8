/**
 * The error taxonomy every reconciler speaks (STYLE.md §2.7). The class decides what the runtime
 * does with a failed pass:
 *  - Transient: rate-limited requeue with per-key exponential backoff.
 *  - Permanent: no retry until something changes (a spec edit or a watched dependency); the
 *    reconciler has already reported it in a condition.
 *  - Conflict: our view was stale (HTTP 409); requeue quietly.
 *  - Wait: a prerequisite is not there yet; not a failure, requeue after retryAfterMs.
 */
export type ErrorClass = "Transient" | "Permanent" | "Conflict" | "Wait";

export abstract class OperatorError extends Error {
  abstract readonly class: ErrorClass;
  /** PascalCase, machine-readable cause, used as a condition reason. */
  readonly reason: string;
  constructor(message: string, reason: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
    this.name = new.target.name;
  }
}

export class TransientError extends OperatorError {
  readonly class = "Transient" as const;
}

export class PermanentError extends OperatorError {
  readonly class = "Permanent" as const;
}

export class ConflictError extends OperatorError {
  readonly class = "Conflict" as const;
}

export class WaitError extends OperatorError {
  readonly class = "Wait" as const;
  readonly retryAfterMs: number;
  constructor(message: string, reason: string, retryAfterMs: number, options?: { cause?: unknown }) {
    super(message, reason, options);
    this.retryAfterMs = retryAfterMs;
  }
}

/** The class of any thrown value; anything we did not classify is treated as transient. */
export function classOf(err: unknown): ErrorClass {
  return err instanceof OperatorError ? err.class : "Transient";
}

/** A message fragment for a thrown value, for conditions and logs. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The same class and reason with a new message (e.g. to prefix which endpoint failed). */
export function withMessage(err: OperatorError, message: string): OperatorError {
  switch (err.class) {
    case "Permanent":
      return new PermanentError(message, err.reason, { cause: err });
    case "Conflict":
      return new ConflictError(message, err.reason, { cause: err });
    case "Wait":
      return new WaitError(message, err.reason, (err as WaitError).retryAfterMs, { cause: err });
    default:
      return new TransientError(message, err.reason, { cause: err });
  }
}

/**
 * Any thrown value as an OperatorError. The clients classify at their boundary (ONTAP, vSphere,
 * Kubernetes), so what arrives here unclassified is unexpected and treated as transient.
 */
export function asOperatorError(err: unknown): OperatorError {
  return err instanceof OperatorError ? err : new TransientError(messageOf(err), "Error", { cause: err });
}
