import { describe, expect, it } from "vitest";
import { plan, inDesiredState } from "../../../src/controllers/replication-relationship/plan.js";
import type { PlanInput } from "../../../src/controllers/replication-relationship/plan.js";
import type { SnapMirrorRelationship } from "../../../src/ontap/client.js";

const rel = (state: SnapMirrorRelationship["state"], extra: Partial<SnapMirrorRelationship> = {}): SnapMirrorRelationship => ({
  uuid: "u", source: { svm: "svm1", volume: "v" }, destination: { svm: "svm2", volume: "v_SM" }, policy: {}, state, unhealthyReasons: [], ...extra,
});
const input = (p: Partial<PlanInput>): PlanInput => ({
  rel: undefined, desired: "Mirrored", brokenByUs: false, scheduleSupported: false, schedule: undefined, updateIntervalMs: undefined, lastUpdateMs: undefined, now: 1_000_000, ...p,
});
const transferring = { transfer: { state: "transferring" as const } };

describe("replication plan", () => {
  it.each([
    ["missing", undefined, "Mirrored", "create"],
    ["missing", undefined, "Paused", "create"],
    ["uninitialized", rel("uninitialized"), "Mirrored", "initialize"],
    ["uninitialized", rel("uninitialized"), "Paused", "initialize"],
    ["mirrored", rel("snapmirrored"), "Paused", "quiesce"],
    ["mirrored", rel("snapmirrored"), "BrokenOff", "quiesce"],
    ["paused", rel("paused"), "Mirrored", "resume"],
    ["paused", rel("paused"), "BrokenOff", "break"],
    ["paused", rel("paused"), "Paused", "none"],
    ["mirrored", rel("snapmirrored"), "Mirrored", "none"],
    ["broken off", rel("broken_off"), "BrokenOff", "none"],
  ] as const)("takes the right step: %s wanting %s", (_what, r, desired, kind) => {
    expect(plan(input({ rel: r, desired })).kind).toBe(kind);
  });

  it("never resyncs a relationship it did not break off", () => {
    const a = plan(input({ rel: rel("broken_off"), desired: "Mirrored", brokenByUs: false }));
    expect(a).toMatchObject({ kind: "blocked", reason: "BrokenOffOutside" });
    expect(plan(input({ rel: rel("broken_off"), desired: "Mirrored", brokenByUs: true })).kind).toBe("resync");
  });

  it("waits for a running transfer before breaking or resyncing, and during a baseline", () => {
    expect(plan(input({ rel: rel("paused", transferring), desired: "BrokenOff" })).kind).toBe("wait");
    expect(plan(input({ rel: rel("broken_off", transferring), desired: "Mirrored", brokenByUs: true })).kind).toBe("wait");
    expect(plan(input({ rel: rel("uninitialized", transferring) })).kind).toBe("wait");
  });

  it("refuses what ONTAP cannot do with a reason", () => {
    expect(plan(input({ rel: undefined, desired: "BrokenOff" })).kind).toBe("blocked");
    expect(plan(input({ rel: rel("uninitialized"), desired: "BrokenOff" })).kind).toBe("blocked");
  });

  it("keeps the schedule only where the cluster can hold one", () => {
    expect(plan(input({ rel: rel("snapmirrored", { schedule: "hourly" }), schedule: "5min", scheduleSupported: true }))).toEqual({ kind: "setSchedule", schedule: "5min" });
    expect(plan(input({ rel: rel("snapmirrored"), schedule: "5min", scheduleSupported: false })).kind).toBe("none");
  });

  it("drives an update when the update interval has passed and no transfer runs", () => {
    const base = { rel: rel("snapmirrored"), updateIntervalMs: 60_000, now: 1_000_000 };
    expect(plan(input({ ...base, lastUpdateMs: 1_000_000 - 61_000 })).kind).toBe("update");
    expect(plan(input({ ...base, lastUpdateMs: 1_000_000 - 30_000 })).kind).toBe("none");
    expect(plan(input({ ...base, rel: rel("snapmirrored", transferring), lastUpdateMs: 0 })).kind).toBe("none");
  });

  it("judges the desired state", () => {
    expect(inDesiredState(rel("in_sync"), "Mirrored")).toBe(true);
    expect(inDesiredState(rel("paused"), "Mirrored")).toBe(false);
    expect(inDesiredState(undefined, "Mirrored")).toBe(false);
  });
});
