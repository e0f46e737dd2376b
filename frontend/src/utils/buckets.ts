// Time buckets of a chart over a range: the REST API's `bucket` parameter (the distancing violations over time),
// chosen so that the range makes a readable number of bars, and the series with its empty buckets filled in.
import { localHourStart } from "./siteTime";
import type { TimeRange } from "./timeRange";

export type TimeBucket = "1m" | "5m" | "15m" | "hour" | "day";

export const BUCKET_MS: Record<TimeBucket, number> = {
  "1m": 60_000,
  "5m": 300_000,
  "15m": 900_000,
  hour: 3600_000,
  day: 86_400_000,
};

const HOUR_MS = 3600_000;

/** 1-minute bars up to 2 h (the last hour: 60), 5-minute ones up to 12 h (a few hours), hourly ones up to 3 days
 * (a day: 24), daily ones beyond (weeks). */
export function bucketFor(range: TimeRange): TimeBucket {
  const span = range.end.getTime() - range.start.getTime();
  if (span <= 2 * HOUR_MS) return "1m";
  if (span <= 12 * HOUR_MS) return "5m";
  if (span <= 72 * HOUR_MS) return "hour";
  return "day";
}

export interface BucketCount {
  t: string;
  count: number;
}

/** Every bucket of the range, in order, with its count (0 where `rows` has none), aligned as the server aligns
 * them: hours on the site's local hours (`timeZone`: a zone of half or three-quarter hours has them at :30 or :15
 * past the UTC hour), the shorter buckets on the epoch (the local quarter hour in every zone in use). Daily rows
 * (the site's local days, 23 or 25 hours long when the clocks change) are returned as they are. */
export function filledSeries(
  rows: BucketCount[],
  range: TimeRange,
  bucket: TimeBucket,
  timeZone = "UTC",
): { t: Date; count: number }[] {
  if (bucket === "day") return rows.map((r) => ({ t: new Date(r.t), count: r.count }));
  const size = BUCKET_MS[bucket];
  const first = bucket === "hour" ? localHourStart(range.start, timeZone) : Math.floor(range.start.getTime() / size) * size;
  const slots = Math.max(0, Math.ceil((range.end.getTime() - first) / size));
  const series = Array.from({ length: slots }, (_, i) => ({ t: new Date(first + i * size), count: 0 }));
  for (const row of rows) {
    const index = Math.floor((Date.parse(row.t) - first) / size);
    if (index >= 0 && index < slots) series[index].count += row.count;
  }
  return series;
}

/** The label of a bucket starting at `t`, on the site's clock (`timeZone`; a staff member in another zone sees
 * the store's hours and days): the date for daily buckets, the clock time otherwise (with the day when the range
 * spans more than one). */
export function bucketLabel(t: Date, bucket: TimeBucket, range: TimeRange, timeZone?: string): string {
  if (bucket === "day") return t.toLocaleDateString([], { timeZone });
  const clock = t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone });
  const days = range.end.getTime() - range.start.getTime() > 24 * HOUR_MS;
  return days ? `${t.toLocaleDateString([], { weekday: "short", timeZone })} ${clock}` : clock;
}
