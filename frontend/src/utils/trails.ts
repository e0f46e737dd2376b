// The fading trail behind each live person: the positions of the last few seconds, kept across frames.
import type { LivePerson } from "@/api/types";

export const TRAIL_SECONDS = 4;
export const TRAIL_MAX_POINTS = 20;

export interface Trail {
  id: string;
  points: number[]; // flat [x_m, y_m, ...], oldest first
}

export interface TrailPoint {
  x_m: number;
  y_m: number;
  t_s: number;
}

/** Person id (as a string) -> their recent positions, oldest first. */
export type TrailHistory = Map<string, TrailPoint[]>;

export interface TrailLimits {
  seconds: number;
  maxPoints: number;
}

/** Add one frame's persons (seen at `nowS`) to `history` and return the trails to draw: every person of the frame
 * with at least two positions, each of at most `maxPoints` positions no older than `seconds`. A person not in the
 * frame loses their trail. `history` is changed in place (it is kept from frame to frame). */
export function advanceTrails(
  history: TrailHistory,
  persons: readonly LivePerson[],
  nowS: number,
  limits: TrailLimits = { seconds: TRAIL_SECONDS, maxPoints: TRAIL_MAX_POINTS },
): Trail[] {
  const seen = new Set<string>();
  for (const person of persons) {
    const key = String(person.id);
    seen.add(key);
    let points = history.get(key);
    if (points === undefined) {
      points = [];
      history.set(key, points);
    }
    points.push({ x_m: person.x_m, y_m: person.y_m, t_s: nowS });
    while (points.length > limits.maxPoints || (points.length > 0 && nowS - points[0].t_s > limits.seconds)) {
      points.shift();
    }
  }
  for (const id of history.keys()) if (!seen.has(id)) history.delete(id);
  const trails: Trail[] = [];
  for (const [id, points] of history) {
    if (points.length < 2) continue;
    const flat: number[] = [];
    for (const p of points) flat.push(p.x_m, p.y_m);
    trails.push({ id, points: flat });
  }
  return trails;
}
