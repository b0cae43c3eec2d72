import { describe, expect, it } from "vitest";
import { nextFreeSlot } from "./slots";
import type { AppointmentRow } from "./types";

// 2026-12-07 in IST; times below are IST (UTC+05:30).
const at = (hhmm: string) => new Date(`2026-12-07T${hhmm}:00+05:30`);
const row = (doctor: string, from: string, to: string, status = "booked"): AppointmentRow => ({
  appointment: { doctor_id: doctor, starts_at: at(from).toISOString(), ends_at: at(to).toISOString(), status } as AppointmentRow["appointment"],
  patient_name: "P", patient_number: 1,
});

describe("the suggested booking time", () => {
  const rows = [row("d1", "09:00", "09:15"), row("d1", "09:15", "09:45"), row("d2", "09:45", "10:00"), row("d1", "10:00", "10:15", "cancelled")];
  it("is the doctor's first free quarter of the day", () => {
    expect(nextFreeSlot(rows, "d1", "2026-12-08", at("08:00"), 15)).toBe("09:00");
    expect(nextFreeSlot(rows, "d1", "2026-12-07", at("08:00"), 15)).toBe("09:45");
    expect(nextFreeSlot(rows, "d2", "2026-12-07", at("08:00"), 15)).toBe("09:00");
  });
  it("fits the visit's length and counts a cancelled booking as free", () => {
    expect(nextFreeSlot([row("d1", "09:00", "09:15"), row("d1", "09:30", "09:45")], "d1", "2026-12-07", at("08:00"), 30)).toBe("09:45");
    expect(nextFreeSlot(rows, "d1", "2026-12-07", at("09:50"), 15)).toBe("10:00");
  });
  it("starts from now today, on the quarter", () => {
    expect(nextFreeSlot([], "d1", "2026-12-07", at("11:05"), 15)).toBe("11:15");
    expect(nextFreeSlot([], "d1", "2026-12-07", at("23:00"), 15)).toBe("09:00");
  });
});
