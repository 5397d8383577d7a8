import type { OperatorError } from "../runtime/errors.js";
import { classify, OntapApiError } from "./errors.js";

/**
 * A handle on an asynchronous ONTAP operation (a job under /api/cluster/jobs). It is plain data:
 * persist it in status and poll it with getJob on a later pass (STYLE.md §2.5), never wait here.
 */
export interface JobRef {
  readonly kind: "job";
  readonly uuid: string;
}

/** The answer of a verb that found nothing to do: the object was already in the requested state. */
export interface Done {
  readonly kind: "done";
}

export const DONE: Done = Object.freeze({ kind: "done" as const });

export const jobRef = (uuid: string): JobRef => ({ kind: "job", uuid });
export const isJobRef = (v: JobRef | Done | undefined): v is JobRef => v?.kind === "job";
export const isDone = (v: { readonly kind: string } | undefined): v is Done => v?.kind === "done";

/**
 * queued | running | paused are in flight; success | failure are terminal; unknown means ONTAP no
 * longer has the job (it keeps finished jobs for about 300 s) and the caller must observe the
 * object it was changing to learn the outcome.
 */
export type JobState = "queued" | "running" | "paused" | "success" | "failure" | "unknown";

export interface JobStatus {
  readonly uuid: string;
  readonly state: JobState;
  /** "<METHOD> /api/<path>" of the call that started the job. */
  readonly description?: string;
  readonly message?: string;
  /** 0 on success, the ONTAP error code on failure. */
  readonly code?: number;
  readonly startTime?: string;
  readonly endTime?: string;
  /** Only for `failure`: the job's code and message classified like an HTTP error (errors.ts). */
  readonly error?: OperatorError;
}

export const isTerminal = (s: JobState): boolean => s === "success" || s === "failure";

/** The job object fields we read (validated by schemas.ts before it gets here). */
export interface WireJob {
  uuid: string;
  state: "queued" | "running" | "paused" | "success" | "failure";
  description?: string;
  message?: string;
  code?: number;
  start_time?: string;
  end_time?: string;
}

/**
 * Maps a job object to a JobStatus. A failed job's code and message become an OntapApiError
 * (statusCode 0) classified by the same table as HTTP errors: a transfer in progress is a Wait,
 * "entry doesn't exist" Transient, any other code a Permanent JobFailed.
 */
export function toJobStatus(job: WireJob): JobStatus {
  const base = {
    uuid: job.uuid,
    state: job.state,
    description: job.description,
    message: job.message,
    code: job.code,
    startTime: job.start_time,
    endTime: job.end_time,
  };
  if (job.state !== "failure") return base;
  const cause = new OntapApiError({
    statusCode: 0,
    code: job.code,
    message: job.message ?? "no message",
    request: job.description ?? `job ${job.uuid}`,
  });
  return { ...base, error: classify(cause, `ontap job ${job.uuid}`) };
}

/** The status of a job ONTAP does not know (any more). */
export const unknownJob = (uuid: string): JobStatus => ({ uuid, state: "unknown" });
