// What each role sees. The server and the database enforce this too (RLS); the UI only
// avoids showing screens a role cannot use. Front desk never sees clinical notes.

import type { AppointmentStatus, Role } from "./types";

export const canReadClinical = (role: Role) => role === "doctor" || role === "nurse";
export const canWriteNotes = (role: Role) => role === "doctor" || role === "nurse";
export const canPrescribe = (role: Role) => role === "doctor";
export const canAdmin = (role: Role) => role === "admin";
export const canBill = (role: Role) => role === "front_desk" || role === "admin";

export type Screen = "desk" | "doctor" | "admin" | "conflicts" | "unsent";

export function screensFor(role: Role): Screen[] {
  const screens: Screen[] = ["desk"];
  if (canReadClinical(role)) screens.unshift("doctor");
  if (canAdmin(role)) screens.push("admin");
  screens.push("conflicts");
  // Every role may have changes the server refused; each sees and settles its own.
  screens.push("unsent");
  return screens;
}

/** Mirror of `AppointmentStatus::can_move_to`: the queue only moves forward. */
export function canMoveTo(from: AppointmentStatus, to: AppointmentStatus): boolean {
  if (from === to) return true;
  const allowed: Record<AppointmentStatus, AppointmentStatus[]> = {
    booked: ["checked_in", "cancelled", "no_show"],
    checked_in: ["in_consultation", "cancelled", "no_show"],
    in_consultation: ["completed"],
    completed: [],
    cancelled: [],
    no_show: [],
  };
  return allowed[from].includes(to);
}

/** The next steps offered as buttons in the queue. */
export function nextSteps(from: AppointmentStatus): AppointmentStatus[] {
  return (["checked_in", "in_consultation", "completed", "no_show", "cancelled"] as AppointmentStatus[]).filter(
    (to) => to !== from && canMoveTo(from, to),
  );
}
