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
