import { describe, expect, it } from "vitest";
import { bindingEnd } from "@/utils/bindings";
import { dateTime } from "@/utils/format";

describe("bindingEnd", () => {
  it.each([
    [{ unbound_at: null, revoked: false }, "—"],
    [{}, "—"],
    [{ unbound_at: "2026-12-02T10:00:00Z", revoked: true }, `${dateTime("2026-12-02T10:00:00Z")} · unbound`],
    [{ unbound_at: "2026-12-02T10:00:00Z", revoked: false }, `${dateTime("2026-12-02T10:00:00Z")} · superseded`],
  ])("%j → %s", (row, expected) => {
    expect(bindingEnd(row)).toBe(expected);
  });
});
