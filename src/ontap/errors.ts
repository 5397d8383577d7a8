import { TransportError } from "../net/http.js";
import { ConflictError, OperatorError, PermanentError, TransientError, WaitError } from "../runtime/errors.js";

/*
 * ONTAP error codes we act on, as docs/ontap-api.md names them (§4–§13). They are decimal
 * strings in error bodies ({"error":{"code":"4"}}) and integers in job objects; OntapApiError
 * carries them as numbers either way.
 */

// Generic codes (§5).
export const DUPLICATE_ENTRY = 1;
export const INVALID_FIELD = 2;
export const OPERATION_NOT_SUPPORTED = 3;
export const ENTRY_NOT_FOUND = 4;
export const PERMISSION_DENIED = 6;
export const RESOURCE_IN_USE = 8;
export const MISSING_VALUE = 262177;
export const UNEXPECTED_ARGUMENT = 262179;
export const INVALID_VALUE = 262185;
export const INVALID_VALUE_RANGE = 262197;
export const RPC_TIMEOUT = 65541;
export const RPC_FAILURE = 65552;
export const INTERNAL_ERROR = 65562;

// Jobs (§4).
export const JOB_ALREADY_TERMINAL = 458762;

// SnapMirror relationships (§6.5).
export const SNAPMIRROR_BREAK_FAILED = 13303808; // "Transition to broken_off state failed" (Trident: transfer in progress)
export const SNAPMIRROR_PAUSE_FAILED = 13303809;
export const SNAPMIRROR_TRANSITION_TO_MIRRORED_FAILED = 13303810;
export const SNAPMIRROR_RESUME_FAILED = 13303811;
export const SNAPMIRROR_TRANSFER_IN_PROGRESS = 13303812; // initialize failed / another transfer in progress
export const SNAPMIRROR_RELEASE_DELETE_FAILED = 13303813;
export const SNAPMIRROR_UNKNOWN_STATE = 13303817;
export const SNAPMIRROR_INVALID_STATE_TRANSITION = 13303818;
export const SNAPMIRROR_POLICY_UPDATED_STATE_FAILED = 13303820;
export const SNAPMIRROR_INVALID_POLICY = 13303821;
export const SNAPMIRROR_MODIFICATION_IN_PROGRESS = 13303822; // release failed (Trident's name)
export const SNAPMIRROR_QUIESCE_TIMEOUT = 13303823;
export const SNAPMIRROR_QUIESCE_FAILED = 13303824;
export const SNAPMIRROR_INVALID_STATE = 13303829;
export const SNAPMIRROR_TRANSIENT_STATE = 13303830;
export const SNAPMIRROR_INVALID_STATE_FOR_ASYNC = 13303831;
export const SNAPMIRROR_ALREADY_INITIALIZED = 13303832;
export const SNAPMIRROR_STATE_CHANGE_NOT_POSSIBLE = 13303833;
export const SNAPMIRROR_UPDATE_FAILED = 13303844;
export const SNAPMIRROR_TRANSFER_STATE_INVALID = 13303849;
export const SNAPMIRROR_PATH_WITHOUT_COLON = 13303852;
export const SNAPMIRROR_STATE_ON_CREATE = 13303873;
export const SNAPMIRROR_DESTINATION_NOT_DP = 6619546;
export const SNAPMIRROR_DESTINATION_EXISTS = 6619637; // later versions
export const SNAPMIRROR_MODIFICATION_RETRY = 6619715; // later versions: "in progress, retry"
export const SNAPMIRROR_PROPAGATION_RETRY = 6619720; // later versions: "being propagated, retry"
export const SNAPMIRROR_REVERSE_SOURCE_OLDER = 13304062;
export const SNAPMIRROR_REVERSE_NEEDS_DP_REST = 13304070;
export const SNAPMIRROR_REVERSE_POLICY_UNSUPPORTED = 13304086;
export const SNAPMIRROR_PATH_MISMATCH = 13304120;

// Volumes, FlexClone, snapshots (§8, §9).
export const VOLUME_BUSY = 524486;
export const VOLUME_HAS_CLONES = 524615;
export const DP_VOLUME_NOT_INITIALIZED = 917536;
export const CLONE_PARENT_MISSING = 918246;
export const CLONE_PARENT_NOT_FOUND = 524601;
export const CLONE_SNAPSHOT_MISMATCH = 918243;
export const SNAPSHOT_ONLY_ON_RW = 1638461;
export const SNAPSHOT_DELETE_ONLY_ON_RW = 1638521;
export const SNAPSHOT_HAS_OWNER = 1638543;
export const SNAPSHOT_LOCKED = 1638555;
export const SNAPSHOT_NOT_FOUND = 1638600;
export const SNAPSHOT_DUPLICATE = 525059;

// SAN (§10–§12).
export const LUN_MAPPED = 1254197;
export const LUN_ALREADY_MAPPED = 1254207;
export const IGROUP_MAPPED = 1254213;
export const LUN_NOT_FOUND = 5374875;
export const LUN_MAP_IGROUP_NOT_FOUND = 5374878; // later versions
export const LUN_MAP_NOT_FOUND = 5374922; // later versions (Trident LUN_MAP_EXIST_ERROR)
export const IGROUP_EXISTS = 5374023;
export const IGROUP_NOT_FOUND = 5374852;

// NFS export policies (§13).
export const EXPORT_POLICY_IN_USE = 1703945;
export const EXPORT_POLICY_IS_DEFAULT = 1703947;
export const EXPORT_POLICY_NOT_FOUND = 1703954;
export const EXPORT_RULE_EXISTS = 1704070;

/** Condition reasons this module produces (PascalCase, STYLE.md §2.2). */
export const OntapReason = {
  Unreachable: "OntapUnreachable",
  Unavailable: "OntapUnavailable",
  Aborted: "Aborted",
  InvalidCredentials: "InvalidCredentials",
  TLSVerificationFailed: "TLSVerificationFailed",
  Forbidden: "Forbidden",
  TransferInProgress: "TransferInProgress",
  Busy: "Busy",
  NotFound: "NotFound",
  AlreadyExists: "AlreadyExists",
  InUse: "InUse",
  InvalidStateTransition: "InvalidStateTransition",
  TransitionFailed: "TransitionFailed",
  RequestRejected: "OntapRequestRejected",
  JobFailed: "JobFailed",
  UnexpectedResponse: "UnexpectedResponse",
  Unsupported: "Unsupported",
  InvalidSpec: "InvalidSpec",
} as const;

/** How long a Wait for a running transfer or a busy object asks the caller to stay away. */
export const TRANSFER_RETRY_MS = 15_000;

/** Operations another activity is holding up: retry later, not a failure (Trident's NotReadyError). */
const WAIT_CODES: ReadonlySet<number> = new Set([
  SNAPMIRROR_BREAK_FAILED,
  SNAPMIRROR_TRANSFER_IN_PROGRESS,
  SNAPMIRROR_MODIFICATION_IN_PROGRESS,
  SNAPMIRROR_QUIESCE_TIMEOUT,
  SNAPMIRROR_TRANSIENT_STATE,
  SNAPMIRROR_MODIFICATION_RETRY,
  SNAPMIRROR_PROPAGATION_RETRY,
]);
const BUSY_CODES: ReadonlySet<number> = new Set([VOLUME_BUSY]);
/** The request asked for a transition the relationship's state does not allow. */
const INVALID_TRANSITION_CODES: ReadonlySet<number> = new Set([
  SNAPMIRROR_UNKNOWN_STATE,
  SNAPMIRROR_INVALID_STATE_TRANSITION,
  SNAPMIRROR_INVALID_STATE,
  SNAPMIRROR_INVALID_STATE_FOR_ASYNC,
  SNAPMIRROR_STATE_CHANGE_NOT_POSSIBLE,
]);
/**
 * "Transition to X failed" wrappers: the cause is in the message (peer unreachable, no common
 * snapshot, ...) and cannot be told from the code, so they are retried within the caller's budget.
 */
const TRANSITION_FAILED_CODES: ReadonlySet<number> = new Set([
  SNAPMIRROR_PAUSE_FAILED,
  SNAPMIRROR_TRANSITION_TO_MIRRORED_FAILED,
  SNAPMIRROR_RESUME_FAILED,
  SNAPMIRROR_QUIESCE_FAILED,
  SNAPMIRROR_POLICY_UPDATED_STATE_FAILED,
]);
const DUPLICATE_CODES: ReadonlySet<number> = new Set([
  DUPLICATE_ENTRY,
  SNAPMIRROR_DESTINATION_EXISTS,
  IGROUP_EXISTS,
  SNAPSHOT_DUPLICATE,
  EXPORT_RULE_EXISTS,
]);
const IN_USE_CODES: ReadonlySet<number> = new Set([RESOURCE_IN_USE, VOLUME_HAS_CLONES, LUN_MAPPED, IGROUP_MAPPED, EXPORT_POLICY_IN_USE]);
const NOT_FOUND_CODES: ReadonlySet<number> = new Set([ENTRY_NOT_FOUND]);
const SERVER_CODES: ReadonlySet<number> = new Set([RPC_TIMEOUT, RPC_FAILURE, INTERNAL_ERROR]);

/**
 * An answer from ONTAP that was not a success: an HTTP error (statusCode = the HTTP status) or a
 * failed job (statusCode 0). It keeps the ONTAP code, message and target of the error body, and
 * the request line ("PATCH /api/snapmirror/relationships/<uuid>"), never a body or a header.
 */
export class OntapApiError extends Error {
  readonly statusCode: number;
  readonly code: number | undefined;
  readonly ontapMessage: string;
  readonly target: string | undefined;
  readonly request: string;
  constructor(o: { statusCode: number; code?: number; message: string; target?: string; request: string }) {
    const what = o.statusCode === 0 ? "job failed" : `HTTP ${o.statusCode}`;
    const code = o.code !== undefined ? `, ONTAP error ${o.code}` : "";
    const target = o.target ? ` (target ${o.target})` : "";
    super(`${o.request}: ${what}${code}: ${o.message}${target}`);
    this.name = "OntapApiError";
    this.statusCode = o.statusCode;
    this.code = o.code;
    this.ontapMessage = o.message;
    this.target = o.target;
    this.request = o.request;
  }
}

/** The ONTAP error code anywhere in err's cause chain, or undefined. */
export function ontapCodeOf(err: unknown): number | undefined {
  return findApiError(err)?.code;
}

/** The HTTP status of the ONTAP answer anywhere in err's cause chain (0 for a job), or undefined. */
export function httpStatusOf(err: unknown): number | undefined {
  return findApiError(err)?.statusCode;
}

/** Whether err (or its cause chain) is ONTAP saying the object does not exist (404 / code 4). */
export function isNotFound(err: unknown): boolean {
  const e = findApiError(err);
  return e !== undefined && (e.statusCode === 404 || (e.code !== undefined && NOT_FOUND_CODES.has(e.code)));
}

/** Whether err (or its cause chain) carries one of the given ONTAP codes. */
export function hasCode(err: unknown, ...codes: number[]): boolean {
  const c = ontapCodeOf(err);
  return c !== undefined && codes.includes(c);
}

function findApiError(err: unknown): OntapApiError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof OntapApiError) return e;
  }
  return undefined;
}

/**
 * Maps a failure of one ONTAP call to the runtime's taxonomy (STYLE.md §2.7); `what` is the
 * lowercase fragment naming the call ("quiesce relationship"). The original error stays the cause.
 *  - no answer (network, timeout, reset), HTTP 5xx/429, RPC codes → Transient (OntapUnreachable / OntapUnavailable)
 *  - TLS verification → Permanent TLSVerificationFailed; 401 → Permanent InvalidCredentials; 403 → Permanent Forbidden
 *  - transfer / modification in progress (13303808, 13303812, 13303822, ...) → Wait TransferInProgress
 *  - volume busy → Wait Busy; "transition to X failed" wrappers → Transient TransitionFailed
 *  - 404 / code 4 → Transient NotFound (the next pass re-observes; getters and deletes never get here)
 *  - duplicate entry → Conflict AlreadyExists (creates observe and decide before it gets here)
 *  - resource in use → Permanent InUse; illegal state transition → Permanent InvalidStateTransition
 *  - a failed job with any other code → Permanent JobFailed; any other 4xx → Permanent OntapRequestRejected
 * An OperatorError passes through unchanged.
 */
export function classify(err: unknown, what: string): OperatorError {
  if (err instanceof OperatorError) return err;
  const o = { cause: err };
  if (err instanceof TransportError) {
    const msg = `${what}: ${err.message}`;
    if (err.failure === "tls") return new PermanentError(msg, OntapReason.TLSVerificationFailed, o);
    if (err.failure === "aborted") return new TransientError(msg, OntapReason.Aborted, o);
    return new TransientError(msg, OntapReason.Unreachable, o);
  }
  if (err instanceof OntapApiError) {
    const msg = `${what}: ${err.message}`;
    const code = err.code ?? -1;
    const status = err.statusCode;
    if (status === 401) return new PermanentError(`${what}: ${err.request}: HTTP 401: authentication failed (check the username and password)`, OntapReason.InvalidCredentials, o);
    if (WAIT_CODES.has(code)) return new WaitError(msg, OntapReason.TransferInProgress, TRANSFER_RETRY_MS, o);
    if (BUSY_CODES.has(code)) return new WaitError(msg, OntapReason.Busy, TRANSFER_RETRY_MS, o);
    if (status === 429 || status >= 500 || SERVER_CODES.has(code)) return new TransientError(msg, OntapReason.Unavailable, o);
    if (status === 403 || code === PERMISSION_DENIED) return new PermanentError(msg, OntapReason.Forbidden, o);
    if (status === 404 || NOT_FOUND_CODES.has(code)) return new TransientError(msg, OntapReason.NotFound, o);
    if (DUPLICATE_CODES.has(code)) return new ConflictError(msg, OntapReason.AlreadyExists, o);
    if (IN_USE_CODES.has(code)) return new PermanentError(msg, OntapReason.InUse, o);
    if (INVALID_TRANSITION_CODES.has(code)) return new PermanentError(msg, OntapReason.InvalidStateTransition, o);
    if (TRANSITION_FAILED_CODES.has(code)) return new TransientError(msg, OntapReason.TransitionFailed, o);
    if (status === 409) return new ConflictError(msg, OntapReason.AlreadyExists, o);
    if (status === 0) return new PermanentError(msg, OntapReason.JobFailed, o);
    return new PermanentError(msg, OntapReason.RequestRejected, o);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new TransientError(`${what}: ${message}`, OntapReason.Unavailable, o);
}

/** A PermanentError for an answer whose shape we do not understand (schema, JSON, links). */
export function unexpectedResponse(what: string, request: string, problem: string): PermanentError {
  return new PermanentError(`${what}: unexpected ONTAP response to ${request}: ${problem}`, OntapReason.UnexpectedResponse);
}
