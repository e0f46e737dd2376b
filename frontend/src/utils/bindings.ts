// How an identity binding ended, for the admin's table: when, and whether staff unbound it (a wrong or withdrawn
// binding: what it marked as staff's is a visitor's again) or a newer binding of the person or employee took its
// place (the person stays staff). Still active: "—".
import { dateTime } from "@/utils/format";

export function bindingEnd(row: Record<string, unknown>): string {
  const at = row.unbound_at;
  if (typeof at !== "string" || at === "") return "—";
  return `${dateTime(at)} · ${row.revoked === true ? "unbound" : "superseded"}`;
}
