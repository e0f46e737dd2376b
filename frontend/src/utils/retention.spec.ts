import { describe, expect, it } from "vitest";
import { retentionChanges, type RetentionRow } from "./retention";

const rows: RetentionRow[] = [
  { data_class: "positions", description: "positions", days: 30, source: "environment" },
  { data_class: "visits", description: "visits", days: 60, source: "dashboard" },
  { data_class: "audit", description: "audit log", days: 730, source: "environment" },
];

describe("retentionChanges", () => {
  it.each([
    ["nothing typed, nothing set here", { visits: "60" }, {}],
    ["a new period", { positions: "14", visits: "60" }, { positions: 14 }],
    ["the setting's own value typed: kept here all the same", { positions: "30", visits: "60" }, { positions: 30 }],
    ["a period set here changed", { visits: "90" }, { visits: 90 }],
    ["a period set here emptied: back to the setting", { visits: " " }, { visits: null }],
    ["0 keeps for ever", { audit: "0", visits: "60" }, { audit: 0 }],
  ])("%s", (_name, typed, expected) => {
    expect(retentionChanges(rows, typed)).toEqual(expected);
  });

  it.each(["-1", "1.5", "ten", "1e3"])("refuses %s, naming the data", (text) => {
    expect(retentionChanges(rows, { audit: text, visits: "60" })).toBe(
      "audit log: a whole number of days (0 keeps it for ever)",
    );
  });
});
