import { localMidnight } from "./siteTime";

export type RangePreset = "hour" | "today" | "day" | "custom";

export interface TimeRange {
  preset: RangePreset;
  start: Date;
  end: Date;
}

/** A preset range ending `now`; "today" starts at midnight of the site's day (`timeZone`: the store's today, not
 * the browser's, for a staff member elsewhere), of the browser's when no zone is given. */
export function presetRange(preset: Exclude<RangePreset, "custom">, now = new Date(), timeZone?: string): TimeRange {
  const end = new Date(now);
  if (preset === "hour") return { preset, start: new Date(now.getTime() - 3600_000), end };
  if (preset === "day") return { preset, start: new Date(now.getTime() - 24 * 3600_000), end };
  if (timeZone) return { preset, start: new Date(localMidnight(now, timeZone)), end };
  const start = new Date(now);
  start.setHours(0, 0, 0, 0);
  return { preset, start, end };
}

/** `<input type="datetime-local">` value of a date, in local time. */
export function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(
    date.getMinutes(),
  )}`;
}

export function fromLocalInput(value: string): Date | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function rangeQuery(range: TimeRange): string {
  return `start=${encodeURIComponent(range.start.toISOString())}&end=${encodeURIComponent(range.end.toISOString())}`;
}
