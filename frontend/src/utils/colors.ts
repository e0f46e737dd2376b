import type { ZoneKind } from "@/api/types";

export const ZONE_COLORS: Record<ZoneKind, string> = {
  interest: "#2f7de1",
  restricted: "#d93025",
  entrance: "#1e9e5a",
  queue: "#e8890c",
  service: "#9c27b0",
  door: "#0b8043",
  line: "#5f6368",
};

/** Counting lines (kinds door and line) are polylines, not areas. */
export function isLineKind(kind: ZoneKind): boolean {
  return kind === "door" || kind === "line";
}

export function zoneColor(kind: ZoneKind, override?: string): string {
  return override && override.length > 0 ? override : ZONE_COLORS[kind] ?? "#777";
}

/** A stable colour per person id. */
export function personColor(id: string): string {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) | 0;
  return `hsl(${Math.abs(hash) % 360}, 70%, 42%)`;
}

/** Heat colour ramp for 0..1 as [r, g, b, a]. */
export function heatRgba(value: number): [number, number, number, number] {
  const v = Math.max(0, Math.min(1, value));
  const stops: [number, number, number][] = [
    [49, 54, 149],
    [69, 117, 180],
    [116, 173, 209],
    [254, 224, 144],
    [244, 109, 67],
    [215, 48, 39],
  ];
  const pos = v * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(pos));
  const f = pos - i;
  const [r1, g1, b1] = stops[i];
  const [r2, g2, b2] = stops[i + 1];
  return [r1 + (r2 - r1) * f, g1 + (g2 - g1) * f, b1 + (b2 - b1) * f, v === 0 ? 0 : 90 + 140 * v];
}
