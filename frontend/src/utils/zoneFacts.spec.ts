import { describe, expect, it } from "vitest";
import { zoneLevel, zoneLiveCount, zoneSize } from "./zoneFacts";

const door = { id: 7, kind: "door" as const, polygon: [[4.75, 15], [4.75, 18.5]] as [number, number][], required_level: 0 };
const area = { id: 3, kind: "interest" as const, polygon: [[0, 0], [4, 0], [4, 2], [0, 2]] as [number, number][], required_level: 0 };

describe("zone tables: what a counting line shows instead of an area's 0", () => {
  it("a line's length and in direction; an area's size", () => {
    expect(zoneSize(door)).toBe("3.5 m, in ←");
    expect(zoneSize({ kind: "line", polygon: [[0, 0], [2, 0]] })).toBe("2.0 m, in ↓");
    expect(zoneSize(area)).toBe("8.0 m²");
  });
  it("a level only for restricted areas", () => {
    expect(zoneLevel(door)).toBe("");
    expect(zoneLevel({ kind: "restricted", required_level: 2 })).toBe("level ≥ 2");
  });
  it("the live count: people in an area, today's crossings of a line, never a 0 occupancy for a line", () => {
    expect(zoneLiveCount(area, 0, null)).toBe("0");
    expect(zoneLiveCount(area, 4, [])).toBe("4");
    expect(zoneLiveCount(door, 0, null)).toBe("—");
    expect(zoneLiveCount(door, 0, [{ line_id: 7, in: 12, out: 9 }])).toBe("in 12 · out 9");
    expect(zoneLiveCount(door, 0, [{ line_id: 8, in: 1, out: 1 }])).toBe("—");
  });
});
