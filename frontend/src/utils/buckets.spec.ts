import { describe, expect, it } from "vitest";
import { bucketFor, bucketLabel, filledSeries } from "./buckets";
import { presetRange, type TimeRange } from "./timeRange";

const now = new Date(Date.UTC(2026, 11, 1, 15, 30, 20));

function span(hours: number): TimeRange {
  return { preset: "custom", start: new Date(now.getTime() - hours * 3600_000), end: now };
}

describe("bucketFor", () => {
  it("gives the last hour minutes, a few hours 5 minutes, a day hours and weeks days", () => {
    expect(bucketFor(presetRange("hour", now))).toBe("1m");
    expect(bucketFor(span(2))).toBe("1m");
    expect(bucketFor(span(4))).toBe("5m");
    expect(bucketFor(span(12))).toBe("5m");
    expect(bucketFor(presetRange("day", now))).toBe("hour");
    expect(bucketFor(span(72))).toBe("hour");
    expect(bucketFor(span(24 * 14))).toBe("day");
  });
  it("never asks for more bars than the server serves (2000)", () => {
    const limits = { "1m": 60_000, "5m": 300_000, "15m": 900_000, hour: 3600_000, day: 86_400_000 };
    for (const hours of [0.1, 1, 2, 2.01, 6, 12, 12.5, 24, 72, 73, 24 * 400]) {
      const range = span(hours);
      const bars = (range.end.getTime() - range.start.getTime()) / limits[bucketFor(range)];
      expect(bars).toBeLessThanOrEqual(2000);
    }
  });
});

describe("filledSeries", () => {
  it("has one bar per minute of the last hour, the empty ones at 0", () => {
    const range = presetRange("hour", now);
    const series = filledSeries(
      [
        { t: "2026-12-01T14:31:00+00:00", count: 2 },
        { t: "2026-12-01T15:30:00+00:00", count: 1 },
      ],
      range,
      "1m",
    );
    expect(series).toHaveLength(61); // 14:30 (partly in range) to 15:30
    expect(series[0].t.toISOString()).toBe("2026-12-01T14:30:00.000Z");
    expect(series[1].count).toBe(2);
    expect(series[60].count).toBe(1);
    expect(series.reduce((sum, s) => sum + s.count, 0)).toBe(3);
  });
  it("keeps daily rows as they are", () => {
    const rows = [{ t: "2026-11-20T00:00:00+00:00", count: 4 }];
    expect(filledSeries(rows, span(24 * 14), "day")).toEqual([{ t: new Date("2026-11-20T00:00:00Z"), count: 4 }]);
  });
  it("labels days with their date, shorter buckets with the clock (and the day over more than a day)", () => {
    const t = new Date(Date.UTC(2026, 11, 1, 14, 5));
    expect(bucketLabel(t, "day", span(24 * 14))).toBe(t.toLocaleDateString());
    expect(bucketLabel(t, "5m", span(4))).toBe(t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    expect(bucketLabel(t, "hour", span(48))).toContain(t.toLocaleDateString([], { weekday: "short" }));
  });
});

describe("the site's clock, not the browser's", () => {
  const week: TimeRange = { preset: "custom", start: new Date("2026-11-25T00:00:00Z"), end: new Date("2026-12-02T00:00:00Z") };
  const oneDay: TimeRange = { preset: "custom", start: new Date("2026-12-01T00:00:00Z"), end: new Date("2026-12-01T12:00:00Z") };
  it("labels a New York store's day and hour by its own clock", () => {
    // 03:00 UTC on 2 December is 22:00 on 1 December in New York: the store's 1 December, its 10 pm.
    const t = new Date("2026-12-02T03:00:00Z");
    expect(bucketLabel(t, "day", week, "America/New_York")).toBe(bucketLabel(new Date("2026-12-01T12:00:00Z"), "day", week, "UTC"));
    expect(bucketLabel(t, "day", week, "America/New_York")).not.toBe(bucketLabel(t, "day", week, "UTC"));
    expect(bucketLabel(t, "hour", oneDay, "America/New_York")).toBe(bucketLabel(new Date("2026-12-01T22:00:00Z"), "hour", oneDay, "UTC"));
    expect(bucketLabel(t, "hour", week, "America/New_York")).toBe(bucketLabel(new Date("2026-12-01T22:00:00Z"), "hour", week, "UTC"));
  });
  it("fills the hours of a half-hour zone on its own hours", () => {
    // Kolkata (+05:30): the server's 15:00 hour starts at 09:30 UTC.
    const rows = [{ t: "2026-12-01T15:00:00+05:30", count: 3 }];
    const series = filledSeries(rows, oneDay, "hour", "Asia/Kolkata");
    expect(series[0].t.toISOString()).toBe("2026-11-30T23:30:00.000Z");
    expect(series).toHaveLength(13);
    const filled = series.filter((s) => s.count > 0);
    expect(filled.map((s) => [s.t.toISOString(), s.count])).toEqual([["2026-12-01T09:30:00.000Z", 3]]);
  });
  it("keeps the two one o'clock hours of the night New York's clocks go back", () => {
    const night: TimeRange = { preset: "custom", start: new Date("2026-11-01T04:00:00Z"), end: new Date("2026-11-01T08:00:00Z") };
    const rows = [
      { t: "2026-11-01T01:00:00-04:00", count: 1 },
      { t: "2026-11-01T01:00:00-05:00", count: 2 },
    ];
    const series = filledSeries(rows, night, "hour", "America/New_York");
    expect(series.map((s) => s.count)).toEqual([0, 1, 2, 0]);
    expect(series.map((s) => bucketLabel(s.t, "hour", night, "America/New_York"))).toEqual(
      ["00:00", "01:00", "01:00", "02:00"].map((c) => bucketLabel(new Date(`2026-11-01T${c}:00Z`), "hour", night, "UTC")),
    );
  });
  it("starts today at the store's midnight", () => {
    // 03:30 UTC on 1 December is still 30 November (22:30) in New York: its today began at 05:00 UTC on 30 November.
    const now = new Date("2026-12-01T03:30:00Z");
    expect(presetRange("today", now, "America/New_York").start.toISOString()).toBe("2026-11-30T05:00:00.000Z");
    expect(presetRange("today", now, "Asia/Kathmandu").start.toISOString()).toBe("2026-11-30T18:15:00.000Z");
    // the day the clocks go back: midnight was still summer time (-04:00)
    expect(presetRange("today", new Date("2026-11-01T20:00:00Z"), "America/New_York").start.toISOString()).toBe(
      "2026-11-01T04:00:00.000Z",
    );
    // Havana: 01:00 CDT becomes 00:00 CST on 1 November; in the second 00:30 the day still began at the first
    // midnight (04:00 UTC), as the server's day buckets begin. Santiago skips midnight on 6 September: 01:00 -03.
    expect(presetRange("today", new Date("2026-11-01T05:30:00Z"), "America/Havana").start.toISOString()).toBe(
      "2026-11-01T04:00:00.000Z",
    );
    expect(presetRange("today", new Date("2026-09-06T15:00:00Z"), "America/Santiago").start.toISOString()).toBe(
      "2026-09-06T04:00:00.000Z",
    );
  });
});
