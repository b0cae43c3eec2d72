// The conflict inbox in words: what record, which field, and each side's value as people
// read it (a time in IST, an amount in rupees, a status by its name), never raw JSON.

import { formatDate, formatDateTime } from "./dates";
import { formatPaise } from "./money";
import { fieldLabel } from "./unsent";
import { en } from "../strings/en";
import type { Conflict, Uuid } from "./types";

/** The record a conflict is about ("appointment", "consultation note"). */
export function conflictThing(entity: string): string {
  return en.unsent.entities[entity] ?? entity.replace(/_/g, " ");
}

/** A field's label, or "—" when the conflict is about the whole record. */
export function conflictField(field: string | null | undefined): string {
  return field ? fieldLabel(field) : "—";
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/** One side's value of a field, in words. */
export function conflictValue(field: string | null | undefined, value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "number" && field?.endsWith("_paise")) return formatPaise(value);
  if (typeof value === "string") {
    if (field === "status") return (en.queue.status as Record<string, string>)[value] ?? value;
    if (TIMESTAMP.test(value)) return formatDateTime(value);
    return value;
  }
  if (typeof value === "boolean") return value ? en.common.yes : en.common.no;
  // A possible duplicate patient: the records named (the earlier ones on the server side,
  // the new registration on the other), each by number, name and date of birth.
  if (Array.isArray(value)) return value.map((v) => conflictValue(field, v)).join("; ") || "—";
  if (typeof value === "object" && "patient_number" in value && "name" in value) {
    const p = value as { patient_number: number; name: string; date_of_birth?: string | null; reason?: string };
    const who = en.patient.existing(p.patient_number, p.name, p.date_of_birth ? formatDate(p.date_of_birth) : null);
    return p.reason ? `${who} (${en.patient.duplicateReasons[p.reason] ?? p.reason})` : who;
  }
  if (typeof value === "object") {
    // A group of values (vitals): each named, the empty ones left out.
    return Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${fieldLabel(k)}: ${conflictValue(k, v)}`)
      .join(", ") || "—";
  }
  return String(value);
}

/** The bookings a double-booking conflict names: the one this device wrote (its id on the
 * device side) and those it overlaps (ids on the server side), each once. */
export function doubleBookingIds(c: Pick<Conflict, "local_value" | "server_value">): Uuid[] {
  const ids = [c.local_value, ...(Array.isArray(c.server_value) ? c.server_value : [c.server_value])]
    .filter((v): v is string => typeof v === "string" && /^[0-9a-f-]{36}$/i.test(v));
  return [...new Set(ids)];
}
