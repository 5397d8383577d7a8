import { describe, expect, it } from "vitest";
import { jsonEqual } from "../../../src/util/equal.js";
import { parseDuration } from "../../../src/util/duration.js";
import { backoffDelay, jitter } from "../../../src/util/backoff.js";

describe("jsonEqual", () => {
  it("ignores key order and undefined-valued keys but not array order", () => {
    expect(jsonEqual({ a: 1, b: [1, 2], c: undefined }, { b: [1, 2], a: 1 })).toBe(true);
    expect(jsonEqual({ b: [2, 1] }, { b: [1, 2] })).toBe(false);
    expect(jsonEqual({ a: null }, {})).toBe(false);
    expect(jsonEqual({ a: { x: 1 } }, { a: { x: 1, y: 2 } })).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
  });
});

describe("parseDuration", () => {
  it("parses Go-style durations", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("1.5s")).toBe(1_500);
  });
  it("rejects anything else with the value in the message", () => {
    expect(() => parseDuration("5 minutes")).toThrow(/invalid duration "5 minutes"/);
    expect(() => parseDuration("")).toThrow();
    expect(() => parseDuration("-1s")).toThrow();
  });
});

describe("backoff", () => {
  it("doubles and caps, without overflowing for huge attempt counts", () => {
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, { baseMs: 100, maxMs: 500 }))).toEqual([100, 200, 400, 500]);
    expect(backoffDelay(10_000, { baseMs: 1, maxMs: 7 })).toBe(7);
  });
  it("jitter stays within the fraction", () => {
    expect(jitter(1000, 0.1, () => 0)).toBe(900);
    expect(jitter(1000, 0.1, () => 1)).toBe(1100);
  });
});
