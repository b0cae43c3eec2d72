// Dates as Indian users read them: DD/MM/YYYY and 24-hour times, on the clinic's clock:
// India Standard Time, whatever time zone the PC is set to (a PC left on UTC or a US zone
// must not show a 10:00 appointment at 04:30, or file it under another day). IST is
// UTC+05:30 all year (no daylight saving), the same fixed offset the server's `india_date`
// and the GST rules use. On the wire dates are ISO 8601 (`YYYY-MM-DD`, instants in UTC).

const pad2 = (n: number) => String(n).padStart(2, "0");

/** India Standard Time, in minutes east of UTC. */
export const CLINIC_UTC_OFFSET_MINUTES = 330;
const OFFSET_MS = CLINIC_UTC_OFFSET_MINUTES * 60_000;
const DAY_MS = 24 * 3600 * 1000;

/** The clinic's wall clock at an instant, as a Date whose UTC fields read it. */
function clinicClock(date: Date): Date {
  return new Date(date.getTime() + OFFSET_MS);
}

/** Whether this PC's own time zone is not the clinic's (at `now`): the status bar says so,
 * since other programs on the PC show other times. */
export function pcZoneDiffers(now: Date = new Date()): boolean {
  return -now.getTimezoneOffset() !== CLINIC_UTC_OFFSET_MINUTES;
}

/** An ISO date (`1990-04-07`) or an instant → `07/04/1990` (the clinic's date). Empty for null. */
export function formatDate(value: string | Date | null | undefined): string {
  if (value == null || value === "") return "";
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const [y, m, d] = value.split("-");
    return `${d}/${m}/${y}`;
  }
  const date = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) return "";
  const c = clinicClock(date);
  return `${pad2(c.getUTCDate())}/${pad2(c.getUTCMonth() + 1)}/${c.getUTCFullYear()}`;
}

/** An instant → `14:05` on the clinic's clock. */
export function formatTime(value: string | Date): string {
  const c = clinicClock(typeof value === "string" ? new Date(value) : value);
  return `${pad2(c.getUTCHours())}:${pad2(c.getUTCMinutes())}`;
}

/** An instant → `07/04/2025 14:05` on the clinic's clock. */
export function formatDateTime(value: string | Date | null | undefined): string {
  if (value == null || value === "") return "";
  const date = typeof value === "string" ? new Date(value) : value;
  return `${formatDate(date)} ${formatTime(date)}`;
}

/**
 * Parses `DD/MM/YYYY` (also `D/M/YYYY`, `DD-MM-YYYY`, `DD.MM.YYYY`) into an ISO date
 * (`YYYY-MM-DD`), or null when it is not a real calendar date.
 */
export function parseDate(input: string): string | null {
  const m = /^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$/.exec(input);
  if (!m) return null;
  const d = Number(m[1]);
  const mo = Number(m[2]);
  const y = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || y < 1900 || y > 2200) return null;
  const probe = new Date(Date.UTC(y, mo - 1, d));
  if (probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d) return null;
  return `${y}-${pad2(mo)}-${pad2(d)}`;
}

/** The clinic's calendar date of an instant as ISO (`YYYY-MM-DD`). */
export function isoDate(date: Date): string {
  const c = clinicClock(date);
  return `${c.getUTCFullYear()}-${pad2(c.getUTCMonth() + 1)}-${pad2(c.getUTCDate())}`;
}

/** The instant the given ISO date begins at the clinic (its midnight). */
export function startOfDay(iso: string): Date {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d) - OFFSET_MS);
}

/** The same clinic time `days` later (IST has no daylight saving: a day is 24 hours). */
export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY_MS);
}

/** `[from, to)` of a clinic day, as UTC ISO instants for the Rust side. */
export function dayRange(iso: string): { from: string; to: string } {
  const start = startOfDay(iso);
  return { from: start.toISOString(), to: addDays(start, 1).toISOString() };
}

/** The Monday-to-Sunday week containing the ISO date, as ISO dates. */
export function weekOf(iso: string): string[] {
  const start = startOfDay(iso);
  const mondayOffset = (clinicClock(start).getUTCDay() + 6) % 7;
  const monday = addDays(start, -mondayOffset);
  return Array.from({ length: 7 }, (_, i) => isoDate(addDays(monday, i)));
}

/** A clinic date + `HH:MM` on the clinic's clock → UTC ISO instant. */
export function localInstant(isoDay: string, hhmm: string): string {
  const [h, mi] = hhmm.split(":").map(Number);
  return new Date(startOfDay(isoDay).getTime() + (h * 60 + mi) * 60_000).toISOString();
}

/** Age in whole years on the clinic's date of `today` for an ISO date of birth. */
export function ageYears(dob: string, today: Date = new Date()): number {
  const [y, m, d] = dob.split("-").map(Number);
  const c = clinicClock(today);
  const month = c.getUTCMonth() + 1;
  let age = c.getUTCFullYear() - y;
  if (month < m || (month === m && c.getUTCDate() < d)) age -= 1;
  return age;
}
