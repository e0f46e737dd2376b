import { describe, expect, it } from "vitest";
import { fromLocalInput, presetRange, rangeQuery, toLocalInput } from "./timeRange";

describe("presetRange", () => {
  const now = new Date(2026, 11, 1, 15, 30, 0);
  it("hour and day end now and span 1 h / 24 h", () => {
    for (const [preset, hours] of [
      ["hour", 1],
      ["day", 24],
    ] as const) {
      const range = presetRange(preset, now);
      expect(range.end.getTime()).toBe(now.getTime());
      expect(range.end.getTime() - range.start.getTime()).toBe(hours * 3600_000);
    }
  });
  it("today starts at local midnight", () => {
    const range = presetRange("today", now);
    expect(range.start).toEqual(new Date(2026, 11, 1, 0, 0, 0, 0));
  });
});

describe("local input round trip", () => {
  it("keeps minutes and rejects garbage", () => {
    const date = new Date(2026, 0, 2, 3, 4);
    expect(toLocalInput(date)).toBe("2026-01-02T03:04");
    expect(fromLocalInput(toLocalInput(date))?.getTime()).toBe(date.getTime());
    expect(fromLocalInput("not a date")).toBeNull();
    expect(fromLocalInput("")).toBeNull();
  });
});

describe("custom range on the site's clock", () => {
  it("reads and shows the inputs in the store's zone, not the browser's", () => {
    // 09:00 in New York (EST, -05:00) is 14:00 UTC, whatever zone the browser is in.
    expect(fromLocalInput("2026-12-01T09:00", "America/New_York")?.toISOString()).toBe("2026-12-01T14:00:00.000Z");
    expect(toLocalInput(new Date(Date.UTC(2026, 11, 1, 14)), "America/New_York")).toBe("2026-12-01T09:00");
    expect(fromLocalInput("2026-12-01T09:00", "Asia/Kathmandu")?.toISOString()).toBe("2026-12-01T03:15:00.000Z");
    // The day the clocks go forward: 03:30 EDT (-04:00); the day they go back: 01:30 read once, as EDT.
    expect(fromLocalInput("2026-03-08T03:30", "America/New_York")?.toISOString()).toBe("2026-03-08T07:30:00.000Z");
    expect(fromLocalInput("2026-03-07T23:30", "America/New_York")?.toISOString()).toBe("2026-03-08T04:30:00.000Z");
    expect(fromLocalInput("garbage", "America/New_York")).toBeNull();
  });
});

describe("rangeQuery", () => {
  it("encodes both ends as ISO instants", () => {
    const start = new Date(Date.UTC(2026, 11, 1, 8));
    const end = new Date(Date.UTC(2026, 11, 1, 9));
    expect(rangeQuery({ preset: "custom", start, end })).toBe(
      "start=2026-12-01T08%3A00%3A00.000Z&end=2026-12-01T09%3A00%3A00.000Z",
    );
  });
});
