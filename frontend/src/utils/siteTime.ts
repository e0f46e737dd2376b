// A site's local clock in the browser: the dashboard shows a store's hours and days in the store's time zone
// (`Site.timezone`, the zone the server cuts its hourly and daily buckets in: docs/kpis.md), not the browser's.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** The wall-clock reading of `ms` in `timeZone` (year, month 1-12, day, hour, minute, second). */
export function wallClock(ms: number, timeZone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour % 24, minute: parts.minute, second: parts.second };
}

/** The zone's offset from UTC at `ms`, in milliseconds (-5 h in New York in winter). */
export function offsetMs(ms: number, timeZone: string): number {
  const w = wallClock(ms, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

/** The start (epoch ms) of the zone's local hour holding `date`: the time less the minutes and seconds its clock
 * shows past the hour, as the server cuts hours (the repeated hour of the night the clocks go back is its own). */
export function localHourStart(date: Date, timeZone: string): number {
  const ms = date.getTime();
  const w = wallClock(ms, timeZone);
  return ms - (((ms % 1000) + 1000) % 1000) - (w.minute * 60 + w.second) * 1000;
}

/** The instant (epoch ms) of local midnight starting the zone's day that holds `date`: its first midnight where the
 * clocks go back over midnight (the Azores, Cuba: 01:00 becomes 00:00 again), the instant the clocks jumped to
 * where they skip it (Santiago: 00:00 becomes 01:00), as the server starts its daily buckets. */
export function localMidnight(date: Date, timeZone: string): number {
  const w = wallClock(date.getTime(), timeZone);
  const wall = Date.UTC(w.year, w.month - 1, w.day);
  // Midnight read with the offset in force a day before and a day after (no zone changes its clocks twice in
  // two days): the earlier reading the clock shows as midnight of that day, else (skipped) the one before.
  const before = wall - offsetMs(wall - 86_400_000, timeZone);
  const after = wall - offsetMs(wall + 86_400_000, timeZone);
  const isMidnight = (ms: number) => {
    const m = wallClock(ms, timeZone);
    return m.year === w.year && m.month === w.month && m.day === w.day && m.hour === 0 && m.minute === 0;
  };
  const readings = [before, after].filter(isMidnight);
  return readings.length ? Math.min(...readings) : before;
}
