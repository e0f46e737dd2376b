// Transport of the live feed: one WebSocket to ws/sites/<id>/, kept open. It pings while open, closes a socket that
// went silent, reconnects with exponential backoff and gives up only when the server refused the login (4401,
// 4403). What the events mean is the live store's business (stores/live.ts), not this module's.
import type { ClientMessage, ServerEvent } from "@/api/events.generated";

export type ConnectionStatus = "idle" | "connecting" | "open" | "reconnecting" | "unauthorized";

/** The close codes after which reconnecting cannot help (server.realtime.consumers). */
export const REFUSED_CODES: readonly number[] = [4401, 4403];

export interface LiveSocketOptions {
  url: string;
  onEvent: (event: ServerEvent) => void;
  /** Every status change, with the number of reconnects since `openLiveSocket`. */
  onStatus: (status: ConnectionStatus, reconnects: number) => void;
  createSocket?: (url: string) => WebSocket;
  pingIntervalMs?: number;
  silenceTimeoutMs?: number;
  firstBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface LiveSocket {
  /** Close for good (no reconnect); the status becomes "idle". */
  close(): void;
}

/** The wait before the reconnect after `backoffMs`: doubled, at most `maxMs`. */
export function nextBackoff(backoffMs: number, maxMs: number): number {
  return Math.min(backoffMs * 2, maxMs);
}

export function liveSocketUrl(siteId: number, where: { protocol: string; host: string } = location): string {
  const scheme = where.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${where.host}/ws/sites/${siteId}/`;
}

const OPEN = 1; // WebSocket.OPEN (not a global outside browsers)

export function openLiveSocket(options: LiveSocketOptions): LiveSocket {
  const {
    url,
    onEvent,
    onStatus,
    createSocket = (u: string) => new WebSocket(u),
    pingIntervalMs = 15_000,
    silenceTimeoutMs = 40_000,
    firstBackoffMs = 500,
    maxBackoffMs = 8_000,
  } = options;
  let socket: WebSocket | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let lastMessageAt = 0;
  let backoffMs = firstBackoffMs;
  let reconnects = 0;
  let wanted = true;

  function clearTimers(): void {
    if (retryTimer !== undefined) clearTimeout(retryTimer);
    if (pingTimer !== undefined) clearInterval(pingTimer);
    retryTimer = undefined;
    pingTimer = undefined;
  }

  function send(ws: WebSocket, message: ClientMessage): void {
    ws.send(JSON.stringify(message));
  }

  function open(): void {
    clearTimers();
    onStatus(reconnects > 0 ? "reconnecting" : "connecting", reconnects);
    const ws = createSocket(url);
    socket = ws;
    ws.onopen = () => {
      onStatus("open", reconnects);
      backoffMs = firstBackoffMs;
      lastMessageAt = Date.now();
      pingTimer = setInterval(() => {
        if (Date.now() - lastMessageAt > silenceTimeoutMs) {
          ws.close(4000, "silent");
          return;
        }
        if (ws.readyState === OPEN) send(ws, { type: "ping", t: Date.now() });
      }, pingIntervalMs);
    };
    ws.onmessage = (message: MessageEvent<string>) => {
      lastMessageAt = Date.now();
      try {
        onEvent(JSON.parse(message.data) as ServerEvent);
      } catch (err) {
        console.warn("bad live event", err);
      }
    };
    ws.onclose = (close: CloseEvent) => {
      if (socket !== ws) return;
      socket = null;
      clearTimers();
      if (REFUSED_CODES.includes(close.code)) {
        onStatus("unauthorized", reconnects);
        return;
      }
      if (!wanted) {
        onStatus("idle", reconnects);
        return;
      }
      reconnects += 1;
      onStatus("reconnecting", reconnects);
      retryTimer = setTimeout(open, backoffMs);
      backoffMs = nextBackoff(backoffMs, maxBackoffMs);
    };
  }

  open();
  return {
    close(): void {
      wanted = false;
      clearTimers();
      const ws = socket;
      socket = null;
      if (ws !== null) ws.close(1000, "bye");
      onStatus("idle", reconnects);
    },
  };
}
