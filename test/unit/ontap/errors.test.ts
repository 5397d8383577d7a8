import { describe, expect, it } from "vitest";
import { TransportError } from "../../../src/net/http.js";
import type { TransportFailure } from "../../../src/net/http.js";
import { ConflictError, OperatorError, PermanentError, TransientError, WaitError } from "../../../src/runtime/errors.js";
import * as E from "../../../src/ontap/errors.js";
import { classify, OntapApiError, ontapCodeOf } from "../../../src/ontap/errors.js";
import { toJobStatus } from "../../../src/ontap/jobs.js";

const api = (statusCode: number, code?: number, message = "msg"): OntapApiError =>
  new OntapApiError({ statusCode, code, message, request: "PATCH /api/snapmirror/relationships/r1" });

describe("ONTAP error classification", () => {
  const table: [string, unknown, string, string][] = [
    ["transfer in progress (13303812)", api(400, E.SNAPMIRROR_TRANSFER_IN_PROGRESS), "Wait", "TransferInProgress"],
    ["break failed while transferring (13303808)", api(400, E.SNAPMIRROR_BREAK_FAILED), "Wait", "TransferInProgress"],
    ["release failed / modification in progress (13303822)", api(400, E.SNAPMIRROR_MODIFICATION_IN_PROGRESS), "Wait", "TransferInProgress"],
    ["transient relationship state (13303830)", api(400, E.SNAPMIRROR_TRANSIENT_STATE), "Wait", "TransferInProgress"],
    ["later versions' retry codes (6619715)", api(409, E.SNAPMIRROR_MODIFICATION_RETRY), "Wait", "TransferInProgress"],
    ["volume busy (524486)", api(409, E.VOLUME_BUSY), "Wait", "Busy"],
    ["invalid state transition (13303818)", api(400, E.SNAPMIRROR_INVALID_STATE_TRANSITION), "Permanent", "InvalidStateTransition"],
    ["invalid state for async (13303831)", api(400, E.SNAPMIRROR_INVALID_STATE_FOR_ASYNC), "Permanent", "InvalidStateTransition"],
    ["transition to snapmirrored failed (13303810)", api(400, E.SNAPMIRROR_TRANSITION_TO_MIRRORED_FAILED), "Transient", "TransitionFailed"],
    ["401 without an ONTAP body", api(401), "Permanent", "InvalidCredentials"],
    ["403 not authorized (code 6)", api(403, E.PERMISSION_DENIED), "Permanent", "Forbidden"],
    ["404 entry doesn't exist (code 4)", api(404, E.ENTRY_NOT_FOUND), "Transient", "NotFound"],
    ["duplicate entry (code 1)", api(409, E.DUPLICATE_ENTRY), "Conflict", "AlreadyExists"],
    ["destination already in a relationship (6619637)", api(409, E.SNAPMIRROR_DESTINATION_EXISTS), "Conflict", "AlreadyExists"],
    ["volume has clones (524615)", api(409, E.VOLUME_HAS_CLONES), "Permanent", "InUse"],
    ["unexpected argument (262179)", api(400, E.UNEXPECTED_ARGUMENT), "Permanent", "OntapRequestRejected"],
    ["429 too many requests", api(429), "Transient", "OntapUnavailable"],
    ["503 without a body", api(503), "Transient", "OntapUnavailable"],
    ["RPC timeout in a 400 (65541)", api(400, E.RPC_TIMEOUT), "Transient", "OntapUnavailable"],
    ["a failed job with an unlisted code", api(0, E.SNAPSHOT_LOCKED), "Permanent", "JobFailed"],
    ["a failed job: entry doesn't exist", api(0, E.ENTRY_NOT_FOUND), "Transient", "NotFound"],
  ];
  it.each(table)("classifies %s", (_name, err, cls, reason) => {
    const c = classify(err, "quiesce relationship");
    expect(c.class).toBe(cls);
    expect(c.reason).toBe(reason);
    expect(c.cause).toBe(err);
    expect(c.message.startsWith("quiesce relationship: ")).toBe(true);
  });

  const transport: [TransportFailure, string, string][] = [
    ["tls", "Permanent", "TLSVerificationFailed"],
    ["timeout", "Transient", "OntapUnreachable"],
    ["unreachable", "Transient", "OntapUnreachable"],
    ["reset", "Transient", "OntapUnreachable"],
    ["protocol", "Transient", "OntapUnreachable"],
    ["aborted", "Transient", "Aborted"],
  ];
  it.each(transport)("classifies a transport failure %s", (failure, cls, reason) => {
    const c = classify(new TransportError(failure, "https://ontap: boom"), "get cluster");
    expect([c.class, c.reason]).toEqual([cls, reason]);
  });

  it("gives a wait for a transfer in progress a retry interval", () => {
    const c = classify(api(400, E.SNAPMIRROR_TRANSFER_IN_PROGRESS), "update relationship");
    expect(c).toBeInstanceOf(WaitError);
    expect((c as WaitError).retryAfterMs).toBe(E.TRANSFER_RETRY_MS);
  });

  it("leaves an already classified error alone", () => {
    const e = new PermanentError("x", "InvalidSpec");
    expect(classify(e, "y")).toBe(e);
  });

  it("finds the ONTAP code through wrapping causes", () => {
    const inner = api(400, E.SNAPMIRROR_INVALID_STATE_TRANSITION);
    const outer = new TransientError("outer", "X", { cause: classify(inner, "break relationship") });
    expect(ontapCodeOf(outer)).toBe(E.SNAPMIRROR_INVALID_STATE_TRANSITION);
    expect(E.hasCode(outer, 1, E.SNAPMIRROR_INVALID_STATE_TRANSITION)).toBe(true);
    expect(E.isNotFound(outer)).toBe(false);
  });

  it("treats anything unknown as transient, keeping the cause", () => {
    const c = classify(new Error("weird"), "get volume");
    expect(c).toBeInstanceOf(TransientError);
    expect(c.message).toBe("get volume: weird");
  });

  it("writes the code and message into the error text, never a body", () => {
    expect(api(400, 13303818, "Invalid state transition requested.").message).toBe(
      "PATCH /api/snapmirror/relationships/r1: HTTP 400, ONTAP error 13303818: Invalid state transition requested.",
    );
  });
});

describe("ONTAP job outcome", () => {
  const base = { uuid: "j1", description: "PATCH /api/snapmirror/relationships/r1", start_time: "2026-11-25T06:00:00+00:00" };

  it("passes in-flight and successful jobs through without an error", () => {
    for (const state of ["queued", "running", "paused", "success"] as const) {
      const s = toJobStatus({ ...base, state, code: 0, message: "success" });
      expect(s.state).toBe(state);
      expect(s.error).toBeUndefined();
    }
  });

  it("maps a job that failed because a transfer was running to a Wait with the code", () => {
    const s = toJobStatus({ ...base, state: "failure", code: E.SNAPMIRROR_BREAK_FAILED, message: "Transition to broken_off state failed. Reason:Another transfer is in progress." });
    expect(s.error).toBeInstanceOf(WaitError);
    expect(s.error?.reason).toBe("TransferInProgress");
    expect(ontapCodeOf(s.error)).toBe(E.SNAPMIRROR_BREAK_FAILED);
    expect(s.error?.message).toContain("PATCH /api/snapmirror/relationships/r1: job failed, ONTAP error 13303808");
  });

  it("maps a job that failed for good to a Permanent JobFailed", () => {
    const s = toJobStatus({ ...base, state: "failure", code: E.SNAPSHOT_LOCKED, message: "Snapshot copy is locked" });
    expect(s.error).toBeInstanceOf(PermanentError);
    expect(s.error?.reason).toBe("JobFailed");
  });

  it("maps a failed job to an OperatorError even without a code", () => {
    const s = toJobStatus({ ...base, state: "failure" });
    expect(s.error).toBeInstanceOf(OperatorError);
    expect(s.error).not.toBeInstanceOf(ConflictError);
  });
});
