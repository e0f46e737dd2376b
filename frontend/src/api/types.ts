// Shapes of the REST API and WebSocket events (server/*/apis.py, server/realtime/events.py).

export type Role = "admin" | "installer" | "staff";

export interface Me {
  id?: number;
  username: string;
  roles: Role[];
  permissions: string[];
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
  source_uri?: string;
  enabled?: boolean;
  homography?: number[][] | null;
  calibration_points: CalibrationPoint[];
  reprojection_error_cm?: number | null;
  snapshot?: string | null;
  snapshot_url?: string | null;
  last_frame_at?: string | null;
}

export interface EdgeDevice {
  id: number;
  site: number;
  name: string;
  status?: string;
  health?: Record<string, unknown> | null;
  last_seen_at?: string | null;
  last_seen?: string | null;
  enrollment_token?: string;
  revoked?: boolean;
  revoked_at?: string | null;
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
}

export interface Employee {
  id: number;
  name?: string;
  first_name?: string;
  last_name?: string;
  badge_id?: string;
  employee_code?: string;
  security_level: number | null;
  active?: boolean;
  site?: number | null;
}

export interface ZonePermission {
  id: number;
  employee: number;
  zone: number;
  valid_from?: string | null;
  valid_until?: string | null;
}

export interface IdentityBinding {
  id: number;
  employee: number;
  person_id?: string;
  global_id?: string;
  source?: string;
  created_at?: string;
}

export type AlertState = "open" | "acknowledged" | "resolved";

export interface Alert {
  id: number;
  site: number;
  zone: number | null;
  zone_name?: string;
  kind: string;
  state: AlertState;
  person_id?: string;
  person?: string;
  employee?: number | null;
  employee_name?: string;
  message?: string;
  started_at?: string;
  created_at?: string;
  acknowledged_at?: string | null;
  acknowledged_by?: string | number | null;
  resolved_at?: string | null;
  x_m?: number;
  y_m?: number;
}

export interface Siren {
  on: boolean;
}

export interface User {
  id: number;
  username: string;
  email?: string;
  roles: Role[];
  is_active?: boolean;
  password?: string;
}

// Analytics (GET /api/sites/<id>/analytics/<name>?start=&end=)
export interface HeatmapData {
  cell_m: number;
  width_m: number;
  height_m: number;
  cells: [number, number, number][];
  zones: { zone_id: number; interest: number }[];
}

export interface FlowData {
  transitions: { from_zone: number; to_zone: number; count: number }[];
}

export interface DistancingData {
  violations: { persons: [string, string]; start: string; end: string; min_distance_m: number }[];
  contacts_per_person: { person: string; contacts: number }[];
  over_time: { t: string; count: number }[];
}

export interface OccupancyData {
  site: number;
  zones: { zone_id: number; count: number }[];
}

// WebSocket events
export interface LivePerson {
  id: string;
  x_m: number;
  y_m: number;
  camera_id?: number;
  name?: string;
  employee_id?: number;
}

export type Contact = [string, string, number];

export interface LivePositionsEvent {
  type: "live.positions";
  site_id: number;
  time_us: number;
  persons: LivePerson[];
  counters?: Record<string, unknown>;
  contacts?: Contact[];
}

export type ServerEvent =
  | { type: "hello"; site_id?: number; user?: string }
  | { type: "pong"; t?: number }
  | LivePositionsEvent
  | { type: "alert.changed"; site_id?: number; alert: Alert }
  | { type: "siren.changed"; site_id?: number; on: boolean }
  | { type: "health.changed"; site_id?: number; device_id: number; health: Record<string, unknown> }
  | { type: "counters.changed"; site_id?: number; counters: Record<string, unknown> };
