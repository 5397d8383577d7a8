import { PermanentError, TransientError, WaitError } from "../runtime/errors.js";
import { OperatorError } from "../runtime/errors.js";
import { TransportError } from "../net/http.js";
import type { XNode } from "./soap/xml.js";
import { child, textAt } from "./soap/xml.js";

/**
 * A SOAP fault from vCenter. `faultType` is the VIM fault type (InvalidLogin, NotAuthenticated,
 * InvalidPowerState, …) without the "Fault" suffix; `detail` keeps the fault's fields for the
 * few callers that need them (e.g. InvalidPowerState's existingState).
 */
export class VimFault extends Error {
  readonly faultType: string;
  readonly detail: XNode | undefined;
  constructor(faultType: string, message: string, detail?: XNode) {
    super(message);
    this.name = "VimFault";
    this.faultType = faultType;
    this.detail = detail;
  }

  /** A field of the fault's detail, e.g. field("existingState"). */
  field(path: string): string | undefined {
    return textAt(this.detail, path);
  }
}

/** The reply was not what a vCenter sends (not XML, no body, wrong shape). */
export class VsphereProtocolError extends Error {}

/** Reads a soapenv:Fault element into a VimFault. */
export function decodeFault(fault: XNode): VimFault {
  const faultString = child(fault, "faultstring")?.text ?? "unknown fault";
  const detailRoot = child(fault, "detail");
  const detail = detailRoot?.children[0];
  // The detail element is named "<Type>Fault" and (usually) typed "<Type>"; no detail at all is a RuntimeFault.
  let type = "RuntimeFault";
  if (detail?.xsiType) type = detail.xsiType;
  else if (detail) type = detail.name.endsWith("Fault") ? detail.name.slice(0, -"Fault".length) : detail.name;
  return new VimFault(type, `${type}: ${faultString}`, detail);
}

/** The VimFault anywhere in err's cause chain (the client wraps faults in classified OperatorErrors). */
export function faultOf(err: unknown): VimFault | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof VimFault) return e;
  }
  return undefined;
}

/** Whether err (or its cause chain) is a vCenter fault of one of the given types. */
export function isFault(err: unknown, ...types: string[]): boolean {
  const f = faultOf(err);
  return f !== undefined && types.includes(f.faultType);
}

const PERMANENT = new Set([
  "InvalidLogin", "NoPermission", "InvalidArgument", "InvalidRequest", "InvalidName", "InvalidProperty", "NotSupported",
  "MethodNotFound", "DuplicateName", "AlreadyExists", "InvalidDatastore", "InvalidDatastorePath", "FileNotFound", "NotFound",
  "InvalidState", "InvalidPowerState", "VmConfigFault", "InvalidDeviceSpec", "CustomizationFault", "NicSettingMismatch",
  "InvalidFolder", "InvalidType", "InvalidLocale", "ToolsUnavailable", "InsufficientResourcesFault", "InvalidCollectorVersion",
]);
const WAIT = new Set(["TaskInProgress", "ConcurrentAccess"]);

/** The condition reason for a fault or transport failure. */
export function reasonOf(err: unknown): string {
  if (err instanceof TransportError) return err.failure === "tls" ? "TLSVerificationFailed" : "VCenterUnreachable";
  if (err instanceof VimFault) return err.faultType === "InvalidLogin" ? "InvalidCredentials" : err.faultType;
  if (err instanceof VsphereProtocolError) return "UnexpectedVCenterResponse";
  return "VCenterError";
}

/**
 * Maps a vSphere failure to the runtime's taxonomy (STYLE.md §2.7): TLS failures, bad credentials
 * and faults that cannot succeed on retry are Permanent; TaskInProgress/ConcurrentAccess are Wait;
 * network trouble, timeouts, NotAuthenticated and stale morefs (ManagedObjectNotFound) are Transient.
 * `what` prefixes the message ("power on vm-42").
 */
export function classifyVsphereError(err: unknown, what: string): OperatorError {
  if (err instanceof OperatorError) return err;
  const reason = reasonOf(err);
  const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  if (err instanceof TransportError) {
    return err.failure === "tls" ? new PermanentError(message, reason, { cause: err }) : new TransientError(message, reason, { cause: err });
  }
  if (err instanceof VsphereProtocolError) return new PermanentError(message, reason, { cause: err });
  if (err instanceof VimFault) {
    if (WAIT.has(err.faultType)) return new WaitError(message, reason, 2_000, { cause: err });
    if (PERMANENT.has(err.faultType)) return new PermanentError(message, reason, { cause: err });
    return new TransientError(message, reason, { cause: err });
  }
  return new TransientError(message, reason, { cause: err });
}
