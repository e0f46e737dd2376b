import { onBeforeUnmount, onMounted, watch, type WatchSource } from "vue";

/** Run `task` now, every `periodMs` while the component is mounted, and when `trigger` changes. A periodic run
 * is skipped while one is in flight; a change of `trigger` (e.g. a switch the user flipped) during a run runs the
 * task again once it ends, so that what is shown always follows the newest setting. Returns a function that runs
 * it at once. */
export function usePolling(task: () => Promise<unknown>, periodMs: number, trigger?: WatchSource): () => void {
  let timer: number | undefined;
  let busy = false;
  let again = false;
  const run = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      do {
        again = false;
        try {
          await task();
        } catch (err) {
          console.warn("poll failed", err);
        }
      } while (again);
    } finally {
      busy = false;
    }
  };
  const rerun = (): void => {
    if (busy) again = true;
    else void run();
  };
  onMounted(() => {
    void run();
    timer = window.setInterval(() => void run(), periodMs);
  });
  onBeforeUnmount(() => window.clearInterval(timer));
  if (trigger !== undefined) watch(trigger, rerun);
  return rerun;
}
