import { describe, expect, it, vi } from "vitest";
import { nextTick, ref } from "vue";
import { usePolling } from "./usePolling";

/** A task whose runs end when the test says so. */
function gatedTask() {
  const calls: string[] = [];
  const gates: (() => void)[] = [];
  const setting = ref("staff off");
  const task = () => {
    calls.push(setting.value);
    return new Promise<void>((resolve) => gates.push(resolve));
  };
  return { calls, gates, setting, task };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe("usePolling", () => {
  it("runs again with the newest setting when it changed during a run (the change is not lost)", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {}); // onMounted outside a component
    const { calls, gates, setting, task } = gatedTask();
    const runNow = usePolling(task, 60_000, () => setting.value);
    runNow();
    expect(calls).toEqual(["staff off"]);
    setting.value = "staff on"; // flipped while the first run is in flight
    await nextTick();
    expect(calls).toEqual(["staff off"]);
    gates[0]();
    await settle();
    expect(calls).toEqual(["staff off", "staff on"]);
    gates[1]();
    await settle();
    expect(calls).toEqual(["staff off", "staff on"]); // once, not forever
  });
});
