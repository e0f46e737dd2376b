// What the zone tables show per zone: an area's size, a counting line's length and "in" direction (a line has no
// area nor occupancy: its tables showed a meaningless "0" there).
import type { Zone } from "@/api/types";
import { isLineKind } from "@/utils/colors";
import { directionArrow, lineInDirection, polygonArea, polylineLength } from "@/utils/geometry";

export const NOT_APPLICABLE = "—";

/** "12.5 m²" for an area; "3.5 m, in ↓" for a counting line (the side people enter from, as drawn). */
export function zoneSize(zone: Pick<Zone, "kind" | "polygon">): string {
  if (isLineKind(zone.kind)) {
    const inward = lineInDirection(zone.polygon);
    const length = `${polylineLength(zone.polygon).toFixed(1)} m`;
    return inward === null ? length : `${length}, in ${directionArrow(inward)}`;
  }
  return `${Math.abs(polygonArea(zone.polygon)).toFixed(1)} m²`;
}

/** The level column: a restricted area's required level, nothing for others. */
export function zoneLevel(zone: Pick<Zone, "kind" | "required_level">): string {
  return zone.kind === "restricted" ? `level ≥ ${zone.required_level}` : "";
}

/** The live zones panel's count: people inside an area; a line's crossings today ("in 3 · out 1") when known. */
export function zoneLiveCount(
  zone: Pick<Zone, "id" | "kind">,
  occupancy: number,
  lines: { line_id: number | null; in: number; out: number }[] | null | undefined,
): string {
  if (!isLineKind(zone.kind)) return String(occupancy);
  const line = lines?.find((l) => l.line_id === zone.id);
  return line ? `in ${line.in} · out ${line.out}` : NOT_APPLICABLE;
}
