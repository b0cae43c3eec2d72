// What each role sees, derived from the one permission table (`./rules`, generated from
// `shared/src/rules/permissions.rs`): never a hand-written list of roles. The server, the
// client core and the database enforce the same table; the UI only avoids showing screens
// and buttons a role cannot use. Front desk never sees clinical notes.

import { APPOINTMENT_TRANSITIONS, may } from "./rules";
import type { AppointmentStatus, Membership, Role, Uuid } from "./types";

/** Clinical notes (and with them the doctor's screen). */
export const canReadClinical = (role: Role) => may(role, "encounter", "read");
export const canWriteNotes = (role: Role) => may(role, "encounter", "create") && may(role, "encounter", "update");
export const canSignNotes = (role: Role) => may(role, "encounter", "sign");
export const canPrescribe = (role: Role) => may(role, "prescription", "create");
/** Invoices and payments: the Invoices tab and the patient card's Bill button. */
export const canBill = (role: Role) => may(role, "invoice", "create");
/** Merging two records of one person (it closes one of them, as a delete does). */
export const canMergePatients = (role: Role) => may(role, "patient", "delete");
export const canManageMembers = (role: Role) => may(role, "member", "update");
export const canReadAudit = (role: Role) => may(role, "audit_log", "read");
/** The admin screen: members and the audit trail. */
export const canAdmin = (role: Role) => canManageMembers(role) || canReadAudit(role);

/** How many branches of the open clinic's group this member administers: more than one opens
 * the group's views (the collections roll-up, the group's catalogue). */
export function administeredBranches(memberships: Membership[], groupId: Uuid): number {
  return memberships.filter((m) => m.role === "admin" && m.group_id === groupId).length;
}

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

/** `AppointmentStatus::can_move_to`, from the generated rules: the queue only moves forward. */
export function canMoveTo(from: AppointmentStatus, to: AppointmentStatus): boolean {
  return from === to || (APPOINTMENT_TRANSITIONS[from] ?? []).includes(to);
}

/** The next steps offered as buttons in the queue. */
export function nextSteps(from: AppointmentStatus): AppointmentStatus[] {
  return (["checked_in", "in_consultation", "completed", "no_show", "cancelled"] as AppointmentStatus[]).filter(
    (to) => to !== from && canMoveTo(from, to),
  );
}
