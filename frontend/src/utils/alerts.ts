// The alert feed's merging rules: one row per incident, updated in place, never going back in time.
import type { Alert, AlertPayload, AlertState } from "@/api/types";

export const MAX_ALERTS = 200;

const STATE_RANK: Record<AlertState, number> = { open: 0, acknowledged: 1, resolved: 2 };

/** Of two versions of one alert, the later: its incident fields from the later report (a closed incident stays
 * closed), its handling from the version further along (open < acknowledged < resolved). */
export function newer(a: Alert, b: Alert): Alert {
  let report: Alert;
  if (a.closed_at && !b.closed_at) report = a;
  else if (b.closed_at && !a.closed_at) report = b;
  else report = (b.updated_at ?? "") >= (a.updated_at ?? "") ? b : a;
  const rank = (STATE_RANK[b.state] ?? 0) - (STATE_RANK[a.state] ?? 0);
  const handled = rank > 0 ? b : rank < 0 ? a : report;
  return {
    ...report,
    state: handled.state,
    acknowledged_at: handled.acknowledged_at,
    acknowledged_by: handled.acknowledged_by,
    resolved_at: handled.resolved_at,
    resolved_by: handled.resolved_by,
  };
}

/** A pushed alert as a feed row. One the server could not store comes without id: it gets `unsavedId` (negative,
 * so it can never be acknowledged through the API) and is open, raised now. */
export function alertFromPayload(payload: AlertPayload | Alert, unsavedId: number, now: Date = new Date()): Alert {
  return {
    site: 0,
    employee: null,
    identity_certain: false,
    distance_m: null,
    ongoing: true,
    escalated_at: null,
    updated_at: null,
    closed_at: null,
    acknowledged_at: null,
    acknowledged_by: null,
    resolved_at: null,
    resolved_by: null,
    ...payload,
    id: payload.id ?? unsavedId,
    state: payload.state ?? "open",
    raised_at: payload.raised_at ?? now.toISOString(),
  };
}

/** The feed with `alert` in it: in place of its earlier version (unless that is the later one), or first. */
export function upsertAlert(alerts: readonly Alert[], alert: Alert, max = MAX_ALERTS): Alert[] {
  const index = alerts.findIndex((a) => a.id === alert.id);
  const next = [...alerts];
  if (index >= 0) next.splice(index, 1, newer(alerts[index], alert));
  else next.unshift(alert);
  return next.length > max ? next.slice(0, max) : next;
}

/** The feed after many alerts were acknowledged at once (bulk acknowledge): the open ones of `ids` marked. */
export function markAcknowledged(
  alerts: readonly Alert[],
  ids: readonly number[],
  acknowledgedAt: string,
  acknowledgedBy: number | null,
): Alert[] {
  const chosen = new Set(ids);
  return alerts.map((a) =>
    chosen.has(a.id) && a.state === "open"
      ? { ...a, state: "acknowledged", acknowledged_at: acknowledgedAt, acknowledged_by: acknowledgedBy }
      : a,
  );
}

/** The alert list after a fetch: the fetched alerts, except where the socket has already brought a later version
 * of one (the answer may have left the server before an acknowledgement or an incident report was pushed), plus
 * the alerts pushed since (newest first, at most `max`). */
export function mergeAlerts(current: readonly Alert[], fetched: readonly Alert[], max = MAX_ALERTS): Alert[] {
  const byId = new Map<number, Alert>(fetched.map((a) => [a.id, a]));
  for (const alert of current) {
    const other = byId.get(alert.id);
    byId.set(alert.id, other === undefined ? alert : newer(other, alert));
  }
  // Unsaved alerts (negative ids) first, as they arrived; then by id, newest first.
  const all = [...byId.values()];
  const unsaved = all.filter((a) => a.id < 0);
  const saved = all.filter((a) => a.id >= 0).sort((a, b) => b.id - a.id);
  return [...unsaved, ...saved].slice(0, max);
}
