import { describe, expect, it } from "vitest";
import { setCondition, findCondition, isTrue } from "../../../src/api/v1alpha1/conditions.js";
import type { Condition } from "../../../src/api/v1alpha1/conditions.js";

describe("setCondition", () => {
  it("adds a condition with the transition time and observed generation", () => {
    const cs: Condition[] = [];
    setCondition(cs, { type: "Ready", status: "False", reason: "VCenterUnreachable", message: "dial tcp: refused", observedGeneration: 3 }, "2026-11-25T10:00:00Z");
    expect(cs).toEqual([
      { type: "Ready", status: "False", reason: "VCenterUnreachable", message: "dial tcp: refused", observedGeneration: 3, lastTransitionTime: "2026-11-25T10:00:00Z" },
    ]);
  });

  it("keeps lastTransitionTime while the status stays the same, and moves it when the status flips", () => {
    const cs: Condition[] = [];
    setCondition(cs, { type: "Ready", status: "False", reason: "A" }, "2026-11-25T10:00:00Z");
    setCondition(cs, { type: "Ready", status: "False", reason: "B", message: "other" }, "2026-11-25T11:00:00Z");
    expect(findCondition(cs, "Ready")).toMatchObject({ reason: "B", message: "other", lastTransitionTime: "2026-11-25T10:00:00Z" });
    setCondition(cs, { type: "Ready", status: "True", reason: "Ready" }, "2026-11-25T12:00:00Z");
    expect(findCondition(cs, "Ready")?.lastTransitionTime).toBe("2026-11-25T12:00:00Z");
    expect(isTrue(cs, "Ready")).toBe(true);
    expect(cs).toHaveLength(1);
  });
});
