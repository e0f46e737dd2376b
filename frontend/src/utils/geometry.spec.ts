import { describe, expect, it } from "vitest";
import {
  applyHomography,
  areaInsidePlan,
  cellArrows,
  crossingEdges,
  directionArrow,
  lineInDirection,
  nearestEdge,
  pointInPolygon,
  polygonArea,
  polygonCentroid,
  polygonProblem,
  polylineLength,
  polylinePointAt,
} from "./geometry";

const square: [number, number][] = [
  [0, 0],
  [4, 0],
  [4, 2],
  [0, 2],
];

describe("polygon maths", () => {
  it("signed area follows the winding", () => {
    expect(polygonArea(square)).toBe(8);
    expect(polygonArea([...square].reverse())).toBe(-8);
  });
  it("centroid of a rectangle is its centre; a degenerate polygon falls back to the vertex mean", () => {
    expect(polygonCentroid(square)).toEqual([2, 1]);
    expect(polygonCentroid([[0, 0], [2, 0], [4, 0]])).toEqual([2, 0]);
  });
  it.each([
    [1, 1, true],
    [3.9, 1.9, true],
    [5, 1, false],
    [-0.1, 1, false],
  ])("point (%d, %d) inside: %s", (x, y, inside) => {
    expect(pointInPolygon(x, y, square)).toBe(inside);
  });
  it("nearest edge of a point", () => {
    expect(nearestEdge(square, [2, -0.5])).toEqual({ index: 0, distance: 0.5 });
    expect(nearestEdge(square, [4.2, 1]).index).toBe(1);
  });
});

describe("applyHomography", () => {
  it("identity and a pure scale", () => {
    expect(applyHomography([[1, 0, 0], [0, 1, 0], [0, 0, 1]], 3, 4)).toEqual([3, 4]);
    expect(applyHomography([[2, 0, 1], [0, 2, 0], [0, 0, 1]], 3, 4)).toEqual([7, 8]);
  });
  it("is invariant to the sign of the matrix (w < 0 over the floor)", () => {
    const h = [[0.01, 0, -1], [0, 0.02, -2], [0, 0.0001, 1]];
    const negated = h.map((row) => row.map((v) => -v));
    const [x, y] = applyHomography(h, 300, 200);
    const [xn, yn] = applyHomography(negated, 300, 200);
    expect(xn).toBeCloseTo(x, 12);
    expect(yn).toBeCloseTo(y, 12);
  });
});

describe("zone polygon validation (the server's checks, before saving)", () => {
  const plan = { origin_x_m: 0, origin_y_m: 0, width_m: 30, height_m: 20 };
  it("a bow-tie is self-intersecting, not 'zero area'", () => {
    const problem = polygonProblem([[0, 0], [2, 2], [2, 0], [0, 2]], plan);
    expect(problem).toContain("self-intersecting");
    expect(problem).not.toContain("zero area");
    expect(crossingEdges([[0, 0], [2, 2], [2, 0], [0, 2]])).toEqual([0, 2]);
  });
  it("collinear corners have zero area; fewer than 3 are too few", () => {
    expect(polygonProblem([[0, 0], [1, 1], [2, 2]], plan)).toContain("zero area");
    expect(polygonProblem([[0, 0], [1, 1]], plan)).toContain("at least 3");
  });
  it("a zone entirely off the plan is refused; one overlapping it is fine", () => {
    expect(polygonProblem([[40, 1], [44, 1], [44, 5], [40, 5]], plan)).toContain("outside the floor plan");
    expect(polygonProblem([[28, 18], [33, 18], [33, 23], [28, 23]], plan)).toBeNull();
    expect(areaInsidePlan([[28, 18], [32, 18], [32, 22], [28, 22]], plan)).toBeCloseTo(4);
    expect(areaInsidePlan([[30, 0], [34, 0], [34, 4], [30, 4]], plan)).toBe(0);
    expect(polygonProblem(square, null)).toBeNull();
  });
});

describe("walking-direction arrows", () => {
  it("one arrow per block along the person-seconds-weighted mean velocity", () => {
    // Block (0, 0): two cells walking right at 1 m/s; block (1, 0): people standing (no arrow).
    const cells = [
      [0, 0, 10, 10, 0],
      [1, 1, 10, 10, 0],
      [4, 0, 20, 0.2, 0],
    ];
    const arrows = cellArrows(cells, 0.5, [0, 0]);
    expect(arrows).toHaveLength(1);
    expect(arrows[0].speed_mps).toBeCloseTo(1);
    expect(arrows[0].dy).toBeCloseTo(0);
    expect(arrows[0].dx).toBeGreaterThan(0);
    expect(arrows[0].x + arrows[0].dx / 2).toBeCloseTo(1); // centred on the 2 m block
  });
  it("rare blocks get no arrow", () => {
    const arrows = cellArrows([[0, 0, 1000, 1000, 0], [8, 8, 1, 1, 0]], 0.5);
    expect(arrows).toHaveLength(1);
  });
});

describe("counting lines", () => {
  it("length, the point at a fraction and the in direction (left of first → last, as the server counts)", () => {
    const line: [number, number][] = [[0, 0], [3, 0], [3, 4]];
    expect(polylineLength(line)).toBe(7);
    expect(polylinePointAt(line, 0.5)).toEqual({ point: [3, 0.5], direction: [0, 1] });
    expect(polylinePointAt(line, 0).point).toEqual([0, 0]);
    expect(polylinePointAt(line, 1).point).toEqual([3, 4]);
    expect(lineInDirection([[0, 0], [2, 0]])).toEqual([-0, 1]);
    expect(lineInDirection([[0, 0], [0, 0]])).toBeNull();
  });
  it.each([
    [[1, 0], "→"],
    [[0, 1], "↓"],
    [[-1, 0], "←"],
    [[0, -1], "↑"],
    [[1, 1], "↘"],
  ] as [[number, number], string][])("arrow of %j is %s (y down, as drawn)", (direction, arrow) => {
    expect(directionArrow(direction)).toBe(arrow);
  });
});
