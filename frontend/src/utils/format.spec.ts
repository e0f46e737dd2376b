import { describe, expect, it } from "vitest";
import { ago, duration, errorText, floorPoint } from "./format";

describe("ago", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  it.each([
    [null, "never"],
    [undefined, "never"],
    ["2026-12-01T11:59:30Z", "30 s ago"],
    ["2026-12-01T11:30:00Z", "30 min ago"],
    ["2026-12-01T06:00:00Z", "6 h ago"],
    ["2026-11-28T12:00:00Z", "3 d ago"],
  ])("%s -> %s", (iso, expected) => {
    expect(ago(iso, now)).toBe(expected);
  });

  it("never shows a negative age for a clock slightly ahead", () => {
    expect(ago("2026-12-01T12:00:05Z", now)).toBe("0 s ago");
  });
});

describe("duration", () => {
  it.each([
    [12.4, "12 s"],
    [61, "1 min 1 s"],
    [3599, "59 min 59 s"],
    [3600 + 30 * 60, "1 h 30 min"],
  ])("%d s -> %s", (seconds, expected) => {
    expect(duration(seconds)).toBe(expected);
  });
});

describe("errorText", () => {
  it("joins the message and the field messages of an API error", () => {
    const err = Object.assign(new Error("invalid zone"), { fieldMessages: () => ["polygon: too few corners"] });
    expect(errorText(err)).toBe("invalid zone\npolygon: too few corners");
  });
  it("stringifies anything else", () => {
    expect(errorText(42)).toBe("42");
  });
});

describe("floorPoint", () => {
  it.each([
    [[1.23456, 7.891011], "1.23, 7.89"],
    [[3, 0], "3.00, 0.00"],
    [[12.345000001, 0.005], "12.35, 0.01"],
    [[-0.001, -2.5], "0.00, -2.50"],
    [[0.1 + 0.2, 4.999], "0.30, 5.00"],
  ] as [[number, number], string][])("%j -> %s", (point, expected) => {
    expect(floorPoint(point)).toBe(expected);
  });
});
