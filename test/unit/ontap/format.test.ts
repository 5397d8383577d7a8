import { describe, expect, it } from "vitest";
import { atLeast, capabilitiesOf, fieldsFor, parseIsoDuration, parsePath, RELATIONSHIP_FIELDS, RELATIONSHIP_GATED } from "../../../src/ontap/format.js";

const v = (s: string): { generation: number; major: number; minor: number; full: string } => {
  const [generation, major, minor] = s.split(".").map(Number) as [number, number, number?];
  return { generation, major, minor: minor ?? 0, full: `NetApp Release ${s}` };
};

describe("ONTAP version gating", () => {
  it("orders versions by generation, major and minor", () => {
    expect(atLeast(v("9.8.0"), "9.9.1")).toBe(false);
    expect(atLeast(v("9.9.0"), "9.9.1")).toBe(false);
    expect(atLeast(v("9.9.1"), "9.9.1")).toBe(true);
    expect(atLeast(v("9.10.0"), "9.9.1")).toBe(true);
    expect(atLeast(v("10.0.0"), "9.12.1")).toBe(true);
    expect(atLeast(v("8.99.9"), "9.8.0")).toBe(false);
  });

  it("offers the in-place reverse from 9.9.1, relationship schedules from 9.11.1 and last_transfer_type from 9.12.1", () => {
    expect(capabilitiesOf(v("9.8.0"))).toEqual({ reverseInPlace: false, transferEndTime: false, lastTransferType: false, transferSchedule: false });
    expect(capabilitiesOf(v("9.9.1"))).toEqual({ reverseInPlace: true, transferEndTime: true, lastTransferType: false, transferSchedule: false });
    expect(capabilitiesOf(v("9.11.1"))).toEqual({ reverseInPlace: true, transferEndTime: true, lastTransferType: false, transferSchedule: true });
    expect(capabilitiesOf(v("9.12.1"))).toEqual({ reverseInPlace: true, transferEndTime: true, lastTransferType: true, transferSchedule: true });
  });

  it("asks a 9.8 cluster only for 9.8 relationship fields", () => {
    const f = fieldsFor(RELATIONSHIP_FIELDS, RELATIONSHIP_GATED, v("9.8.0")).split(",");
    expect(f).toContain("transfer.state");
    expect(f).not.toContain("transfer.end_time");
    expect(f).not.toContain("last_transfer_type");
    expect(f).not.toContain("transfer_schedule.name");
  });

  it("adds the later fields when the cluster has them", () => {
    expect(fieldsFor(RELATIONSHIP_FIELDS, RELATIONSHIP_GATED, v("9.9.1")).split(",")).toEqual([...RELATIONSHIP_FIELDS, "transfer.end_time", "transfer.total_duration"]);
    expect(fieldsFor(RELATIONSHIP_FIELDS, RELATIONSHIP_GATED, v("9.13.1")).split(",")).toContain("last_transfer_type");
  });
});

describe("ONTAP value formats", () => {
  it("reads ISO-8601 durations as ONTAP writes lag_time", () => {
    expect(parseIsoDuration("PT8H35M42S")).toBe(8 * 3600 + 35 * 60 + 42);
    expect(parseIsoDuration("P2DT")).toBe(2 * 86_400);
    expect(parseIsoDuration("P1DT2H")).toBe(86_400 + 7_200);
    expect(parseIsoDuration("PT0S")).toBe(0);
    expect(parseIsoDuration("PT1.5S")).toBe(2);
    expect(parseIsoDuration("8h")).toBeUndefined();
    expect(parseIsoDuration("P")).toBeUndefined();
    expect(parseIsoDuration("PT")).toBeUndefined();
  });

  it("splits endpoint paths at the first colon", () => {
    expect(parsePath("svm1:vol1")).toEqual({ svm: "svm1", volume: "vol1" });
    expect(parsePath("svm1:")).toEqual({ svm: "svm1", volume: "" });
    expect(parsePath("svm1:/cg/cg1")).toEqual({ svm: "svm1", volume: "/cg/cg1" });
  });
});
