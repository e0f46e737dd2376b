// The zone editor's polygon state machine, without the canvas: idle -> draw (click vertices) -> edit (drag, insert,
// remove vertices) -> idle. Drawing closes on a double-click, a click on the first vertex, Enter or finish(); a
// click on the last vertex adds no duplicate corner; a bow-tie or a polygon off the plan is refused with the reason.
// Points are floor metres; `scale` is the canvas's pixels per metre (the click tolerances are in pixels).
import { ref } from "vue";
import type { XY } from "@/api/types";
import { nearestEdge, type PlanExtent, polygonProblem, round } from "@/utils/geometry";

export type EditorMode = "idle" | "draw" | "edit";

/** How close (pixels) a click must be to a vertex to hit it. */
export const CLOSE_PX = 12;
/** How close (metres) a double-click must be to an edge to insert a vertex there. */
export const INSERT_MAX_M = 1.0;

/** `isLine`: the shape being drawn is a counting line (an open polyline of ≥ 2 points; the server checks it). */
export function usePolygonEditor(plan: () => PlanExtent | null, isLine: () => boolean = () => false) {
  const mode = ref<EditorMode>("idle");
  const selectedId = ref<number | null>(null);
  const vertices = ref<XY[]>([]);
  const hover = ref<XY | null>(null);
  const error = ref("");
  const notice = ref("");
  let lastScale = 1; // pixels per metre, as of the last click

  const near = (a: XY, b: XY, scale: number) => Math.hypot(a[0] - b[0], a[1] - b[1]) * scale < CLOSE_PX;

  function startDraw(): void {
    mode.value = "draw";
    selectedId.value = null;
    vertices.value = [];
    error.value = "";
    notice.value = "";
  }

  /** Edit an existing polygon (a stored zone's, `id`). */
  function edit(id: number | null, polygon: readonly XY[]): void {
    mode.value = "edit";
    selectedId.value = id;
    vertices.value = polygon.map(([x, y]) => [x, y] as XY);
    error.value = "";
    notice.value = "";
  }

  function cancel(): void {
    mode.value = "idle";
    selectedId.value = null;
    vertices.value = [];
    hover.value = null;
    error.value = "";
  }

  /** Close the drawn polygon; false (and the reason in `error`) when it is not a valid zone. */
  function finish(): boolean {
    if (isLine()) {
      if (vertices.value.length < 2) {
        error.value = "A counting line needs at least two points.";
        return false;
      }
      error.value = "";
      mode.value = "edit";
      hover.value = null;
      notice.value = "Line drawn: the arrow points in. Name it and save it.";
      return true;
    }
    if (vertices.value.length < 3) {
      error.value = "A zone needs at least three vertices.";
      return false;
    }
    const problem = polygonProblem(vertices.value, plan());
    if (problem !== null) {
      error.value = `${problem}. Undo vertices or start again.`;
      return false;
    }
    error.value = "";
    mode.value = "edit";
    hover.value = null;
    notice.value = "Polygon closed: name the zone and save it.";
    return true;
  }

  /** A click on the floor; `detail` is the browser's click count. True when drawing took the click (else the
   * caller may pick a zone under it). */
  function clickFloor(point: XY, detail: number, scale: number): boolean {
    lastScale = scale;
    if (mode.value !== "draw") return false;
    const p: XY = [round(point[0], 2), round(point[1], 2)];
    if (detail >= 2) {
      // The second click of a double-click: its first click placed the last corner; close, add nothing.
      finish();
      return true;
    }
    const first = vertices.value[0];
    if (first && !isLine() && vertices.value.length >= 3 && near(first, p, scale)) {
      finish();
      return true;
    }
    const last = vertices.value[vertices.value.length - 1];
    if (last && near(last, p, scale)) {
      // A click on the last corner again: a double-click whose second click came as a plain one (a slow hand, or a
      // busy browser) or a user finishing by clicking their last point. It closes what can close, adds nothing.
      if (vertices.value.length >= (isLine() ? 2 : 3)) finish();
      return true;
    }
    vertices.value = [...vertices.value, p];
    return true;
  }

  /** A double-click while editing inserts a vertex on the nearest edge (not on a corner, not far from an edge).
   * Drawing ignores it: it closes on the browser's double-click (`clickFloor` with detail 2), as Konva's own
   * dblclick fires for any two clicks within 400 ms wherever they are. */
  function dblClickFloor(point: XY): void {
    if (mode.value !== "edit" || vertices.value.length < 3 || isLine()) return;
    if (vertices.value.some((v) => near(v, point, lastScale))) return;
    const edge = nearestEdge(vertices.value, point);
    if (edge.distance > INSERT_MAX_M) return;
    const next = [...vertices.value];
    next.splice(edge.index + 1, 0, [round(point[0], 2), round(point[1], 2)]);
    vertices.value = next;
  }

  function moveVertex(index: number, point: XY): void {
    const next = [...vertices.value];
    next[index] = [round(point[0], 2), round(point[1], 2)];
    vertices.value = next;
  }

  /** A click on a vertex: the first one closes a drawing, and so does the last one (the second click of a
   * double-click lands on the handle its first click has just drawn, once the canvas has redrawn: it never reaches
   * the floor); alt-click removes one while editing (a polygon keeps three). True when the click was taken (it must
   * not reach the floor). */
  function clickVertex(index: number, altKey: boolean): boolean {
    if (mode.value === "draw" && index === 0 && !isLine() && vertices.value.length >= 3) {
      finish();
      return true;
    }
    if (mode.value === "draw" && index === vertices.value.length - 1) {
      if (vertices.value.length >= (isLine() ? 2 : 3)) finish();
      return true;
    }
    if (mode.value === "edit" && altKey && vertices.value.length > (isLine() ? 2 : 3)) {
      vertices.value = vertices.value.filter((_, i) => i !== index);
      return true;
    }
    return false;
  }

  function undo(): void {
    vertices.value = vertices.value.slice(0, -1);
  }

  /** Escape cancels; while drawing, Enter closes and Backspace undoes the last vertex. */
  function key(name: string): void {
    if (name === "Escape") cancel();
    else if (name === "Enter" && mode.value === "draw") finish();
    else if (name === "Backspace" && mode.value === "draw") undo();
  }

  /** What to draw, in canvas pixels: the outline (open while drawing, to the pointer) and the vertex handles. */
  function outline(scale: number): number[] {
    const pts = vertices.value.flatMap(([x, y]) => [x * scale, y * scale]);
    return mode.value === "draw" && hover.value ? [...pts, hover.value[0] * scale, hover.value[1] * scale] : pts;
  }

  return {
    mode,
    selectedId,
    vertices,
    hover,
    error,
    notice,
    startDraw,
    edit,
    cancel,
    finish,
    clickFloor,
    dblClickFloor,
    moveVertex,
    clickVertex,
    undo,
    key,
    outline,
  };
}
