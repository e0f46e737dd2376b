// The live state of one site, fed by the live socket (api/liveSocket.ts) or by the test hook. The state changes
// of each event are here; trail maths and alert merging are pure utilities (utils/trails.ts, utils/alerts.ts).
import { reactive, shallowRef } from "vue";
import { api } from "@/api/client";
import type { Paginated } from "@/api/client";
import { type ConnectionStatus, type LiveSocket, liveSocketUrl, openLiveSocket } from "@/api/liveSocket";
import type {
  Alert,
  AlertCounts,
  AlertPayload,
  Contact,
  LiveCounters,
  LivePerson,
  LivePositionsEvent,
  ServerEvent,
} from "@/api/types";
import * as alerts from "@/utils/alerts";
import { type Trail, type TrailHistory, advanceTrails } from "@/utils/trails";

export type { ConnectionStatus } from "@/api/liveSocket";
export { TRAIL_SECONDS, type Trail } from "@/utils/trails";

interface LiveMeta {
  siteId: number | null;
  status: ConnectionStatus;
  reconnects: number;
  events: number;
  frames: number;
  lastFrameAt: number;
  lastTimeUs: number;
  /** The server's counters of the newest frame (none without site analytics). */
  counters: Partial<LiveCounters>;
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

const trailHistory: TrailHistory = new Map();
let socket: LiveSocket | null = null;

type Listener = (event: ServerEvent) => void;
const listeners = new Set<Listener>();

/** Extra handling of every event (pages subscribe while mounted). Returns the unsubscribe function. */
export function onLiveEvent(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function applyPositions(event: LivePositionsEvent): void {
  trails.value = advanceTrails(trailHistory, event.persons, performance.now() / 1000);
  persons.value = event.persons;
  contacts.value = event.contacts ?? [];
  if (event.counters) live.counters = event.counters;
  live.frames += 1;
  live.lastFrameAt = Date.now();
  live.lastTimeUs = event.time_us;
}

let unsavedAlerts = 0;

/** A pushed alert or one the API returned: into the feed, in place of its earlier version. */
export function upsertAlert(incoming: Alert | AlertPayload): void {
  const id = incoming.id ?? -++unsavedAlerts;
  live.alerts = alerts.upsertAlert(live.alerts, alerts.alertFromPayload(incoming, id));
}

/** Many alerts acknowledged at once (bulk acknowledge): mark the ones in the feed. */
export function markAcknowledged(ids: number[], acknowledgedAt: string, acknowledgedBy: number | null): void {
  live.alerts = alerts.markAcknowledged(live.alerts, ids, acknowledgedAt, acknowledgedBy);
}

export function handleEvent(event: ServerEvent): void {
  live.events += 1;
  switch (event.type) {
    case "live.positions":
      if (live.siteId === null || event.site_id === live.siteId) applyPositions(event);
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
    case "hello":
    case "pong":
      break;
    default: {
      const unknown: never = event; // every event of the contract is handled above
      void unknown;
    }
  }
  for (const listener of listeners) listener(event);
}

/** Connect to a site's live feed (idempotent); loads the siren state and recent alerts too. */
export function connectLive(siteId: number): void {
  if (live.siteId === siteId && socket !== null) return;
  disconnectLive();
  live.siteId = siteId;
  live.reconnects = 0;
  trailHistory.clear();
  persons.value = [];
  contacts.value = [];
  trails.value = [];
  live.alerts = [];
  live.alertCounts = null;
  socket = openLiveSocket({
    url: liveSocketUrl(siteId),
    onEvent: handleEvent,
    onStatus: (status, reconnects) => {
      live.status = status;
      live.reconnects = reconnects;
      if (status === "unauthorized") socket = null;
    },
  });
  void refreshAlerts();
  void refreshSiren();
}

export function disconnectLive(): void {
  const current = socket;
  socket = null;
  if (current !== null) current.close();
  live.status = "idle";
}

/** The newest alerts of the site for the feed, and the site's exact counts for the badge. */
export async function refreshAlerts(): Promise<void> {
  const siteId = live.siteId;
  if (siteId === null) return;
  try {
    const [page, counts] = await Promise.all([
      api.get<Paginated<Alert>>(`/api/alerts/?site=${siteId}&ordering=-id&limit=${alerts.MAX_ALERTS}`),
      api.get<AlertCounts>(`/api/alerts/counts?site=${siteId}`),
    ]);
    if (live.siteId !== siteId) return;
    live.alerts = alerts.mergeAlerts(live.alerts, page.results);
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
