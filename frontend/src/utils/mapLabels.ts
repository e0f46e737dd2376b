// Where the floor map writes the names of zones and counting lines, in canvas pixels: a zone's name at its
// centroid, a counting line's name beside the line (off it along its normal), moved clear of the zone names and
// of the line names placed before it. A line through the middle of a zone (a door across an entrance area) had
// its name drawn at its midpoint, right over the zone's name.
import type { XY } from "@/api/types";
import { polylinePointAt } from "@/utils/geometry";

/** A label's box: its top-left corner and size, canvas pixels. */
export interface LabelBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Advance of one character of the map's bold label font, as a fraction of the font size, where no canvas can
 * measure it (unit tests). Generous on purpose: the label is drawn in a box of this width and Konva clips what
 * does not fit. 0.55 em fell short of Arial's bold metrics ("Promotion" at 12 px is 60 px, estimated 59.4) and the
 * demo map showed "Stock roo", "Promotio", "Checkout queu".
 */
export const CHAR_WIDTH_EM = 0.7;
/** Space kept between a line and its label, and between two labels (pixels). */
const GAP_PX = 4;
/** Slack added to a measured width, for sub-pixel rounding between the measure and the drawing. */
const MEASURE_SLACK_PX = 2;

/** The font the map draws its labels in (Konva's default family, bold); the measure must use the same. */
export function labelFont(fontSize: number): string {
  return `bold ${fontSize}px Arial`;
}

/** Width of `text` in pixels as a canvas draws it, or null where there is no canvas (tests, server rendering). */
export type TextMeasure = (text: string, fontSize: number) => number | null;

let measureContext: CanvasRenderingContext2D | null | undefined;

/** Measures with an offscreen 2D canvas, the same text engine and font fallback Konva draws with. */
export const canvasMeasure: TextMeasure = (text, fontSize) => {
  if (measureContext === undefined) {
    measureContext = typeof document === "undefined" ? null : document.createElement("canvas").getContext("2d");
  }
  if (!measureContext) return null;
  measureContext.font = labelFont(fontSize);
  return measureContext.measureText(text).width;
};

export function textSize(
  text: string,
  fontSize: number,
  measure: TextMeasure = canvasMeasure,
): { width: number; height: number } {
  const measured = measure(text, fontSize);
  const width = measured === null ? Math.max(1, text.length) * fontSize * CHAR_WIDTH_EM : measured + MEASURE_SLACK_PX;
  return { width, height: fontSize };
}

/** The box of a label centred on (cx, cy). */
export function centredBox(
  cx: number,
  cy: number,
  text: string,
  fontSize: number,
  measure: TextMeasure = canvasMeasure,
): LabelBox {
  const { width, height } = textSize(text, fontSize, measure);
  return { x: cx - width / 2, y: cy - height / 2, width, height };
}

export function boxesOverlap(a: LabelBox, b: LabelBox, gap = 0): boolean {
  return (
    a.x < b.x + b.width + gap && b.x < a.x + a.width + gap && a.y < b.y + b.height + gap && b.y < a.y + a.height + gap
  );
}

/**
 * The box of a counting line's label: centred beside the line, off it along the line's normal by half the box's
 * extent that way plus a gap (so the text never sits on the line). Candidates, in order: both sides of the
 * line's midpoint, then of its points at 1/4 and 3/4, then twice as far off; the first clear of every box in
 * `avoid` (and inside `bounds` when given) wins; none clear: the first.
 */
export function lineLabelBox(
  points: XY[],
  text: string,
  fontSize: number,
  avoid: LabelBox[],
  bounds?: { width: number; height: number },
  measure: TextMeasure = canvasMeasure,
): LabelBox {
  const { width, height } = textSize(text, fontSize, measure);
  const candidates: LabelBox[] = [];
  for (const reach of [1, 2.5]) {
    for (const fraction of [0.5, 0.25, 0.75]) {
      const { point, direction } = polylinePointAt(points, fraction);
      const normal: XY = [-direction[1], direction[0]];
      // Half the box's extent along the normal, so that its nearest corner is GAP_PX off the line.
      const half = (Math.abs(normal[0]) * width + Math.abs(normal[1]) * height) / 2;
      const off = half * reach + GAP_PX;
      for (const side of [1, -1]) {
        const cx = point[0] + side * normal[0] * off;
        const cy = point[1] + side * normal[1] * off;
        candidates.push({ x: cx - width / 2, y: cy - height / 2, width, height });
      }
    }
  }
  const inside = (box: LabelBox): boolean =>
    bounds === undefined ||
    (box.x >= 0 && box.y >= 0 && box.x + box.width <= bounds.width && box.y + box.height <= bounds.height);
  return (
    candidates.find((box) => inside(box) && !avoid.some((other) => boxesOverlap(box, other, GAP_PX))) ??
    candidates.find(inside) ??
    candidates[0]
  );
}
