import { onBeforeUnmount, onMounted, watch, type WatchSource } from "vue";

/** Run `task` now, every `periodMs` while the component is mounted, and when `trigger` changes (skipping while a
 * run is in flight). Returns a function that runs it at once. */
export function usePolling(task: () => Promise<unknown>, periodMs: number, trigger?: WatchSource): () => void {
  let timer: number | undefined;
  let busy = false;
  const run = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      await task();
    } catch (err) {
      console.warn("poll failed", err);
    } finally {
      busy = false;
    }
  };
  onMounted(() => {
    void run();
    timer = window.setInterval(() => void run(), periodMs);
  });
  onBeforeUnmount(() => window.clearInterval(timer));
  if (trigger !== undefined) watch(trigger, () => void run());
  return () => void run();
}
