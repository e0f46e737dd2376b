import { computed, type ComputedRef } from "vue";
import type { Zone } from "@/api/types";
import { live, persons } from "@/stores/live";
import { siteState } from "@/stores/site";
import { pointInPolygon } from "@/utils/geometry";

export interface ZoneCount {
  zone: Zone;
  count: number;
  names: string[];
}

/** People per zone now: the server's counters when it sends them, else computed from the live positions. */
export function useZoneOccupancy(): ComputedRef<ZoneCount[]> {
  return computed(() => {
    const fromServer = live.counters.zone_occupancy;
    return siteState.zones.map((zone) => {
      // With the server's analytics (it sends counters) each person's zones are those it counts them in (none
      // when absent); per-camera tracks without analytics are placed by geometry.
      const inside = persons.value.filter((p) =>
        fromServer
          ? (p.zone_ids ?? (p.zone_id !== undefined ? [p.zone_id] : [])).includes(zone.id)
          : pointInPolygon(p.x_m, p.y_m, zone.polygon),
      );
      const serverCount = fromServer ? fromServer[String(zone.id)] : undefined;
      return {
        zone,
        count: serverCount ?? inside.length,
        names: inside.map((p) => (p.name ? p.name : `#${p.id}`)),
      };
    });
  });
}
