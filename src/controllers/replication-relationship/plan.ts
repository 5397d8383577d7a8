import type { DesiredReplicationState } from "../../api/v1alpha1/replication-relationship.js";
import type { SnapMirrorRelationship } from "../../ontap/client.js";

/** The one thing to do next with a relationship (one mutation per pass). */
export type Action =
  | { readonly kind: "create" }
  | { readonly kind: "initialize" }
  | { readonly kind: "quiesce" }
  | { readonly kind: "resume" }
  | { readonly kind: "break" }
  | { readonly kind: "resync" }
  | { readonly kind: "setSchedule"; readonly schedule: string | undefined }
  | { readonly kind: "update" }
  /** Something is under way that must finish first. */
  | { readonly kind: "wait"; readonly reason: string; readonly message: string }
  /** The desired state cannot be reached without a human (reported, not retried). */
  | { readonly kind: "blocked"; readonly reason: string; readonly message: string }
  | { readonly kind: "none" };

export interface PlanInput {
  /** The relationship as ONTAP reports it now; undefined when it does not exist. */
  readonly rel: SnapMirrorRelationship | undefined;
  readonly desired: DesiredReplicationState;
  /** This controller broke it off (for desiredState BrokenOff), so going back means a resync. */
  readonly brokenByUs: boolean;
  /** The cluster can hold a per-relationship schedule (9.11.1+). */
  readonly scheduleSupported: boolean;
  readonly schedule: string | undefined;
  /** With no ONTAP schedule, start an update when the last one is older than this. */
  readonly updateIntervalMs: number | undefined;
  /** When the newest common snapshot was taken, or the last update was requested (epoch ms). */
  readonly lastUpdateMs: number | undefined;
  readonly now: number;
}

const MIRRORED = new Set(["snapmirrored", "in_sync", "out_of_sync"]);
const transferring = (r: SnapMirrorRelationship): boolean => r.transfer?.state === "transferring" || r.transfer?.state === "queued";

/**
 * Decides the next step towards the desired state. Pure: the reconciler observes, calls this, and
 * performs at most the one action returned.
 *
 * The one thing it never does on its own: resync a relationship that was broken off by someone
 * else (a failover, an administrator). A resync discards every write made at the destination
 * since the break, so it happens only when this controller made the break for desiredState
 * BrokenOff and the spec asks for Mirrored again.
 */
export function plan(i: PlanInput): Action {
  const r = i.rel;
  if (!r) {
    if (i.desired === "BrokenOff") return { kind: "blocked", reason: "NotFound", message: "there is no relationship to keep broken off" };
    return { kind: "create" };
  }
  const state = r.state;
  if (state === "uninitialized") {
    if (transferring(r)) return { kind: "wait", reason: "Initializing", message: "baseline transfer in progress" };
    if (i.desired === "BrokenOff") {
      return { kind: "blocked", reason: "NotInitialized", message: "an uninitialized relationship cannot be broken off; set desiredState Mirrored to initialize it first" };
    }
    return { kind: "initialize" };
  }
  if (MIRRORED.has(state)) {
    if (i.desired === "Paused" || i.desired === "BrokenOff") return { kind: "quiesce" }; // a break is quiesced first
    if (i.scheduleSupported && i.schedule !== undefined && r.schedule !== i.schedule) return { kind: "setSchedule", schedule: i.schedule };
    if (i.updateIntervalMs !== undefined && !transferring(r) && (i.lastUpdateMs === undefined || i.now - i.lastUpdateMs >= i.updateIntervalMs)) {
      return { kind: "update" };
    }
    return { kind: "none" };
  }
  if (state === "paused") {
    if (i.desired === "Mirrored") return { kind: "resume" };
    if (i.desired === "BrokenOff") {
      if (transferring(r)) return { kind: "wait", reason: "TransferInProgress", message: "waiting for the running transfer before the break" };
      return { kind: "break" };
    }
    return { kind: "none" };
  }
  if (state === "broken_off") {
    if (i.desired === "BrokenOff") return { kind: "none" };
    if (!i.brokenByUs) {
      return {
        kind: "blocked",
        reason: "BrokenOffOutside",
        message:
          "the relationship was broken off outside this object (a failover or an administrator); resyncing would discard the " +
          "destination's writes, so it is left as is. Set spec.desiredState to BrokenOff to acknowledge it, then to Mirrored to resync",
      };
    }
    if (transferring(r)) return { kind: "wait", reason: "TransferInProgress", message: "waiting for the running transfer before the resync" };
    return { kind: "resync" };
  }
  return { kind: "wait", reason: "TransitionInProgress", message: `relationship is ${state}` };
}

/** Whether the relationship is in the state the spec asks for. */
export function inDesiredState(r: SnapMirrorRelationship | undefined, desired: DesiredReplicationState): boolean {
  if (!r) return false;
  if (desired === "Mirrored") return MIRRORED.has(r.state);
  if (desired === "Paused") return r.state === "paused";
  return r.state === "broken_off";
}
