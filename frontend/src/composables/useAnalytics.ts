import { ref, watch, type Ref } from "vue";
import { api, ApiError } from "@/api/client";
import { siteState } from "@/stores/site";
import { rangeQuery, type TimeRange } from "@/utils/timeRange";

export interface AnalyticsState<T> {
  data: Ref<T | null>;
  loading: Ref<boolean>;
  /** Why there is no data: "" when there is, else a sentence for the empty state. */
  problem: Ref<string>;
  reload: () => Promise<void>;
}

/** GET /api/sites/<site>/analytics/<name>?start&end for the selected site and range; refetches when they change. */
export function useAnalytics<T>(name: string, range: Ref<TimeRange>, extra: () => string = () => ""): AnalyticsState<T> {
  const data = ref<T | null>(null) as Ref<T | null>;
  const loading = ref(false);
  const problem = ref("");
  let generation = 0;

  async function reload(): Promise<void> {
    const siteId = siteState.siteId;
    if (siteId === null) return;
    const mine = ++generation;
    const more = extra();
    loading.value = true;
    try {
      const result = await api.get<T>(
        `/api/sites/${siteId}/analytics/${name}?${rangeQuery(range.value)}${more ? `&${more}` : ""}`,
      );
      if (mine !== generation) return;
      data.value = result;
      problem.value = "";
    } catch (err) {
      if (mine !== generation) return;
      data.value = null;
      if (err instanceof ApiError && err.status === 404) problem.value = "This analysis is not available on the server yet.";
      else if (err instanceof ApiError && err.status === 403) problem.value = "Your role may not see this analysis.";
      else problem.value = err instanceof Error ? err.message : String(err);
    } finally {
      if (mine === generation) loading.value = false;
    }
  }

  watch([range, () => siteState.siteId, extra], () => void reload(), { immediate: true });
  return { data, loading, problem, reload };
}
