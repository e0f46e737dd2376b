// window.__retail: a read-mostly view of the dashboard's state for end-to-end tests and the benchmark.
import { toRaw } from "vue";
import type { ServerEvent } from "@/api/types";
import { contacts, injectEvent, live, livePersonsSnapshot } from "@/stores/live";
import { session } from "@/stores/session";
import { siteState } from "@/stores/site";

export interface RetailDebug {
  session: () => unknown;
  siteId: () => number | null;
  live: () => { status: string; frames: number; events: number; reconnects: number; siren: boolean };
  persons: () => ReturnType<typeof livePersonsSnapshot>;
  contacts: () => unknown;
  alerts: () => unknown;
  inject: (event: ServerEvent) => void;
  draws: number;
}

declare global {
  interface Window {
    __retail?: RetailDebug;
  }
}

export function installDebugHook(): void {
  window.__retail = {
    session: () => structuredClone(toRaw(session.me)),
    siteId: () => siteState.siteId,
    live: () => ({
      status: live.status,
      frames: live.frames,
      events: live.events,
      reconnects: live.reconnects,
      siren: live.siren,
    }),
    persons: livePersonsSnapshot,
    contacts: () => contacts.value.map((c) => [...c]),
    alerts: () => live.alerts.map((a) => ({ ...toRaw(a) })),
    inject: injectEvent,
    draws: 0,
  };
}
