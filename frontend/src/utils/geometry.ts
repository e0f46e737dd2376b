// Plane geometry on floor metres: polygons are [[x_m, y_m], ...].
import type { XY } from "@/api/types";

export function polygonArea(polygon: XY[]): number {
  let twice = 0;
  for (let i = 0; i < polygon.length; i++) {
    const [x1, y1] = polygon[i];
    const [x2, y2] = polygon[(i + 1) % polygon.length];
    twice += x1 * y2 - x2 * y1;
  }
  return twice / 2;
}

/** Area centroid; falls back to the vertex mean for degenerate polygons. */
export function polygonCentroid(polygon: XY[]): XY {
  const area = polygonArea(polygon);
  if (polygon.length === 0) return [0, 0];
  if (Math.abs(area) < 1e-9) {
    const sx = polygon.reduce((s, p) => s + p[0], 0);
    const sy = polygon.reduce((s, p) => s + p[1], 0);
    return [sx / polygon.length, sy / polygon.length];
  }
  let cx = 0;
  let cy = 0;
  for (let i = 0; i < polygon.length; i++) {
    const [x1, y1] = polygon[i];
    const [x2, y2] = polygon[(i + 1) % polygon.length];
    const cross = x1 * y2 - x2 * y1;
    cx += (x1 + x2) * cross;
    cy += (y1 + y2) * cross;
  }
  return [cx / (6 * area), cy / (6 * area)];
}

export function pointInPolygon(x: number, y: number, polygon: XY[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function distance(a: XY, b: XY): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

/** Index of the edge (i → i+1) whose segment lies closest to the point, and that distance. */
export function nearestEdge(polygon: XY[], p: XY): { index: number; distance: number } {
  let best = { index: 0, distance: Infinity };
  for (let i = 0; i < polygon.length; i++) {
    const a = polygon[i];
    const b = polygon[(i + 1) % polygon.length];
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    const len2 = dx * dx + dy * dy;
    const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2));
    const d = distance(p, [a[0] + t * dx, a[1] + t * dy]);
    if (d < best.distance) best = { index: i, distance: d };
  }
  return best;
}

/** Apply a 3×3 row-major homography to a point. */
export function applyHomography(h: number[][], x: number, y: number): XY {
  const w = h[2][0] * x + h[2][1] * y + h[2][2];
  return [(h[0][0] * x + h[0][1] * y + h[0][2]) / w, (h[1][0] * x + h[1][1] * y + h[1][2]) / w];
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The floor area a plan covers, in floor metres. */
export interface PlanExtent {
  origin_x_m: number;
  origin_y_m: number;
  width_m: number;
  height_m: number;
}

function orient(p: XY, q: XY, r: XY): number {
  return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
}

/** Whether segments ab and cd cross at a point inside both (touching ends do not count). */
export function segmentsCross(a: XY, b: XY, c: XY, d: XY): boolean {
  return orient(a, b, c) * orient(a, b, d) < 0 && orient(c, d, a) * orient(c, d, b) < 0;
}

/** The first pair of non-adjacent edges (i → i+1, j → j+1) that cross, or null for a simple polygon. */
export function crossingEdges(polygon: XY[]): [number, number] | null {
  const n = polygon.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 2; j < n; j++) {
      if ((j + 1) % n === i) continue;
      if (segmentsCross(polygon[i], polygon[(i + 1) % n], polygon[j], polygon[(j + 1) % n])) return [i, j];
    }
  }
  return null;
}

/** Area of a simple polygon inside the plan's rectangle (Sutherland–Hodgman clipping). */
export function areaInsidePlan(polygon: XY[], plan: PlanExtent): number {
  const x0 = plan.origin_x_m;
  const y0 = plan.origin_y_m;
  const bounds: [0 | 1, number, number][] = [
    [0, x0, 1],
    [0, x0 + plan.width_m, -1],
    [1, y0, 1],
    [1, y0 + plan.height_m, -1],
  ];
  let clipped: XY[] = polygon.map(([x, y]) => [x, y] as XY);
  for (const [axis, bound, sign] of bounds) {
    if (clipped.length === 0) return 0;
    const kept: XY[] = [];
    clipped.forEach((current, k) => {
      const previous = clipped[(k + clipped.length - 1) % clipped.length];
      const inNow = sign * (current[axis] - bound) >= 0;
      const inBefore = sign * (previous[axis] - bound) >= 0;
      if (inNow !== inBefore) {
        const t = (bound - previous[axis]) / (current[axis] - previous[axis]);
        kept.push([previous[0] + t * (current[0] - previous[0]), previous[1] + t * (current[1] - previous[1])]);
      }
      if (inNow) kept.push(current);
    });
    clipped = kept;
  }
  return clipped.length < 3 ? 0 : Math.abs(polygonArea(clipped));
}

/** Why the server would refuse this zone polygon (the same checks and words), or null when it is fine. */
export function polygonProblem(polygon: XY[], plan: PlanExtent | null): string | null {
  if (polygon.length < 3) return `polygon has ${polygon.length} vertices, at least 3 are needed`;
  const crossing = crossingEdges(polygon);
  if (crossing !== null) {
    return `polygon edges ${crossing[0]} and ${crossing[1]} cross: the polygon is self-intersecting (click the corners in order around the area)`;
  }
  if (Math.abs(polygonArea(polygon)) < 1e-6) return "polygon has zero area (its corners lie on one line or coincide)";
  if (plan !== null && areaInsidePlan(polygon, plan) < 1e-6) {
    return "the zone lies entirely outside the floor plan: draw it on the plan";
  }
  return null;
}

/** One arrow of the walking-direction field: from (x, y) in floor metres along (dx, dy) metres. */
export interface CellArrow {
  x: number;
  y: number;
  dx: number;
  dy: number;
  /** Mean walking speed there (m/s) and the person-seconds it averages. */
  speed_mps: number;
  person_s: number;
}

/**
 * The main walking direction per block of `block` × `block` heat-map cells: the person-seconds-weighted mean
 * velocity (the cells' summed displacement over their summed person-seconds). Blocks with too little presence
 * (under `minShare` of the busiest block) or where people mostly stand (under `minSpeed` m/s) get no arrow.
 * `cells` rows are [ix, iy, person_s, displacement_x_m, displacement_y_m] as the heat-map API returns them.
 */
export function cellArrows(
  cells: number[][],
  cell_m: number,
  origin: XY = [0, 0],
  block = 4,
  minShare = 0.05,
  minSpeed = 0.1,
): CellArrow[] {
  const blocks = new Map<string, { bx: number; by: number; p: number; dx: number; dy: number }>();
  for (const [ix, iy, person_s, dx = 0, dy = 0] of cells) {
    const bx = Math.floor(ix / block);
    const by = Math.floor(iy / block);
    const key = `${bx},${by}`;
    const entry = blocks.get(key) ?? { bx, by, p: 0, dx: 0, dy: 0 };
    entry.p += person_s;
    entry.dx += dx;
    entry.dy += dy;
    blocks.set(key, entry);
  }
  const busiest = Math.max(0, ...[...blocks.values()].map((b) => b.p));
  const size_m = block * cell_m;
  const arrows: CellArrow[] = [];
  for (const b of blocks.values()) {
    if (b.p <= 0 || b.p < minShare * busiest) continue;
    const vx = b.dx / b.p;
    const vy = b.dy / b.p;
    const speed = Math.hypot(vx, vy);
    if (speed < minSpeed) continue;
    const length = size_m * 0.8 * Math.min(1, 0.4 + speed / 1.5); // longer for faster walking, within the block
    arrows.push({
      x: origin[0] + (b.bx + 0.5) * size_m - ((vx / speed) * length) / 2,
      y: origin[1] + (b.by + 0.5) * size_m - ((vy / speed) * length) / 2,
      dx: (vx / speed) * length,
      dy: (vy / speed) * length,
      speed_mps: speed,
      person_s: b.p,
    });
  }
  return arrows.sort((a, b) => a.y - b.y || a.x - b.x);
}

/** Length of an open polyline (a counting line), in its units. */
export function polylineLength(points: XY[]): number {
  let total = 0;
  for (let i = 1; i < points.length; i++) total += distance(points[i - 1], points[i]);
  return total;
}

/** The point at `fraction` (0…1) of an open polyline's length, and the unit direction of the segment there. */
export function polylinePointAt(points: XY[], fraction: number): { point: XY; direction: XY } {
  if (points.length === 0) return { point: [0, 0], direction: [1, 0] };
  if (points.length === 1) return { point: points[0], direction: [1, 0] };
  let left = polylineLength(points) * Math.max(0, Math.min(1, fraction));
  for (let i = 1; i < points.length; i++) {
    const [a, b] = [points[i - 1], points[i]];
    const length = distance(a, b);
    if (length === 0) continue;
    const direction: XY = [(b[0] - a[0]) / length, (b[1] - a[1]) / length];
    if (left <= length || i === points.length - 1) {
      const t = Math.min(left, length);
      return { point: [a[0] + direction[0] * t, a[1] + direction[1] * t], direction };
    }
    left -= length;
  }
  return { point: points[0], direction: [1, 0] };
}

/** The "in" direction of a counting line: the unit vector (-dy, dx) to the left of its first-to-last direction
 * (dx, dy), as the server counts it (server/analytics/doors.py) and the zones editor draws its arrow. */
export function lineInDirection(points: XY[]): XY | null {
  if (points.length < 2) return null;
  const [x0, y0] = points[0];
  const [x1, y1] = points[points.length - 1];
  const length = Math.hypot(x1 - x0, y1 - y0);
  if (length === 0) return null;
  return [-(y1 - y0) / length, (x1 - x0) / length];
}

/** One of the eight arrows for a direction on the plan (y grows downwards, as drawn). */
export function directionArrow([dx, dy]: XY): string {
  const arrows = ["→", "↘", "↓", "↙", "←", "↖", "↑", "↗"];
  const octant = Math.round(Math.atan2(dy, dx) / (Math.PI / 4));
  return arrows[(octant + 8) % 8];
}
