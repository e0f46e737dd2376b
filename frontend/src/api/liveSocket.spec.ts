import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ServerEvent } from "@/api/events.generated";
import { type ConnectionStatus, liveSocketUrl, nextBackoff, openLiveSocket } from "./liveSocket";

/** A WebSocket stand-in: the test plays the server's part. */
class FakeSocket {
  readyState = 0;
  sent: unknown[] = [];
  closedWith: number | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: ((c: { code: number }) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.serverCloses(code);
  }
  serverOpens(): void {
    this.readyState = 1;
    this.onopen?.();
  }
  serverSends(event: ServerEvent | string): void {
    this.onmessage?.({ data: typeof event === "string" ? event : JSON.stringify(event) });
  }
  serverCloses(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

function harness() {
  const sockets: FakeSocket[] = [];
  const statuses: [ConnectionStatus, number][] = [];
  const events: ServerEvent[] = [];
  const handle = openLiveSocket({
    url: "ws://h/ws/sites/1/",
    onEvent: (e) => events.push(e),
    onStatus: (s, n) => statuses.push([s, n]),
    createSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket as unknown as WebSocket;
    },
    pingIntervalMs: 1000,
    silenceTimeoutMs: 2500,
    firstBackoffMs: 100,
    maxBackoffMs: 400,
  });
  return { sockets, statuses, events, handle, last: () => sockets[sockets.length - 1] };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("openLiveSocket", () => {
  it("hands every parsed event on and skips a message that is not JSON", () => {
    const { last, events, statuses } = harness();
    last().serverOpens();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    last().serverSends("not json");
    last().serverSends({ type: "siren.changed", site_id: 1, on: true });
    expect(events).toEqual([{ type: "siren.changed", site_id: 1, on: true }]);
    expect(warn).toHaveBeenCalledOnce();
    expect(statuses).toEqual([
      ["connecting", 0],
      ["open", 0],
    ]);
  });

  it("reconnects with a doubling backoff that starts over once a socket opened", () => {
    const { sockets, last, statuses } = harness();
    last().serverCloses(1006);
    vi.advanceTimersByTime(99);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    last().serverCloses(1011);
    vi.advanceTimersByTime(199);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);
    last().serverOpens();
    last().serverCloses(1006);
    vi.advanceTimersByTime(100);
    expect(sockets).toHaveLength(4);
    expect(statuses.at(-1)).toEqual(["reconnecting", 3]);
  });

  it("stops reconnecting when the server refuses the login", () => {
    const { sockets, last, statuses } = harness();
    last().serverCloses(4403);
    vi.advanceTimersByTime(10_000);
    expect(sockets).toHaveLength(1);
    expect(statuses.at(-1)).toEqual(["unauthorized", 0]);
  });

  it("pings while open and closes a socket that went silent", () => {
    const { sockets, last } = harness();
    last().serverOpens();
    vi.advanceTimersByTime(1000);
    expect(last().sent).toEqual([{ type: "ping", t: expect.any(Number) }]);
    vi.advanceTimersByTime(2000); // 3 s without a message
    expect(sockets[0].closedWith).toBe(4000);
    vi.advanceTimersByTime(100);
    expect(sockets).toHaveLength(2);
  });

  it("closes for good on close()", () => {
    const { sockets, last, statuses, handle } = harness();
    last().serverOpens();
    handle.close();
    vi.advanceTimersByTime(10_000);
    expect(sockets).toHaveLength(1);
    expect(sockets[0].closedWith).toBe(1000);
    expect(statuses.at(-1)).toEqual(["idle", 0]);
  });
});

describe("helpers", () => {
  it("caps the backoff", () => {
    expect([100, 200, 400].map((ms) => nextBackoff(ms, 300))).toEqual([200, 300, 300]);
  });

  it("uses wss behind https", () => {
    expect(liveSocketUrl(3, { protocol: "https:", host: "a:1" })).toBe("wss://a:1/ws/sites/3/");
    expect(liveSocketUrl(3, { protocol: "http:", host: "a" })).toBe("ws://a/ws/sites/3/");
  });
});
