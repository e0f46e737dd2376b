import { beforeEach, describe, expect, it } from "vitest";
import type { AlertPayload } from "@/api/types";
import { contacts, handleEvent, live, onLiveEvent, persons, trails, upsertAlert } from "./live";

function pushed(id: number, extra: Partial<AlertPayload> = {}): AlertPayload {
  return {
    id,
    site: 1,
    zone: 2,
    kind: "warning",
    person_id: 5,
    employee: null,
    person_name: "",
    message: "m",
    x_m: 1,
    y_m: 1,
    distance_m: 0.5,
    camera_ids: [],
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

function feedOf(...payloads: AlertPayload[]) {
  live.alerts = [];
  for (const p of [...payloads].reverse()) upsertAlert(p);
}

describe("pushed alert events", () => {
  beforeEach(() => {
    feedOf(pushed(1), pushed(2), pushed(3, { state: "resolved" }));
    live.alertCounts = null;
  });

  it("take the badge count from the server, not from the feed", () => {
    const counts = { unacknowledged: 488, unacknowledged_alarms: 12, ongoing: 3, total: 600 };
    handleEvent({ type: "alert.changed", site_id: 1, alert: pushed(2, { kind: "alarm" }), change: "escalated", counts });
    expect(live.alertCounts).toEqual(counts);
    expect(live.alerts.filter((a) => a.id === 2).map((a) => a.kind)).toEqual(["alarm"]);
  });

  it("mark a bulk acknowledgement", () => {
    const counts = { unacknowledged: 0, unacknowledged_alarms: 0, ongoing: 0, total: 3 };
    handleEvent({
      type: "alerts.acknowledged",
      site_id: 1,
      ids: [1, 2, 3],
      acknowledged_at: "2026-12-01T10:01:00Z",
      acknowledged_by: 7,
      counts,
    });
    expect(live.alerts.map((a) => a.state)).toEqual(["acknowledged", "acknowledged", "resolved"]);
    expect(live.alerts[0].acknowledged_by).toBe(7);
    expect(live.alertCounts?.unacknowledged).toBe(0);
  });

  it("show an alert the server could not store, with an id that cannot be acknowledged", () => {
    const { id: _, state: __, raised_at: ___, ...unsaved } = pushed(0);
    handleEvent({ type: "alert.changed", site_id: 1, alert: unsaved, change: "opened" });
    expect(live.alerts[0].id).toBeLessThan(0);
    expect(live.alerts[0].state).toBe("open");
    expect(live.alerts).toHaveLength(4);
  });
});

describe("live positions", () => {
  beforeEach(() => {
    live.siteId = 4;
    persons.value = [];
  });

  it("replace persons, contacts and counters of the watched site only", () => {
    const frame = {
      type: "live.positions" as const,
      site_id: 4,
      time_us: 10,
      persons: [{ id: 1, x_m: 1, y_m: 2 }],
      contacts: [[1, 2, 0.8] as [number, number, number]],
      counters: { site_occupancy: 1, zone_occupancy: { "3": 1 } },
    };
    const frames = live.frames;
    handleEvent(frame);
    handleEvent({ ...frame, site_id: 5, persons: [] }); // another site's frame (a late one after a switch)
    expect(persons.value).toEqual(frame.persons);
    expect(contacts.value).toEqual(frame.contacts);
    expect(live.counters.site_occupancy).toBe(1);
    expect(live.frames).toBe(frames + 1);
    expect(live.lastTimeUs).toBe(10);
    handleEvent({ ...frame, time_us: 11, persons: [{ id: 1, x_m: 2, y_m: 2 }] });
    expect(trails.value).toEqual([{ id: "1", points: [1, 2, 2, 2] }]);
  });
});

describe("other events", () => {
  it("set the siren and a device's health, and reach the listeners", () => {
    const seen: string[] = [];
    const off = onLiveEvent((e) => seen.push(e.type));
    handleEvent({ type: "siren.changed", site_id: 1, on: true });
    handleEvent({ type: "health.changed", site_id: 1, device_id: 9, health: { cpu: 3 } });
    off();
    handleEvent({ type: "pong", t: 1 });
    expect(live.siren).toBe(true);
    expect(live.health[9]).toEqual({ cpu: 3 });
    expect(seen).toEqual(["siren.changed", "health.changed"]);
  });
});
