// Whether an edge box is online and each camera delivers frames, from the box's last heartbeat (live or stored).
// A revoked or silent box's last report no longer holds: its cameras are "revoked" / "offline", never "connected".
import type { Camera, EdgeDevice } from "@/api/types";

export const ONLINE_WITHIN_MS = 30_000; // three heartbeat intervals

export type CameraStatus = "connected" | "disconnected" | "no report" | "offline" | "revoked" | "no device";

export interface CameraHealth {
  camera_id: number;
  connected?: boolean;
  analysed_fps?: number;
  inference_ms?: number;
  dropped_frames_total?: number;
  last_error?: string;
  frame_width_px?: number;
  frame_height_px?: number;
}

/** When the box was last heard from (ms since the epoch, 0 = never): a live heartbeat or the server's record. */
export function lastSeenMs(device: EdgeDevice, liveAtMs: number | undefined): number {
  return Math.max(liveAtMs ?? 0, device.last_seen_at ? Date.parse(device.last_seen_at) : 0);
}

export function deviceOnline(device: EdgeDevice, liveAtMs: number | undefined, nowMs: number): boolean {
  return !device.revoked && nowMs - lastSeenMs(device, liveAtMs) < ONLINE_WITHIN_MS;
}

export function cameraHealth(health: Record<string, unknown> | null | undefined, cameraId: number): CameraHealth | undefined {
  return ((health?.cameras as CameraHealth[] | undefined) ?? []).find((c) => c.camera_id === cameraId);
}

export function cameraStatus(
  camera: Camera,
  device: EdgeDevice | undefined,
  health: Record<string, unknown> | null | undefined,
  liveAtMs: number | undefined,
  nowMs: number,
): CameraStatus {
  if (device === undefined) return "no device";
  if (device.revoked) return "revoked";
  if (!deviceOnline(device, liveAtMs, nowMs)) return "offline";
  const entry = cameraHealth(health, camera.id);
  if (entry === undefined) return "no report";
  return entry.connected ? "connected" : "disconnected";
}
