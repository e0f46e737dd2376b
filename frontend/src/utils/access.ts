// Which pages a user may open: one table, used by the router guard and the navigation.
import { can, canAny, hasRole } from "@/stores/session";

export interface PageAccess {
  name: string;
  title: string;
  allowed: () => boolean;
}

export const ADMIN_SECTIONS: PageAccess[] = [
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
];

export function canAdminister(): boolean {
  return ADMIN_SECTIONS.some((section) => section.allowed());
}

export function canSeeSecurity(): boolean {
  return can("alerts.view_alert");
}
