import { describe, expect, it } from "vitest";
import type { XY } from "@/api/types";
import type { PlanExtent } from "@/utils/geometry";
import { usePolygonEditor } from "./usePolygonEditor";

const PLAN: PlanExtent = { origin_x_m: 0, origin_y_m: 0, width_m: 20, height_m: 10 };
const SCALE = 50; // pixels per metre: 12 px = 0.24 m

function drawing(...points: XY[]) {
  const editor = usePolygonEditor(() => PLAN);
  editor.startDraw();
  for (const p of points) editor.clickFloor(p, 1, SCALE);
  return editor;
}

describe("usePolygonEditor: drawing", () => {
  it("adds a rounded vertex per click and takes the click", () => {
    const editor = drawing([1.234, 1.006]);
    expect(editor.mode.value).toBe("draw");
    expect(editor.vertices.value).toEqual([[1.23, 1.01]]);
    expect(editor.clickFloor([3, 1], 1, SCALE)).toBe(true);
  });

  it("closes on the second click of a double-click without adding a corner", () => {
    const editor = drawing([1, 1], [3, 1], [3, 3]);
    editor.clickFloor([3, 3], 2, SCALE);
    expect(editor.mode.value).toBe("edit");
    expect(editor.vertices.value).toHaveLength(3);
    expect(editor.notice.value).toContain("Polygon closed");
  });

  it("closes on a click near the first vertex", () => {
    const editor = drawing([1, 1], [3, 1], [3, 3]);
    editor.clickFloor([1.1, 1.1], 1, SCALE);
    expect(editor.mode.value).toBe("edit");
    expect(editor.vertices.value).toHaveLength(3);
  });

  it("closes on a plain click on the last corner (a slow double-click), adding no duplicate of it", () => {
    const polygon = drawing([1, 1], [3, 1], [3, 3]);
    expect(polygon.clickFloor([3.1, 3], 1, SCALE)).toBe(true); // 5 px from the last corner
    expect(polygon.mode.value).toBe("edit");
    expect(polygon.vertices.value).toHaveLength(3);
    const line = usePolygonEditor(
      () => PLAN,
      () => true,
    );
    line.startDraw();
    line.clickFloor([1, 1], 1, SCALE);
    line.clickFloor([1, 8], 1, SCALE);
    line.clickFloor([1, 8.05], 1, SCALE); // the double-click's second click, its click count lost
    expect(line.mode.value).toBe("edit");
    expect(line.vertices.value).toHaveLength(2);
    const early = drawing([1, 1], [3, 1]);
    early.clickFloor([3, 1.05], 1, SCALE); // two corners cannot close a zone: keeps drawing
    expect(early.mode.value).toBe("draw");
    expect(early.vertices.value).toHaveLength(2);
  });

  it("refuses a bow-tie with the reason and keeps drawing", () => {
    const editor = drawing([1, 1], [3, 3], [3, 1], [1, 3]);
    expect(editor.finish()).toBe(false);
    expect(editor.mode.value).toBe("draw");
    expect(editor.error.value).toContain("self-intersecting");
  });

  it("closes when a double-click's second click lands on the handle of the corner its first click drew", () => {
    // The canvas may redraw between the two clicks: the second one then hits the new vertex, not the floor.
    const editor = drawing([1, 1], [3, 1], [3, 3]);
    expect(editor.clickVertex(2, false)).toBe(true);
    expect(editor.mode.value).toBe("edit");
    expect(editor.vertices.value).toHaveLength(3);
    const bowTie = drawing([1, 1], [3, 3], [3, 1], [1, 3]);
    expect(bowTie.clickVertex(3, false)).toBe(true);
    expect(bowTie.mode.value).toBe("draw");
    expect(bowTie.error.value).toContain("self-intersecting");
    const early = drawing([1, 1], [3, 1]);
    expect(early.clickVertex(1, false)).toBe(true); // two corners: taken, adds nothing, keeps drawing
    expect(early.mode.value).toBe("draw");
    expect(early.vertices.value).toHaveLength(2);
  });

  it("refuses fewer than three vertices and a polygon off the plan", () => {
    const editor = drawing([1, 1], [3, 1]);
    editor.key("Enter");
    expect(editor.error.value).toBe("A zone needs at least three vertices.");
    const off = drawing([30, 1], [32, 1], [32, 3]);
    expect(off.finish()).toBe(false);
    expect(off.error.value).toContain("outside the floor plan");
  });

  it("undoes with Backspace, cancels with Escape, and closes on the first vertex's handle", () => {
    const editor = drawing([1, 1], [3, 1], [3, 3], [1, 3]);
    editor.key("Backspace");
    expect(editor.vertices.value).toHaveLength(3);
    expect(editor.clickVertex(0, false)).toBe(true);
    expect(editor.mode.value).toBe("edit");
    editor.key("Escape");
    expect(editor.mode.value).toBe("idle");
    expect(editor.vertices.value).toEqual([]);
  });

  it("draws the outline to the pointer while drawing only", () => {
    const editor = drawing([1, 1], [3, 1]);
    editor.hover.value = [3, 3];
    expect(editor.outline(10)).toEqual([10, 10, 30, 10, 30, 30]);
    editor.edit(1, [[0, 0], [1, 0], [1, 1]]);
    expect(editor.outline(10)).toEqual([0, 0, 10, 0, 10, 10]);
  });
});

describe("usePolygonEditor: editing", () => {
  const square: XY[] = [
    [1, 1],
    [5, 1],
    [5, 5],
    [1, 5],
  ];

  function editing() {
    const editor = usePolygonEditor(() => PLAN);
    editor.edit(7, square);
    editor.clickFloor([9, 9], 1, SCALE); // records the scale; not drawing, so the page may pick a zone
    return editor;
  }

  it("leaves floor clicks to the page and copies the polygon", () => {
    const editor = editing();
    expect(editor.clickFloor([2, 2], 1, SCALE)).toBe(false);
    expect(editor.selectedId.value).toBe(7);
    editor.moveVertex(0, [0.504, 0.5]);
    expect(editor.vertices.value[0]).toEqual([0.5, 0.5]);
    expect(square[0]).toEqual([1, 1]);
  });

  it("inserts a vertex on the nearest edge on double-click, not on a corner or far away", () => {
    const editor = editing();
    editor.dblClickFloor([3, 1.2]);
    expect(editor.vertices.value[1]).toEqual([3, 1.2]);
    editor.dblClickFloor([5.05, 5]); // on a corner
    editor.dblClickFloor([3, 3]); // 1.8 m from every edge
    expect(editor.vertices.value).toHaveLength(5);
  });

  it("removes a vertex on alt-click but keeps three", () => {
    const editor = editing();
    expect(editor.clickVertex(1, false)).toBe(false);
    expect(editor.clickVertex(1, true)).toBe(true);
    expect(editor.vertices.value).toEqual([
      [1, 1],
      [5, 5],
      [1, 5],
    ]);
    expect(editor.clickVertex(1, true)).toBe(false);
    expect(editor.vertices.value).toHaveLength(3);
  });
});

describe("counting lines", () => {
  it("finishes an open line of two points, which a polygon could not be", () => {
    let line = true;
    const editor = usePolygonEditor(() => ({ origin_x_m: 0, origin_y_m: 0, width_m: 30, height_m: 20 }), () => line);
    editor.startDraw();
    editor.clickFloor([1, 1], 1, 10);
    expect(editor.finish()).toBe(false);
    expect(editor.error.value).toContain("two points");
    editor.clickFloor([4, 1], 1, 10);
    expect(editor.finish()).toBe(true);
    expect(editor.mode.value).toBe("edit");
    expect(editor.vertices.value).toEqual([
      [1, 1],
      [4, 1],
    ]);
    line = false;
    editor.startDraw();
    editor.clickFloor([1, 1], 1, 10);
    editor.clickFloor([4, 1], 1, 10);
    expect(editor.finish()).toBe(false); // a zone still needs three
  });

  it("does not close a line on its first point", () => {
    const editor = usePolygonEditor(() => null, () => true);
    editor.startDraw();
    editor.clickFloor([1, 1], 1, 10);
    editor.clickFloor([4, 1], 1, 10);
    editor.clickFloor([4, 4], 1, 10);
    editor.clickFloor([1.05, 1.05], 1, 10); // near the first point: a fourth point, not a close
    expect(editor.vertices.value).toHaveLength(4);
    expect(editor.mode.value).toBe("draw");
  });
});
