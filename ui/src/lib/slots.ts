// The booking form's suggested start: the doctor's first free slot of the day, on the clinic's
// clock, from the clinic's opening (or from now, today) in steps of a quarter of an hour.

import { formatTime, isoDate } from "./dates";
import type { AppointmentRow } from "./types";

/** Where the search starts and ends on a day, and its step, in minutes after midnight. */
export const OPENS = 9 * 60;
export const CLOSES = 21 * 60;
export const STEP = 15;

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;

/** The first start on `day` (ISO date) at which `doctor` is free for `minutes`, as HH:MM;
 * the opening time when the day is full. Cancelled and no-show bookings free their time. */
export function nextFreeSlot(rows: AppointmentRow[], doctor: string, day: string, now: Date, minutes: number): string {
  const busy = rows
    .filter((r) => r.appointment.doctor_id === doctor && !["cancelled", "no_show"].includes(r.appointment.status))
    .filter((r) => isoDate(new Date(r.appointment.starts_at)) === day)
    .map((r) => [minutesOf(formatTime(r.appointment.starts_at)), minutesOf(formatTime(r.appointment.ends_at))] as const);
  const today = isoDate(now) === day;
  const from = today ? Math.max(OPENS, Math.ceil(minutesOf(formatTime(now)) / STEP) * STEP) : OPENS;
  for (let start = from; start + minutes <= CLOSES; start += STEP) {
    if (busy.every(([s, e]) => start + minutes <= s || start >= e)) return hhmm(start);
  }
  return hhmm(OPENS);
}
