import { ConflictError, OperatorError, PermanentError, TransientError } from "../runtime/errors.js";
import { DnsTransportError } from "./transport.js";
import { Rcode, rcodeName, WireError } from "./wire.js";

/** Condition reasons this module produces (PascalCase, like the other clients'). */
export const DnsReason = {
  Unreachable: "DnsUnreachable",
  Timeout: "DnsTimeout",
  Aborted: "Aborted",
  ServerFailure: "DnsServerFailure",
  KeyRejected: "DnsKeyRejected",
  ClockSkew: "DnsClockSkew",
  UpdateRefused: "DnsUpdateRefused",
  NotAuthoritative: "DnsNotAuthoritative",
  UpdateNotSupported: "DnsUpdateNotSupported",
  RequestRejected: "DnsRequestRejected",
  RecordsChanged: "DnsRecordsChanged",
  ResponseNotAuthentic: "DnsResponseNotAuthentic",
  UnexpectedResponse: "DnsUnexpectedResponse",
  InvalidConfig: "InvalidDnsConfig",
} as const;

/**
 * A DNS answer that was not a success. It keeps the response code, the TSIG error when the
 * server reported one, and what was asked ("UPDATE zone site2.vmbook.lab"), never a key.
 */
export class DnsResponseError extends Error {
  readonly rcode: number;
  readonly tsigError: number;
  readonly request: string;
  /** Whether the response carried a verified signature (errors may come unsigned, RFC 8945 §5.3.2). */
  readonly signed: boolean;
  constructor(o: { rcode: number; tsigError?: number; request: string; signed: boolean }) {
    const tsig = o.tsigError ? ` (TSIG ${rcodeName(o.tsigError)})` : "";
    super(`${o.request}: ${rcodeName(o.rcode)}${tsig}${o.signed ? "" : ", unsigned response"}`);
    this.name = "DnsResponseError";
    this.rcode = o.rcode;
    this.tsigError = o.tsigError ?? 0;
    this.request = o.request;
    this.signed = o.signed;
  }
}

/** A response whose signature does not check: it may not come from the server at all. */
export class DnsAuthenticityError extends Error {
  constructor(request: string, problem: string) {
    super(`${request}: response not authentic: ${problem}`);
    this.name = "DnsAuthenticityError";
  }
}

/**
 * Maps a failure of one DNS exchange to the runtime's taxonomy (STYLE.md §2.7). `what` is the
 * lowercase fragment naming the call ("replace A record of app01.site2.vmbook.lab"), `ctx` what a
 * human needs to act (server, key and zone names). The original error stays the cause.
 *  - no answer: refused connection, reset → Transient DnsUnreachable; timeout → Transient DnsTimeout
 *  - SERVFAIL → Transient DnsServerFailure
 *  - TSIG BADKEY / BADSIG (NOTAUTH) → Permanent DnsKeyRejected; BADTIME → Permanent DnsClockSkew
 *  - REFUSED → Permanent DnsUpdateRefused (for a query: DnsNotAuthoritative); NOTAUTH / NOTZONE without a TSIG error → Permanent DnsNotAuthoritative
 *  - NOTIMP → Permanent DnsUpdateNotSupported; FORMERR and the rest → Permanent DnsRequestRejected
 *  - YXDOMAIN / YXRRSET / NXRRSET (a prerequisite failed: the records changed since we read them)
 *    → Conflict DnsRecordsChanged, so the next pass reads them again
 *  - a response whose MAC does not check → Permanent DnsResponseNotAuthentic; one we cannot parse → Permanent DnsUnexpectedResponse
 */
export function classify(err: unknown, what: string, ctx: { server: string; key: string; zone?: string; kind?: "query" | "update" }): OperatorError {
  if (err instanceof OperatorError) return err;
  const o = { cause: err };
  const msg = (detail: string): string => `${what}: ${detail}`;
  if (err instanceof DnsTransportError) {
    if (err.failure === "timeout") return new TransientError(msg(err.message), DnsReason.Timeout, o);
    if (err.failure === "aborted") return new TransientError(msg(err.message), DnsReason.Aborted, o);
    return new TransientError(msg(err.message), DnsReason.Unreachable, o);
  }
  if (err instanceof DnsAuthenticityError) {
    return new PermanentError(msg(`${err.message}; check that ${ctx.server} uses the same secret for key ${ctx.key}`), DnsReason.ResponseNotAuthentic, o);
  }
  if (err instanceof WireError) return new PermanentError(msg(`${ctx.server}: ${err.message}`), DnsReason.UnexpectedResponse, o);
  if (err instanceof DnsResponseError) {
    const zone = ctx.zone ?? "the zone";
    switch (err.tsigError) {
      case Rcode.BADKEY:
        return new PermanentError(msg(`${err.message}: ${ctx.server} does not know TSIG key ${ctx.key} (check the key name and algorithm in the DNS settings and the server's key statement)`), DnsReason.KeyRejected, o);
      case Rcode.BADSIG:
        return new PermanentError(msg(`${err.message}: ${ctx.server} rejected the signature of key ${ctx.key} (the secret differs from the server's)`), DnsReason.KeyRejected, o);
      case Rcode.BADTIME:
        return new PermanentError(msg(`${err.message}: the clocks of this operator and ${ctx.server} differ by more than the allowed skew; synchronise them (NTP)`), DnsReason.ClockSkew, o);
    }
    switch (err.rcode) {
      case Rcode.SERVFAIL:
        return new TransientError(msg(err.message), DnsReason.ServerFailure, o);
      case Rcode.REFUSED:
        if (ctx.kind === "query") {
          return new PermanentError(msg(`${err.message}: ${ctx.server} does not answer for ${zone} (not one of its zones, or its allow-query excludes us)`), DnsReason.NotAuthoritative, o);
        }
        return new PermanentError(msg(`${err.message}: ${ctx.server} does not allow key ${ctx.key} to change ${zone} (allow it in the zone's update-policy or allow-update)`), DnsReason.UpdateRefused, o);
      case Rcode.NOTAUTH:
      case Rcode.NOTZONE:
        return new PermanentError(msg(`${err.message}: ${ctx.server} is not the primary server of ${zone} (check the server and zone names in the DNS settings)`), DnsReason.NotAuthoritative, o);
      case Rcode.NOTIMP:
        return new PermanentError(msg(`${err.message}: ${ctx.server} does not implement dynamic updates (RFC 2136)`), DnsReason.UpdateNotSupported, o);
      case Rcode.YXDOMAIN:
      case Rcode.YXRRSET:
      case Rcode.NXRRSET:
        return new ConflictError(msg(`${err.message}: the records changed since they were read`), DnsReason.RecordsChanged, o);
      default:
        return new PermanentError(msg(err.message), DnsReason.RequestRejected, o);
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return new TransientError(msg(message), DnsReason.Unreachable, o);
}
