import { ConditionType } from "../../api/v1alpha1/conditions.js";
import type { ReplicationRelationshipStatus } from "../../api/v1alpha1/replication-relationship.js";
import type { SnapMirrorRelationship } from "../../ontap/client.js";
import { rfc3339 } from "../../util/clock.js";
import type { ConditionSetter } from "../common/conditions.js";

/**
 * Copies what ONTAP reports into status and sets Healthy and WithinRPO. Lag is ONTAP's lag_time
 * (measured on the cluster's clock, so clock skew and time zones do not matter); the newest common
 * snapshot's time is derived from it on our clock.
 */
export function fillObservedStatus(
  status: ReplicationRelationshipStatus,
  rel: SnapMirrorRelationship | undefined,
  o: { now: number; rpoMs: number; cond: ConditionSetter; activeDestination: string },
): void {
  const { cond } = o;
  status.activeDestination = o.activeDestination;
  if (!rel) {
    status.uuid = undefined;
    status.state = undefined;
    status.transferState = undefined;
    status.healthy = undefined;
    status.unhealthyReasons = undefined;
    status.lagSeconds = undefined;
    cond.set(ConditionType.Healthy, "Unknown", "NotFound", "the relationship does not exist yet");
    cond.set(ConditionType.WithinRPO, "Unknown", "NotFound", "the relationship does not exist yet");
    return;
  }
  status.uuid = rel.uuid;
  status.state = rel.state;
  status.transferState = rel.transfer?.state;
  status.healthy = rel.healthy;
  status.unhealthyReasons = rel.unhealthyReasons.length ? rel.unhealthyReasons.slice(0, 16) : undefined;
  // Lag grows every second; rewriting status on every poll would cost one API write per poll per
  // relationship. Keep the written value while the snapshot is the same and the change is small
  // (the metric has the exact value); RPO crossings are always caught below.
  const prev = status.lagSeconds;
  const step = Math.max(60, o.rpoMs / 1000 / 10);
  const sameSnapshot = status.newestSnapshot?.name === rel.exportedSnapshot;
  const exact = rel.lagTimeSeconds;
  const crossesRpo = prev !== undefined && exact !== undefined && prev * 1000 <= o.rpoMs !== exact * 1000 <= o.rpoMs;
  const lagS = prev !== undefined && exact !== undefined && sameSnapshot && !crossesRpo && Math.abs(exact - prev) < step ? prev : exact;
  status.lagSeconds = lagS;
  if (rel.exportedSnapshot) {
    const createTime = lagS !== undefined ? rfc3339(o.now - lagS * 1000) : undefined;
    // Keep the recorded time while the snapshot is the same: it does not move between polls.
    const same = status.newestSnapshot?.name === rel.exportedSnapshot ? status.newestSnapshot.createTime : undefined;
    status.newestSnapshot = { name: rel.exportedSnapshot, ...((same ?? createTime) ? { createTime: same ?? createTime } : {}) };
  }
  if (rel.transfer && (rel.transfer.state === "success" || rel.transfer.endTime)) {
    status.lastTransfer = {
      endTime: rel.transfer.endTime ?? status.lastTransfer?.endTime,
      bytes: rel.transfer.bytesTransferred,
      durationSeconds: rel.transfer.totalDurationSeconds,
    };
  }

  if (rel.healthy === false) cond.set(ConditionType.Healthy, false, "Unhealthy", rel.unhealthyReasons.join("; ") || "ONTAP reports the relationship unhealthy");
  else if (rel.healthy === true) cond.set(ConditionType.Healthy, true, "Healthy", `state ${rel.state}`);
  else cond.set(ConditionType.Healthy, "Unknown", "NotReported", "ONTAP did not report health");

  if (lagS === undefined) {
    cond.set(ConditionType.WithinRPO, "Unknown", "NoSnapshot", "no common snapshot yet (not initialized)");
  } else if (lagS * 1000 > o.rpoMs) {
    cond.set(ConditionType.WithinRPO, false, "RPOExceeded", `lag ${lagS}s exceeds the RPO of ${o.rpoMs / 1000}s (newest common snapshot ${rel.exportedSnapshot ?? "unknown"})`);
  } else {
    cond.set(ConditionType.WithinRPO, true, "WithinRPO", `lag ${lagS}s within the RPO of ${o.rpoMs / 1000}s`);
  }
}
