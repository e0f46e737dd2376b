export function ago(iso: string | null | undefined, now_ms = Date.now()): string {
  if (!iso) return "never";
  const seconds = Math.max(0, Math.round((now_ms - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function clock(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleTimeString();
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const lines = "fieldMessages" in err && typeof err.fieldMessages === "function" ? (err.fieldMessages() as string[]) : [];
    return [err.message, ...lines].join("\n");
  }
  return String(err);
}

/** A floor point in metres as "x, y" with 2 decimals (centimetres); a tiny negative shows as 0.00, not -0.00. */
export function floorPoint([x, y]: readonly [number, number]): string {
  const metres = (value: number): string => {
    const text = value.toFixed(2);
    return Number(text) === 0 ? "0.00" : text;
  };
  return `${metres(x)}, ${metres(y)}`;
}
