// The front desk's keyboard shortcuts: one table, read by the key handler and by the hints
// shown beside the buttons, so what the screen says is what the keys do. Alt + a letter
// (Option on a Mac), matched on the physical key so that any keyboard layout, and a Mac's
// Option characters, give the same shortcut; "/" focuses the search (`useSlashFocus`) and Esc
// cancels a form or a dialog.

export type ShortcutId = "search" | "newPatient" | "queue" | "callNext" | "book" | "bill";

/** Each shortcut's key (`KeyboardEvent.code`) and the label shown for it. */
export const SHORTCUTS: Record<ShortcutId, { code: string; label: string }> = {
  search: { code: "KeyS", label: "Alt+S" },
  newPatient: { code: "KeyN", label: "Alt+N" },
  queue: { code: "KeyQ", label: "Alt+Q" },
  callNext: { code: "KeyC", label: "Alt+C" },
  book: { code: "KeyB", label: "Alt+B" },
  bill: { code: "KeyI", label: "Alt+I" },
};

/** The shortcut a key press asks for, if any: Alt and the letter, nothing else held. */
export function shortcutOf(e: Pick<KeyboardEvent, "code" | "altKey" | "ctrlKey" | "metaKey" | "shiftKey">): ShortcutId | null {
  if (!e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return null;
  for (const [id, s] of Object.entries(SHORTCUTS) as Array<[ShortcutId, { code: string }]>) {
    if (s.code === e.code) return id;
  }
  return null;
}

/** The first patient waiting for `doctor` (checked in earliest in the day's order), whom
 * "call next" sends in. */
export function nextWaiting<T extends { appointment: { status: string; doctor_id: string } }>(rows: T[], doctor: string | null): T | null {
  return rows.find((r) => r.appointment.status === "checked_in" && (!doctor || r.appointment.doctor_id === doctor)) ?? null;
}
