import { beforeEach, describe, expect, it } from "vitest";
import type { Alert } from "@/api/types";
import { handleEvent, live, mergeAlerts, newer } from "./live";

function alert(id: number, extra: Partial<Alert> = {}): Alert {
  return {
    id,
    site: 1,
    zone: 2,
    kind: "warning",
    person_id: 5,
    employee: null,
    message: "m",
    x_m: 1,
    y_m: 1,
    distance_m: 0.5,
    state: "open",
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
});

describe("pushed alert events", () => {
  beforeEach(() => {
    live.alerts = [alert(1), alert(2), alert(3, { state: "resolved" })];
    live.alertCounts = null;
  });

  it("take the badge count from the server, not from the feed", () => {
    const counts = { unacknowledged: 488, unacknowledged_alarms: 12, ongoing: 3, total: 600 };
    handleEvent({ type: "alert.changed", alert: alert(2, { kind: "alarm" }), change: "escalated", counts });
    expect(live.alertCounts).toEqual(counts);
    expect(live.alerts.filter((a) => a.id === 2).map((a) => a.kind)).toEqual(["alarm"]);
  });

  it("mark a bulk acknowledgement", () => {
    const counts = { unacknowledged: 0, unacknowledged_alarms: 0, ongoing: 0, total: 3 };
    handleEvent({
      type: "alerts.acknowledged",
      ids: [1, 2, 3],
      acknowledged_at: "2026-12-01T10:01:00Z",
      acknowledged_by: 7,
      counts,
    });
    expect(live.alerts.map((a) => a.state)).toEqual(["acknowledged", "acknowledged", "resolved"]);
    expect(live.alerts[0].acknowledged_by).toBe(7);
    expect(live.alertCounts?.unacknowledged).toBe(0);
  });
});
