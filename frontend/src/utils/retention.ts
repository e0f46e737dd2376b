// The retention periods typed on the privacy page, turned into the body of PUT /api/retention: a number per
// class changed (or newly set here), null for a class set here whose box was emptied (back to the server's
// setting), nothing for the rest; a message instead when a box holds something other than whole days.

export interface RetentionRow {
  data_class: string;
  description: string;
  days: number;
  source: "dashboard" | "environment";
}

export type RetentionChanges = Record<string, number | null>;

export function retentionChanges(rows: RetentionRow[], typed: Record<string, string>): RetentionChanges | string {
  const changes: RetentionChanges = {};
  for (const row of rows) {
    const text = (typed[row.data_class] ?? "").trim();
    if (text === "") {
      if (row.source === "dashboard") changes[row.data_class] = null;
      continue;
    }
    if (!/^\d+$/.test(text)) return `${row.description}: a whole number of days (0 keeps it for ever)`;
    const days = Number(text);
    if (days !== row.days || row.source !== "dashboard") changes[row.data_class] = days;
  }
  return changes;
}
