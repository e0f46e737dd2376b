// Shapes of the REST API (server/*/apis.py) and, generated, of the WebSocket events (server/realtime/events.py).
import type { PersonId } from "./events.generated";
import type * as schema from "./schema.generated";
import type { TimeBucket } from "@/utils/buckets";

// REST bodies: generated from the OpenAPI schema (`python -m server.api.typescript`), named for the dashboard.
export type Role = schema.RolesEnum;
/** GET /api/auth/me (the schema types `roles` as strings: they are RolesEnum values). */
export type Me = Omit<schema.Me, "roles"> & { roles: Role[] };
export type Site = schema.Site;
export type FloorPlan = schema.FloorPlan;
export type XY = [number, number];
export type CalibrationPoint = schema.CalibrationPoint;
export type Camera = schema.Camera;
/** A device as listed; `enrollment_token` only in the answer that created it (EdgeDeviceCreated). */
export type EdgeDevice = schema.EdgeDevice & { enrollment_token?: string };
export type EnrollmentToken = schema.EnrollmentToken;
export type ZoneKind = schema.ZoneKindEnum;
export type Zone = schema.Zone;
export type SecurityLevel = schema.SecurityLevel;
export type Employee = schema.Employee;
export type ZonePermission = schema.ZonePermission;
export type IdentityBinding = schema.IdentityBinding;
export type AlertState = schema.AlertStateEnum;
// An alert is an incident: one per person and restricted-zone approach or entry, updated while it lasts
// (warning -> alarm, latest position, cameras), closed (closed_at) when the person left. state = staff handling.
export type Alert = schema.Alert;
export type Siren = schema.Siren;
export type User = schema.User;
// Reports (server.reports): the chain overview, GET /api/reports/chain
export type ChainOverview = schema.ChainOverview;
export type ReportSchedule = schema.ReportSchedule;
export type ChainSite = schema.ChainSite;

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
  /** A deleted zone's history has a null id and the zone's recorded name. */
  transitions: {
    from_zone: number | null;
    from_zone_name?: string;
    to_zone: number | null;
    to_zone_name?: string;
    count: number;
  }[];
}

export interface DistancingData extends RangeEnvelope {
  /** The buckets of `over_time` (the `bucket` parameter): hours and days are the site's local ones. */
  bucket: TimeBucket;
  /** The site's time zone, which the hours and days of `over_time` are cut in (their starts carry its offset). */
  timezone?: string;
  violations: { persons: [PersonId, PersonId]; start: string; end: string | null; min_distance_m: number }[];
  total?: number;
  contacts_per_person: { person: PersonId; contacts: number }[];
  over_time: { t: string; count: number }[];
}

export interface VisitsData extends RangeEnvelope {
  /** hour or day: the site's local hours or days (`timezone`). */
  bucket: string;
  timezone?: string;
  series: { t: string; count: number }[];
  total: number;
  /** Persons first seen anywhere on the floor (= total). */
  detected_visitors: number;
  /** Entries through the entrance lines (the visits); null without one. */
  entries: { series: { t: string; count: number }[]; total: number } | null;
  /** Staff (bound to an employee) detected, counted apart. */
  staff: number;
}

export interface DoorLine {
  line_id: number | null;
  line_name: string;
  entrance: boolean;
  in: number;
  out: number;
  staff_in: number;
  staff_out: number;
}

export interface DoorsData extends RangeEnvelope {
  lines: DoorLine[];
  entries: number;
  exits: number;
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
