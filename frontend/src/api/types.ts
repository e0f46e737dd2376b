// Shapes of the REST API (server/*/apis.py) and, generated, of the WebSocket events (server/realtime/events.py).
import type { PersonId } from "./events.generated";

export type Role = "admin" | "installer" | "staff";

export interface Me {
  id: number;
  username: string;
  roles: Role[];
  permissions: string[];
  is_superuser: boolean;
}

export interface Site {
  id: number;
  name: string;
  timezone?: string;
}

export interface FloorPlan {
  id: number;
  site: number;
  image: string | null;
  width_m: number;
  height_m: number;
  metres_per_pixel: number;
  origin_x_m: number;
  origin_y_m: number;
  heatmap_cell_m?: number;
}

export type XY = [number, number];

export interface CalibrationPoint {
  image_px: XY;
  floor_m: XY;
}

export interface Camera {
  id: number;
  site: number;
  device: number | null;
  name: string;
  source_uri: string;
  /** A source login is stored (it is write-only: `source_username` / `source_password`). */
  source_has_credentials: boolean;
  analysis_rate_hz: number;
  enabled: boolean;
  homography: number[][] | null;
  calibration_points: CalibrationPoint[];
  reprojection_error_cm: number | null;
  floor_region: XY[];
  snapshot: string | null;
  /** When the camera captured the stored snapshot (edge box clock). */
  snapshot_captured_at: string | null;
  /** When someone last asked the edge box for a snapshot. */
  snapshot_requested_at: string | null;
  /** The request has not been sent down the box's stream yet (the box is not connected, or within 2 s). */
  snapshot_pending: boolean;
  last_frame_at: string | null;
}

export interface EdgeDevice {
  id: number;
  site: number;
  name: string;
  enrolled: boolean;
  enrolled_at: string | null;
  revoked: boolean;
  revoked_at: string | null;
  token_pending: boolean;
  enrollment_token_expires_at: string | null;
  hostname: string;
  software_version: string;
  last_seen_at: string | null;
  health: Record<string, unknown> | null;
  config_revision: number;
  cameras: number[];
  /** Not revoked, and a heartbeat within the last 30 s. */
  online: boolean;
  /** Cameras whose source delivers frames while the box is online (its last heartbeat says so). */
  connected_cameras: number[];
  created_at: string;
  enrollment_token?: string;
}

export interface EnrollmentToken {
  device_id: number;
  enrollment_token: string;
  enrollment_token_expires_at: string;
}

export type ZoneKind = "interest" | "restricted" | "entrance" | "queue";

export interface Zone {
  id: number;
  site: number;
  name: string;
  kind: ZoneKind;
  polygon: XY[];
  required_level: number;
  warning_distance_m: number;
  color?: string;
}

export interface SecurityLevel {
  id: number;
  name: string;
  rank: number;
  description: string;
}

export interface Employee {
  id: number;
  name: string;
  level: number | null;
  level_rank: number;
  badge_id: string;
  active: boolean;
  created_at: string;
}

export interface ZonePermission {
  id: number;
  employee: number;
  zone: number;
  note: string;
  granted_at: string;
}

export interface IdentityBinding {
  id: number;
  site: number;
  person_id: number;
  employee: number;
  employee_name: string;
  source: string;
  active: boolean;
  bound_at: string;
  unbound_at: string | null;
  distance_m: number | null;
}

export type AlertState = "open" | "acknowledged" | "resolved";

// An alert is an incident: one per person and restricted-zone approach or entry, updated while it lasts
// (warning -> alarm, latest position, cameras), closed (closed_at) when the person left. state = staff handling.
export interface Alert {
  id: number;
  site: number;
  zone: number | null;
  kind: "warning" | "alarm" | string;
  person_id: number | null;
  employee: number | null;
  person_name?: string;
  identity_certain?: boolean;
  message: string;
  x_m: number | null;
  y_m: number | null;
  distance_m: number | null;
  camera_ids?: number[];
  state: AlertState;
  ongoing?: boolean;
  raised_at: string;
  escalated_at?: string | null;
  updated_at?: string | null;
  closed_at?: string | null;
  acknowledged_at: string | null;
  acknowledged_by: number | null;
  resolved_at: string | null;
  resolved_by: number | null;
}

export interface Siren {
  on: boolean;
}

export interface User {
  id: number;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
  is_active: boolean;
  is_superuser: boolean;
  roles: Role[];
  last_login: string | null;
  date_joined: string;
}

// Analytics (GET /api/sites/<id>/analytics/<name>?start=&end=)
interface RangeEnvelope {
  start: string;
  end: string;
}

export interface ZoneInterest {
  zone_id: number;
  visits: number;
  dwell_s: number;
  mean_dwell_s: number;
  interest: number;
}

export interface HeatmapData extends RangeEnvelope {
  cell_m: number;
  columns: number;
  rows: number;
  /** [ix, iy, person_seconds, displacement_x_m?, displacement_y_m?] */
  cells: number[][];
  total_person_s: number;
  zones: ZoneInterest[];
}

export interface FlowData extends RangeEnvelope {
  transitions: { from_zone: number; to_zone: number; count: number }[];
}

export interface DistancingData extends RangeEnvelope {
  violations: { persons: [PersonId, PersonId]; start: string; end: string | null; min_distance_m: number }[];
  total?: number;
  contacts_per_person: { person: PersonId; contacts: number }[];
  over_time: { t: string; count: number }[];
}

export interface VisitsData extends RangeEnvelope {
  bucket: string;
  series: { t: string; count: number }[];
  total: number;
}

export interface OccupancyData {
  site: number;
  zones: { zone_id: number; count: number }[];
  time_us: number | null;
  live: boolean;
}

// WebSocket events: generated from server/realtime/events.py (`python -m server.realtime.typescript`).
// (AlertCounts is also the body of GET /api/alerts/counts?site=.)
export type {
  AlertChange,
  AlertChangedEvent,
  AlertCounts,
  AlertPayload,
  AlertsAcknowledgedEvent,
  ClientMessage,
  Contact,
  HealthChangedEvent,
  LiveCounters,
  LivePerson,
  LivePositionsEvent,
  PersonId,
  ServerEvent,
  SirenChangedEvent,
} from "./events.generated";
