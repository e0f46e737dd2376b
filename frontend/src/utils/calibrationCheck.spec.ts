import { describe, expect, it } from "vitest";
import { calibrationCheckText, worstPair } from "./calibrationCheck";

const names = (id: number) => ({ 2: "Door", 3: "Till" })[id] ?? `camera ${id}`;
const pair = (other: number, median: number, suspect = false) => ({
  other_camera: other,
  median_m: median,
  p90_m: median * 1.6,
  offset_m: [median, 0] as [number, number],
  samples: 300,
  suspect,
});

describe("calibrationCheckText", () => {
  it("says when no other camera has seen people with this one", () => {
    expect(calibrationCheckText({}, names)).toBe("no shared view yet");
    expect(calibrationCheckText(null, names)).toBe("no shared view yet");
    expect(calibrationCheckText({ pairs: [] }, names)).toBe("no shared view yet");
  });

  it("shows the farthest pair when all agree", () => {
    expect(calibrationCheckText({ pairs: [pair(2, 0.11), pair(3, 0.31)] }, names)).toBe("0.31 m from Till (+1 more)");
  });

  it("puts a suspect pair first, even when another is farther apart by its median", () => {
    const check = { pairs: [pair(2, 0.7), { ...pair(3, 0.5, true), p90_m: 1.32 }] };
    expect(worstPair(check)?.other_camera).toBe(3);
    expect(calibrationCheckText(check, names)).toBe("⚠ 0.50 m from Till (90 % within 1.32 m): check the calibration (+1 more)");
  });
});
