import { describe, expect, it } from "vitest";
import { applyHomography, nearestEdge, pointInPolygon, polygonArea, polygonCentroid } from "./geometry";

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
