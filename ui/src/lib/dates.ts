// Dates as Indian users read them: DD/MM/YYYY and 24-hour times, in the clinic PC's local
// time zone. On the wire dates are ISO 8601 (`YYYY-MM-DD`, instants in UTC).

const pad2 = (n: number) => String(n).padStart(2, "0");

/** An ISO date (`1990-04-07`) or a Date → `07/04/1990`. Empty for null. */
export function formatDate(value: string | Date | null | undefined): string {
  if (value == null || value === "") return "";
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const [y, m, d] = value.split("-");
    return `${d}/${m}/${y}`;
  }
  const date = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) return "";
  return `${pad2(date.getDate())}/${pad2(date.getMonth() + 1)}/${date.getFullYear()}`;
}

/** An instant → `14:05` local time. */
export function formatTime(value: string | Date): string {
  const date = typeof value === "string" ? new Date(value) : value;
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

/** An instant → `07/04/2025 14:05` local time. */
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

/** The local calendar date of a Date as ISO (`YYYY-MM-DD`). */
export function isoDate(date: Date): string {
  return `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())}`;
}

/** Local midnight of the given ISO date. */
export function startOfDay(iso: string): Date {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(y, m - 1, d, 0, 0, 0, 0);
}

export function addDays(date: Date, days: number): Date {
  const next = new Date(date);
  next.setDate(next.getDate() + days);
  return next;
}

/** `[from, to)` of a local day, as UTC ISO instants for the Rust side. */
export function dayRange(iso: string): { from: string; to: string } {
  const start = startOfDay(iso);
  return { from: start.toISOString(), to: addDays(start, 1).toISOString() };
}

/** The Monday-to-Sunday week containing the ISO date, as ISO dates. */
export function weekOf(iso: string): string[] {
  const start = startOfDay(iso);
  const mondayOffset = (start.getDay() + 6) % 7;
  const monday = addDays(start, -mondayOffset);
  return Array.from({ length: 7 }, (_, i) => isoDate(addDays(monday, i)));
}

/** Local date + `HH:MM` → UTC ISO instant. */
export function localInstant(isoDay: string, hhmm: string): string {
  const [h, mi] = hhmm.split(":").map(Number);
  const d = startOfDay(isoDay);
  d.setHours(h, mi, 0, 0);
  return d.toISOString();
}

/** Age in whole years on `today` for an ISO date of birth. */
export function ageYears(dob: string, today: Date = new Date()): number {
  const [y, m, d] = dob.split("-").map(Number);
  let age = today.getFullYear() - y;
  if (today.getMonth() + 1 < m || (today.getMonth() + 1 === m && today.getDate() < d)) age -= 1;
  return age;
}
