import { localMidnight, offsetMs, wallClock } from "./siteTime";

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
/** A datetime-local input's value ("YYYY-MM-DDTHH:MM") for `date` on the site's clock (`timeZone`: the clock its
 * labels, Today and the heat map's range are shown on), on the browser's when no zone is given. */
export function toLocalInput(date: Date, timeZone?: string): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  if (timeZone) {
    const w = wallClock(date.getTime(), timeZone);
    return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
  }
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(
    date.getMinutes(),
  )}`;
}

/** The instant a datetime-local input's value means on the site's clock (`timeZone`; the browser's when none is
 * given): a staff member in Berlin typing 09:00 for a New York store means 09:00 in New York. */
export function fromLocalInput(value: string, timeZone?: string): Date | null {
  if (!value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  const parts = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!timeZone || !parts) return date;
  const [year, month, day, hour, minute] = parts.slice(1).map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  // The offset at that time may differ from the offset at `wall` read as UTC (near a clock change): two steps.
  let guess = wall - offsetMs(wall, timeZone);
  guess = wall - offsetMs(guess, timeZone);
  return new Date(guess);
}

export function rangeQuery(range: TimeRange): string {
  return `start=${encodeURIComponent(range.start.toISOString())}&end=${encodeURIComponent(range.end.toISOString())}`;
}
