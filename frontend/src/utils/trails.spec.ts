import { describe, expect, it } from "vitest";
import type { LivePerson } from "@/api/types";
import { advanceTrails, type TrailHistory } from "./trails";

const at = (id: number | string, x_m: number, y_m = 0): LivePerson => ({ id, x_m, y_m });

describe("advanceTrails", () => {
  it("draws a trail once a person has two positions, oldest first", () => {
    const history: TrailHistory = new Map();
    expect(advanceTrails(history, [at(1, 0)], 0)).toEqual([]);
    expect(advanceTrails(history, [at(1, 1, 2)], 0.1)).toEqual([{ id: "1", points: [0, 0, 1, 2] }]);
  });

  it("keeps only the last seconds and at most the point limit", () => {
    const history: TrailHistory = new Map();
    const limits = { seconds: 1, maxPoints: 3 };
    for (let i = 0; i < 5; i++) advanceTrails(history, [at(1, i)], i * 0.1, limits);
    expect(advanceTrails(history, [at(1, 5)], 0.5, limits)[0].points).toEqual([3, 0, 4, 0, 5, 0]);
    // 2 s later only the new position is recent: no trail to draw
    expect(advanceTrails(history, [at(1, 6)], 2.5, limits)).toEqual([]);
    expect(history.get("1")).toHaveLength(1);
  });

  it("forgets a person who left the frame, and keeps string and number ids apart per id", () => {
    const history: TrailHistory = new Map();
    advanceTrails(history, [at(1, 0), at("3:7", 0)], 0);
    const trails = advanceTrails(history, [at("3:7", 1)], 0.1);
    expect(trails.map((t) => t.id)).toEqual(["3:7"]);
    expect([...history.keys()]).toEqual(["3:7"]);
  });
});
