// The live state of one site, fed by the WebSocket ws/sites/<id>/ (auto-reconnecting) or by the test hook.
import { reactive, shallowRef } from "vue";
import { api } from "@/api/client";
import type { Paginated } from "@/api/client";
import type {
  Alert,
  AlertCounts,
  AlertState,
  Contact,
  LiveCounters,
  LivePerson,
  LivePositionsEvent,
  ServerEvent,
} from "@/api/types";

export const TRAIL_SECONDS = 4;
const TRAIL_MAX_POINTS = 20;
const MAX_ALERTS = 200;
const PING_INTERVAL_MS = 15_000;
const SILENCE_TIMEOUT_MS = 40_000;

export type ConnectionStatus = "idle" | "connecting" | "open" | "reconnecting" | "unauthorized";

export interface Trail {
  id: string;
  points: number[]; // flat [x_m, y_m, ...], oldest first
}

interface TrailPoint {
  x_m: number;
  y_m: number;
  t_s: number;
}

interface LiveMeta {
  siteId: number | null;
  status: ConnectionStatus;
  reconnects: number;
  events: number;
  frames: number;
  lastFrameAt: number;
  lastTimeUs: number;
  counters: LiveCounters;
  siren: boolean;
  health: Record<number, Record<string, unknown>>;
  healthAt: Record<number, number>;
  alerts: Alert[];
  // Exact counts from the server (GET /api/alerts/counts, and with every pushed alert change); null until known.
  alertCounts: AlertCounts | null;
}

export const live = reactive<LiveMeta>({
  siteId: null,
  status: "idle",
  reconnects: 0,
  events: 0,
  frames: 0,
  lastFrameAt: 0,
  lastTimeUs: 0,
  counters: {},
  siren: false,
  health: {},
  healthAt: {},
  alerts: [],
  alertCounts: null,
});

// Per-frame data as shallow refs: replaced whole, so a frame costs one reactive update, not one per person.
export const persons = shallowRef<LivePerson[]>([]);
export const contacts = shallowRef<Contact[]>([]);
export const trails = shallowRef<Trail[]>([]);

const trailHistory = new Map<string, TrailPoint[]>();
let socket: WebSocket | null = null;
let retryTimer: number | undefined;
let pingTimer: number | undefined;
let lastMessageAt = 0;
let backoffMs = 500;
let wanted = false;

type Listener = (event: ServerEvent) => void;
const listeners = new Set<Listener>();

/** Extra handling of every event (pages subscribe while mounted). Returns the unsubscribe function. */
export function onLiveEvent(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function applyPositions(event: LivePositionsEvent): void {
  const now_s = performance.now() / 1000;
  const seen = new Set<string>();
  for (const person of event.persons) {
    const key = String(person.id);
    seen.add(key);
    let history = trailHistory.get(key);
    if (history === undefined) {
      history = [];
      trailHistory.set(key, history);
    }
    history.push({ x_m: person.x_m, y_m: person.y_m, t_s: now_s });
    while (history.length > TRAIL_MAX_POINTS || (history.length > 0 && now_s - history[0].t_s > TRAIL_SECONDS)) {
      history.shift();
    }
  }
  for (const id of trailHistory.keys()) if (!seen.has(id)) trailHistory.delete(id);
  const nextTrails: Trail[] = [];
  for (const [id, history] of trailHistory) {
    if (history.length < 2) continue;
    const points: number[] = [];
    for (const p of history) points.push(p.x_m, p.y_m);
    nextTrails.push({ id, points });
  }
  persons.value = event.persons;
  contacts.value = event.contacts ?? [];
  trails.value = nextTrails;
  if (event.counters) live.counters = event.counters;
  live.frames += 1;
  live.lastFrameAt = Date.now();
  live.lastTimeUs = event.time_us;
}

let unsavedAlerts = 0;

export function upsertAlert(incoming: Alert): void {
  // An alert the server could not store arrives without id: shown, but it cannot be acknowledged.
  const alert: Alert =
    incoming.id === undefined || incoming.id === null
      ? { ...incoming, id: -++unsavedAlerts, state: incoming.state ?? "open", raised_at: incoming.raised_at ?? new Date().toISOString() }
      : incoming;
  const index = live.alerts.findIndex((a) => a.id === alert.id);
  // An incident is one row updated in place: a later report replaces it where it is, unless it is older.
  if (index >= 0) live.alerts.splice(index, 1, newer(live.alerts[index], alert));
  else live.alerts.unshift(alert);
  if (live.alerts.length > MAX_ALERTS) live.alerts.length = MAX_ALERTS;
}

/** Many alerts acknowledged at once (bulk acknowledge): mark the ones in the feed. */
export function markAcknowledged(ids: number[], acknowledgedAt: string, acknowledgedBy: number | null): void {
  const chosen = new Set(ids);
  live.alerts = live.alerts.map((a) =>
    chosen.has(a.id) && a.state === "open"
      ? { ...a, state: "acknowledged", acknowledged_at: acknowledgedAt, acknowledged_by: acknowledgedBy }
      : a,
  );
}

export function handleEvent(event: ServerEvent): void {
  live.events += 1;
  switch (event.type) {
    case "live.positions":
      if (live.siteId === null || event.site_id === undefined || event.site_id === live.siteId) applyPositions(event);
      break;
    case "alert.changed":
      upsertAlert(event.alert);
      if (event.counts) live.alertCounts = event.counts;
      break;
    case "alerts.acknowledged":
      markAcknowledged(event.ids, event.acknowledged_at, event.acknowledged_by);
      live.alertCounts = event.counts;
      break;
    case "siren.changed":
      live.siren = event.on;
      break;
    case "health.changed":
      live.health = { ...live.health, [event.device_id]: event.health };
      live.healthAt = { ...live.healthAt, [event.device_id]: Date.now() };
      break;
    case "counters.changed":
      live.counters = event.counters as LiveCounters;
      break;
    default:
      break;
  }
  for (const listener of listeners) listener(event);
}

function socketUrl(siteId: number): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/sites/${siteId}/`;
}

function clearTimers(): void {
  if (retryTimer !== undefined) window.clearTimeout(retryTimer);
  if (pingTimer !== undefined) window.clearInterval(pingTimer);
  retryTimer = undefined;
  pingTimer = undefined;
}

function open(siteId: number): void {
  clearTimers();
  live.status = live.reconnects > 0 ? "reconnecting" : "connecting";
  const ws = new WebSocket(socketUrl(siteId));
  socket = ws;
  ws.onopen = () => {
    live.status = "open";
    backoffMs = 500;
    lastMessageAt = Date.now();
    pingTimer = window.setInterval(() => {
      if (Date.now() - lastMessageAt > SILENCE_TIMEOUT_MS) {
        ws.close(4000, "silent");
        return;
      }
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping", t: Date.now() }));
    }, PING_INTERVAL_MS);
  };
  ws.onmessage = (message: MessageEvent<string>) => {
    lastMessageAt = Date.now();
    try {
      handleEvent(JSON.parse(message.data) as ServerEvent);
    } catch (err) {
      console.warn("bad live event", err);
    }
  };
  ws.onclose = (close: CloseEvent) => {
    if (socket !== ws) return;
    socket = null;
    clearTimers();
    if (close.code === 4401 || close.code === 4403) {
      live.status = "unauthorized";
      return;
    }
    if (!wanted) {
      live.status = "idle";
      return;
    }
    live.status = "reconnecting";
    live.reconnects += 1;
    retryTimer = window.setTimeout(() => open(siteId), backoffMs);
    backoffMs = Math.min(backoffMs * 2, 8000);
  };
}

/** Connect to a site's live feed (idempotent); loads the siren state and recent alerts too. */
export function connectLive(siteId: number): void {
  if (live.siteId === siteId && socket !== null && wanted) return;
  disconnectLive();
  wanted = true;
  live.siteId = siteId;
  live.reconnects = 0;
  trailHistory.clear();
  persons.value = [];
  contacts.value = [];
  trails.value = [];
  live.alerts = [];
  live.alertCounts = null;
  open(siteId);
  void refreshAlerts();
  void refreshSiren();
}

export function disconnectLive(): void {
  wanted = false;
  clearTimers();
  const ws = socket;
  socket = null;
  if (ws !== null) ws.close(1000, "bye");
  live.status = "idle";
}

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

/** The alert list after a fetch: the fetched alerts, except where the socket has already brought a later version
 * of one (the answer may have left the server before an acknowledgement or an incident report was pushed), plus
 * the alerts pushed since (newest first, at most MAX_ALERTS). */
export function mergeAlerts(current: Alert[], fetched: Alert[]): Alert[] {
  const byId = new Map<number, Alert>(fetched.map((a) => [a.id, a]));
  for (const alert of current) {
    const other = byId.get(alert.id);
    byId.set(alert.id, other === undefined ? alert : newer(other, alert));
  }
  // Unsaved alerts (negative ids) first, as they arrived; then by id, newest first.
  const all = [...byId.values()];
  const unsaved = all.filter((a) => a.id < 0);
  const saved = all.filter((a) => a.id >= 0).sort((a, b) => b.id - a.id);
  return [...unsaved, ...saved].slice(0, MAX_ALERTS);
}

/** The newest MAX_ALERTS alerts of the site for the feed, and the site's exact counts for the badge. */
export async function refreshAlerts(): Promise<void> {
  const siteId = live.siteId;
  if (siteId === null) return;
  try {
    const [page, counts] = await Promise.all([
      api.get<Paginated<Alert>>(`/api/alerts/?site=${siteId}&ordering=-id&limit=${MAX_ALERTS}`),
      api.get<AlertCounts>(`/api/alerts/counts?site=${siteId}`),
    ]);
    if (live.siteId !== siteId) return;
    live.alerts = mergeAlerts(live.alerts, page.results);
    live.alertCounts = counts;
  } catch {
    // staff without alert rights, or the API not there yet: the feed stays as the socket fills it
  }
}

export async function refreshAlertCounts(): Promise<void> {
  const siteId = live.siteId;
  if (siteId === null) return;
  try {
    const counts = await api.get<AlertCounts>(`/api/alerts/counts?site=${siteId}`);
    if (live.siteId === siteId) live.alertCounts = counts;
  } catch {
    // not allowed or not there yet
  }
}

export async function refreshSiren(): Promise<void> {
  if (live.siteId === null) return;
  try {
    const state = await api.get<{ on: boolean }>(`/api/sites/${live.siteId}/siren`);
    live.siren = Boolean(state.on);
  } catch {
    // not allowed or not there yet
  }
}

/** Test and benchmark hook: feed a synthetic event as if it came from the socket. */
export function injectEvent(event: ServerEvent): void {
  handleEvent(event);
}

export function livePersonsSnapshot(): LivePerson[] {
  return persons.value.map((p) => ({ ...p }));
}
