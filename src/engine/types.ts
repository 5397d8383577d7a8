/**
 * The step engine's vocabulary (docs/adr/0007-step-engine.md). A run — a FailoverRun, or a
 * ProtectionGroup's pre-registration batch — is an ordered list of steps. Each step is data: a
 * name, a read-only `observe` that looks at the world (and at the handles of operations it
 * started), and an `act` that starts at most one external operation, or, for a batch step, one
 * operation per item over a bounded window. The engine knows nothing about vCenter or ONTAP: it
 * persists progress, polls handles through a Poller, and decides what happens next.
 */

import type { Handle, ItemOp, StepRecord } from "../api/v1alpha1/steps.js";

export type { Handle, ItemOp, StepRecord, StepState } from "../api/v1alpha1/steps.js";

/** What a poll says about a handle. `unknown`: the system no longer knows it (observe the object). */
export interface PolledOp {
  readonly handle: Handle;
  readonly state: "running" | "success" | "failure" | "unknown";
  /** For failure: the operation's error, classified (its message is what status shows). */
  readonly error?: Error;
  /** For success: the operation's result, in the client's own form (a task's result node). */
  readonly result?: unknown;
}

/** Polls many handles in as few round trips as the systems allow (one getTasks per vCenter, one jobs read per cluster). */
export interface Poller {
  poll(handles: readonly Handle[], signal: AbortSignal): Promise<Map<string, PolledOp>>;
}

export const handleKey = (h: Pick<Handle, "system" | "endpoint" | "id">): string => `${h.system}/${h.endpoint}/${h.id}`;

/** An item of a batch step: any record with a place for the engine's bookkeeping. */
export interface BatchItem {
  op?: ItemOp;
}

/** What observe concludes. */
export type Observation =
  /** The step's postcondition holds. */
  | { readonly kind: "Done"; readonly message?: string }
  /** Something is under way; look again after pollAfterMs. */
  | { readonly kind: "InProgress"; readonly pollAfterMs: number; readonly message?: string }
  /** Nothing done yet (or a previous attempt failed): act. */
  | { readonly kind: "NeedsAct"; readonly message?: string }
  /** A human must act: the run stops here with this reason and message. */
  | { readonly kind: "Blocked"; readonly reason: string; readonly message: string }
  /** The step cannot succeed: it fails (and with it the run) with this message. */
  | { readonly kind: "Failed"; readonly reason: string; readonly message: string }
  /** Cannot tell whether an earlier act happened: blocks when an intent was recorded, acts otherwise. */
  | { readonly kind: "Unknown"; readonly why: string };

/** What observe concludes about one item of a batch step. */
export type ItemObservation =
  | { readonly kind: "Done"; readonly message?: string }
  | { readonly kind: "InProgress"; readonly pollAfterMs: number; readonly message?: string }
  | { readonly kind: "NeedsAct" }
  /** Not eligible yet (e.g. an earlier power-on wave is not ready); looked at again next pass. */
  | { readonly kind: "Waiting"; readonly message?: string; readonly pollAfterMs?: number }
  | { readonly kind: "Failed"; readonly message: string }
  | { readonly kind: "Skipped"; readonly message: string }
  | { readonly kind: "Unknown"; readonly why: string };

/** What act did. */
export type ActResult =
  /** It started operations; their handles are persisted and polled. */
  | { readonly kind: "Started"; readonly handles: readonly Handle[] }
  /** It finished synchronously (observe confirms on the next pass). Existing handles are kept. */
  | { readonly kind: "Completed" };

export const started = (...handles: Handle[]): ActResult => ({ kind: "Started", handles });
export const completed: ActResult = { kind: "Completed" };

interface StepBase<C> {
  readonly name: string;
  /**
   * Whether repeating act after a crash is harmless: the identity of what it makes is deterministic,
   * or the system refuses a repeat, or it sets a state. Non-idempotent steps get an intent
   * checkpoint before act, and block when observe cannot tell whether that act happened.
   */
  readonly idempotent: boolean;
  /** Failed operations (or failed items' operations) allowed before giving up; default 3. */
  readonly maxAttempts?: number;
  /** Whether the step applies to this run at all; a message when it is skipped. */
  skip?(ctx: C): string | undefined;
}

export interface SingleStep<C> extends StepBase<C> {
  readonly kind: "single";
  /** Read-only; safe at any time, including right after a crash mid-act. `ops` are the polled operations of this step. */
  observe(ctx: C, rec: StepRecord, ops: readonly PolledOp[]): Promise<Observation>;
  /** Starts at most one external operation (or a bounded set, one per object, each with its handle). */
  act(ctx: C, rec: StepRecord): Promise<ActResult>;
}

export interface BatchStep<C, I extends BatchItem> extends StepBase<C> {
  readonly kind: "batch";
  /** The items this step works on (records owned by the run; the engine keeps `op` on them). */
  items(ctx: C): readonly I[];
  /** How messages name an item ("HR Database", "svm2:RG1FV1_SM"). */
  label(item: I): string;
  /** Operations in flight at once across the items. */
  concurrency(ctx: C): number;
  /**
   * Optional read-only preparation for a look at the items (e.g. one property read for the live
   * items); `room` is how many new operations the look may start.
   */
  prepare?(ctx: C, live: readonly I[], signal: AbortSignal, room: number): Promise<void>;
  /**
   * The items are independent and the act idempotent: a pass may refill a slot as soon as its
   * operation is over, instead of starting one window and waiting for all of it.
   */
  readonly stream?: boolean;
  observeItem(ctx: C, item: I, op: PolledOp | undefined): ItemObservation | Promise<ItemObservation>;
  actItem(ctx: C, item: I): Promise<ActResult>;
  /** How long one item may take in this step, from its first act; undefined: no limit. */
  itemTimeoutMs?(ctx: C, item: I): number | undefined;
  /** Records an item's failure (or skip) on its own record (it then leaves later steps' items). */
  failItem(ctx: C, item: I, message: string, outcome: "Failed" | "Skipped"): void;
  /** Whether the step (and the run) fails when an item failed; false lets the others go on. */
  readonly failWhenItemsFail: boolean;
}

export type Step<C> = SingleStep<C> | BatchStep<C, BatchItem>;

/** The run the engine advances: its step records and how to persist them. */
export interface RunHost {
  readonly steps: StepRecord[];
  /**
   * Persists the run's state (step records and item records) with a write conditional on what was
   * read (resourceVersion); throws ConflictError when someone else wrote first.
   */
  checkpoint(signal: AbortSignal): Promise<void>;
}

export type StepEvent = "Started" | "Succeeded" | "Failed" | "Blocked" | "Retrying" | "Skipped";

/** The outcome of one pass. */
export type PassOutcome =
  | { readonly kind: "Continue"; readonly requeueAfterMs: number }
  | { readonly kind: "Finished" }
  | { readonly kind: "Blocked"; readonly step: string; readonly reason: string; readonly message: string }
  | { readonly kind: "Failed"; readonly step: string; readonly reason: string; readonly message: string };
