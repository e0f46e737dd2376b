// The selected site and its static description: floor plan, zones, cameras, devices.
import { reactive } from "vue";
import { api, listAll } from "@/api/client";
import type { Camera, EdgeDevice, FloorPlan, Site, Zone } from "@/api/types";

const STORAGE_KEY = "retail.siteId";

interface SiteState {
  sites: Site[];
  siteId: number | null;
  floorPlan: FloorPlan | null;
  zones: Zone[];
  cameras: Camera[];
  devices: EdgeDevice[];
  loading: boolean;
  error: string;
}

export const siteState = reactive<SiteState>({
  sites: [],
  siteId: null,
  floorPlan: null,
  zones: [],
  cameras: [],
  devices: [],
  loading: false,
  error: "",
});

/** The selected site's time zone (its local hours and days: the KPI buckets and their labels); undefined when
 * no site is selected (the browser's zone then). */
export function siteTimeZone(): string | undefined {
  return siteState.sites.find((s) => s.id === siteState.siteId)?.timezone || undefined;
}

/** A floor plan for display when the site has none yet (the demo's 30 m × 20 m). */
export function fallbackFloorPlan(siteId: number): FloorPlan {
  return {
    id: 0,
    site: siteId,
    image: null,
    width_m: 30,
    height_m: 20,
    metres_per_pixel: 0.05,
    origin_x_m: 0,
    origin_y_m: 0,
    heatmap_cell_m: 0.5,
  };
}

export async function loadSites(): Promise<void> {
  siteState.sites = await listAll<Site>("/api/sites/");
  const stored = Number(localStorage.getItem(STORAGE_KEY));
  const pick = siteState.sites.find((s) => s.id === stored) ?? siteState.sites[0];
  if (pick && pick.id !== siteState.siteId) await selectSite(pick.id);
}

export async function selectSite(siteId: number): Promise<void> {
  siteState.siteId = siteId;
  localStorage.setItem(STORAGE_KEY, String(siteId));
  await reloadSite();
}

export async function reloadSite(): Promise<void> {
  const siteId = siteState.siteId;
  if (siteId === null) return;
  siteState.loading = true;
  siteState.error = "";
  try {
    const [plans, zones] = await Promise.all([
      listAll<FloorPlan>("/api/floor-plans/", { site: siteId }),
      listAll<Zone>("/api/zones/", { site: siteId }),
    ]);
    siteState.floorPlan = plans.find((p) => p.site === siteId) ?? plans[0] ?? fallbackFloorPlan(siteId);
    siteState.zones = zones.filter((z) => z.site === siteId);
  } catch (err) {
    siteState.error = String(err instanceof Error ? err.message : err);
    siteState.floorPlan = siteState.floorPlan ?? fallbackFloorPlan(siteId);
  } finally {
    siteState.loading = false;
  }
  await Promise.all([reloadCameras().catch(() => undefined), reloadDevices().catch(() => undefined)]);
}

export async function reloadZones(): Promise<void> {
  if (siteState.siteId === null) return;
  const siteId = siteState.siteId;
  siteState.zones = (await listAll<Zone>("/api/zones/", { site: siteId })).filter((z) => z.site === siteId);
}

export async function reloadCameras(): Promise<void> {
  if (siteState.siteId === null) return;
  const siteId = siteState.siteId;
  siteState.cameras = (await listAll<Camera>("/api/cameras/", { site: siteId })).filter((c) => c.site === siteId);
}

export async function reloadDevices(): Promise<void> {
  if (siteState.siteId === null) return;
  const siteId = siteState.siteId;
  siteState.devices = (await listAll<EdgeDevice>("/api/devices/", { site: siteId })).filter(
    (d) => d.site === siteId,
  );
}

export async function reloadFloorPlan(): Promise<void> {
  if (siteState.siteId === null) return;
  const siteId = siteState.siteId;
  const plans = await listAll<FloorPlan>("/api/floor-plans/", { site: siteId });
  siteState.floorPlan = plans.find((p) => p.site === siteId) ?? fallbackFloorPlan(siteId);
}

export function zoneById(id: number | null | undefined): Zone | undefined {
  return siteState.zones.find((z) => z.id === id);
}

export { api };
