// Which pages a user may open: one table, used by the router guard and the navigation.
import { can, canAny, hasRole, session } from "@/stores/session";

export interface PageAccess {
  name: string;
  title: string;
  allowed: () => boolean;
}

export const ADMIN_SECTIONS: PageAccess[] = [
  { name: "admin-sites", title: "Sites", allowed: () => canAny("inventory.add_site", "inventory.change_site") },
  { name: "admin-zones", title: "Zones", allowed: () => can("inventory.change_zone") },
  { name: "admin-floor-plan", title: "Floor plan", allowed: () => can("inventory.change_floorplan") },
  { name: "admin-cameras", title: "Cameras", allowed: () => can("inventory.change_camera") },
  { name: "admin-devices", title: "Edge devices", allowed: () => can("devices.change_edgedevice") },
  {
    name: "admin-people",
    title: "Employees & access",
    allowed: () => canAny("people.change_employee", "people.change_securitylevel", "people.change_zonepermission"),
  },
  { name: "admin-users", title: "Users", allowed: () => hasRole("admin") || can("auth.change_user") },
  { name: "admin-audit", title: "Audit log", allowed: () => can("audit.view_auditlog") },
  {
    name: "admin-notifications",
    title: "Notifications",
    allowed: () => can("notifications.view_notificationrule"),
  },
  { name: "admin-privacy", title: "Retention & privacy", allowed: () => can("retention.view_purgerun") },
];

export function canAdminister(): boolean {
  return ADMIN_SECTIONS.some((section) => section.allowed());
}

export function canSeeSecurity(): boolean {
  return can("alerts.view_alert");
}

/** The live map and its counters. */
export function canSeeLive(): boolean {
  return can("inventory.view_live");
}

/** Heat map, flow and distancing: the stored analytics (staff and admin; not installers). */
export function canSeeAnalytics(): boolean {
  return can("insights.view_heatmaphour");
}

/** The chain overview: analytics readers allowed on several sites (`sites` null: every site). */
export function canSeeChain(): boolean {
  const sites = session.me?.sites;
  return canSeeAnalytics() && (sites === null || sites === undefined || sites.length > 1);
}

/** The top navigation: only the pages the user's role may open (the router guard uses the same checks). */
export const MAIN_PAGES: (PageAccess & { path: string; testid: string })[] = [
  { name: "live", path: "/live", title: "Live", testid: "nav-live", allowed: canSeeLive },
  { name: "heatmap", path: "/heatmap", title: "Heat map", testid: "nav-heatmap", allowed: canSeeAnalytics },
  { name: "flow", path: "/flow", title: "Flow", testid: "nav-flow", allowed: canSeeAnalytics },
  { name: "distancing", path: "/distancing", title: "Distancing", testid: "nav-distancing", allowed: canSeeAnalytics },
  { name: "security", path: "/security", title: "Security", testid: "nav-security", allowed: canSeeSecurity },
  { name: "reports", path: "/reports", title: "Reports", testid: "nav-reports", allowed: canSeeAnalytics },
  { name: "chain", path: "/chain", title: "Chain", testid: "nav-chain", allowed: canSeeChain },
  { name: "admin", path: "/admin-ui", title: "Administration", testid: "nav-admin", allowed: canAdminister },
];

/** Where to send a user after login or for "/": the first page their role may open. */
export function homePath(): string {
  return MAIN_PAGES.find((page) => page.allowed())?.path ?? "/forbidden";
}
