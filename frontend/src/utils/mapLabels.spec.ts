import { describe, expect, it } from "vitest";
import type { XY } from "@/api/types";
import { boxesOverlap, centredBox, lineLabelBox, type LabelBox } from "./mapLabels";

/** Whether the segment ab passes through the box (a label drawn on its own line). */
function segmentHitsBox(a: XY, b: XY, box: LabelBox): boolean {
  for (let i = 0; i <= 100; i++) {
    const x = a[0] + ((b[0] - a[0]) * i) / 100;
    const y = a[1] + ((b[1] - a[1]) * i) / 100;
    if (x >= box.x && x <= box.x + box.width && y >= box.y && y <= box.y + box.height) return true;
  }
  return false;
}

describe("counting-line labels on the floor map", () => {
  // The demo's entrance area (1.5–8 m × 15–18.5 m at 20 px/m) with a door through its middle, top to bottom:
  // the door's midpoint is the area's centroid, where the area's name is written.
  const s = 20;
  const entrance = centredBox(4.75 * s, 16.75 * s, "Entrance", 12);
  const door: XY[] = [
    [4.75 * s, 15 * s],
    [4.75 * s, 18.5 * s],
  ];

  it("keeps a door's name off the name of the area it crosses, and off the line itself", () => {
    const box = lineLabelBox(door, "Front door", 12, [entrance]);
    expect(boxesOverlap(box, entrance)).toBe(false);
    expect(segmentHitsBox(door[0], door[1], box)).toBe(false);
  });

  it("sits beside the line's middle when nothing is in the way", () => {
    const box = lineLabelBox(door, "Front door", 12, []);
    const cy = box.y + box.height / 2;
    expect(cy).toBeCloseTo(16.75 * s, 6); // at the midpoint's height, off to one side
    expect(segmentHitsBox(door[0], door[1], box)).toBe(false);
  });

  it("moves a second line's name clear of the first's, and stays on the stage when it can", () => {
    const first = lineLabelBox(door, "Front door", 12, [entrance]);
    const parallel: XY[] = door.map(([x, y]) => [x + 6, y] as XY);
    const second = lineLabelBox(parallel, "Side door", 12, [entrance, first], { width: 600, height: 400 });
    expect(boxesOverlap(second, first)).toBe(false);
    expect(boxesOverlap(second, entrance)).toBe(false);
    // A line along the stage's top edge: the label goes below it, not off the stage.
    const top = lineLabelBox([[100, 0], [300, 0]], "Top", 12, [], { width: 600, height: 400 });
    expect(top.y).toBeGreaterThanOrEqual(0);
  });

  it("places a horizontal line's name above or below it", () => {
    const box = lineLabelBox([[0, 100], [200, 100]], "Till line", 12, []);
    expect(box.y + box.height <= 100 || box.y >= 100).toBe(true);
    expect(box.x + box.width / 2).toBeCloseTo(100, 6);
  });
});

describe("label widths", () => {
  it("uses the canvas's measure of the text, plus slack, where there is one", () => {
    const box = centredBox(100, 100, "Stock room", 12, () => 75.4);
    expect(box.width).toBeGreaterThanOrEqual(75.4);
    expect(box.width).toBeLessThan(80);
    expect(box.x + box.width / 2).toBeCloseTo(100, 6);
  });

  it("estimates wide enough for a bold fallback font where nothing can measure", () => {
    // Arial Bold (and Liberation Sans, its metric twin) draws "Promotion" at 12 px 60 px wide; 0.55 em per
    // character gave 59.4 px and the map cut the name to "Promotio".
    const box = centredBox(100, 100, "Promotion", 12, () => null);
    expect(box.width).toBeGreaterThanOrEqual(60 + 2);
  });

  it("passes the measure on to a line's label", () => {
    const box = lineLabelBox([[0, 100], [200, 100]], "Till line", 12, [], undefined, () => 90);
    expect(box.width).toBeGreaterThanOrEqual(90);
  });
});
