import { describe, expect, it } from "vitest";
import type { Alert } from "@/api/types";
import { alertFromPayload, markAcknowledged, mergeAlerts, newer, upsertAlert } from "./alerts";

function alert(id: number, extra: Partial<Alert> = {}): Alert {
  return {
    id,
    site: 1,
    zone: 2,
    kind: "warning",
    person_id: 5,
    employee: null,
    person_name: "",
    identity_certain: true,
    message: "m",
    x_m: 1,
    y_m: 1,
    distance_m: 0.5,
    camera_ids: [],
    state: "open",
    ongoing: false,
    escalated_at: null,
    raised_at: "2026-12-01T10:00:00Z",
    updated_at: "2026-12-01T10:00:00Z",
    closed_at: null,
    acknowledged_at: null,
    acknowledged_by: null,
    resolved_at: null,
    resolved_by: null,
    ...extra,
  };
}

describe("newer", () => {
  it("takes the incident from the later report and the handling from the version further along", () => {
    const acknowledged = alert(1, { state: "acknowledged", acknowledged_by: 3, updated_at: "2026-12-01T10:00:01Z" });
    const escalated = alert(1, { kind: "alarm", x_m: 4, updated_at: "2026-12-01T10:00:05Z" });
    for (const merged of [newer(acknowledged, escalated), newer(escalated, acknowledged)]) {
      expect(merged.kind).toBe("alarm");
      expect(merged.x_m).toBe(4);
      expect(merged.state).toBe("acknowledged");
      expect(merged.acknowledged_by).toBe(3);
    }
  });

  it("never reopens a closed incident", () => {
    const closed = alert(1, { closed_at: "2026-12-01T10:00:09Z", updated_at: "2026-12-01T10:00:09Z" });
    const late = alert(1, { updated_at: "2026-12-01T10:00:10Z" });
    expect(newer(closed, late).closed_at).toBe("2026-12-01T10:00:09Z");
  });
});

describe("mergeAlerts", () => {
  it("keeps one row per incident, newest first", () => {
    const fetched = [alert(3), alert(2, { kind: "alarm", updated_at: "2026-12-01T10:00:02Z" })];
    const pushed = [alert(4), alert(2, { updated_at: "2026-12-01T10:00:01Z" })];
    const merged = mergeAlerts(pushed, fetched);
    expect(merged.map((a) => a.id)).toEqual([4, 3, 2]);
    expect(merged[2].kind).toBe("alarm");
  });

  it("puts unsaved alerts first and keeps at most the limit", () => {
    const merged = mergeAlerts([alert(-1)], [alert(1), alert(2), alert(3)], 3);
    expect(merged.map((a) => a.id)).toEqual([-1, 3, 2]);
  });
});

describe("upsertAlert", () => {
  it("updates an incident where it is and puts a new one first", () => {
    const feed = [alert(2), alert(1)];
    const updated = upsertAlert(feed, alert(1, { kind: "alarm", updated_at: "2026-12-01T10:00:05Z" }));
    expect(updated.map((a) => [a.id, a.kind])).toEqual([
      [2, "warning"],
      [1, "alarm"],
    ]);
    expect(upsertAlert(feed, alert(3)).map((a) => a.id)).toEqual([3, 2, 1]);
    expect(feed.map((a) => a.kind)).toEqual(["warning", "warning"]); // the old feed is left as it was
  });

  it("ignores an older report of an incident and drops the oldest beyond the limit", () => {
    const feed = [alert(1, { kind: "alarm", updated_at: "2026-12-01T10:00:05Z" })];
    expect(upsertAlert(feed, alert(1))[0].kind).toBe("alarm");
    expect(upsertAlert([alert(2), alert(1)], alert(3), 2).map((a) => a.id)).toEqual([3, 2]);
  });
});

describe("markAcknowledged", () => {
  it("marks only the open alerts of the given ids", () => {
    const feed = [alert(1), alert(2, { state: "resolved" }), alert(3)];
    const marked = markAcknowledged(feed, [1, 2], "2026-12-01T10:01:00Z", 7);
    expect(marked.map((a) => a.state)).toEqual(["acknowledged", "resolved", "open"]);
    expect(marked[0]).toMatchObject({ acknowledged_at: "2026-12-01T10:01:00Z", acknowledged_by: 7 });
  });
});

describe("alertFromPayload", () => {
  it("gives an unsaved alert a negative id, open, raised now", () => {
    const now = new Date("2026-12-01T10:02:00Z");
    const row = alertFromPayload(
      { kind: "alarm", message: "x", zone: 2, person_id: 5, person_name: "", x_m: 1, y_m: 2, camera_ids: [3] },
      -4,
      now,
    );
    expect(row).toMatchObject({ id: -4, state: "open", raised_at: now.toISOString(), camera_ids: [3] });
  });

  it("keeps a stored alert as it came", () => {
    const stored = alert(9, { state: "acknowledged" });
    expect(alertFromPayload(stored, -1)).toEqual(stored);
  });
});
