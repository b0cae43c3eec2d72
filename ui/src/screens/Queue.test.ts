import { describe, expect, it } from "vitest";
import { waitingMinutes } from "./Queue";
import type { Appointment } from "../lib/types";

const visit = (status: Appointment["status"], updated_at: string): Appointment => ({
  id: "a", clinic_id: "c", patient_id: "p", doctor_id: "d", starts_at: "2026-12-07T04:00:00Z",
  ends_at: "2026-12-07T04:15:00Z", status, reason: null, version: 2, created_at: "2026-12-07T03:00:00Z", updated_at,
});

describe("the queue's waiting time", () => {
  it("counts whole minutes since the check-in, for checked-in patients only", () => {
    const now = new Date("2026-12-07T04:12:30Z");
    expect(waitingMinutes(visit("checked_in", "2026-12-07T04:00:00Z"), now)).toBe(12);
    expect(waitingMinutes(visit("checked_in", "2026-12-07T04:13:00Z"), now)).toBe(0);
    expect(waitingMinutes(visit("booked", "2026-12-07T04:00:00Z"), now)).toBeNull();
    expect(waitingMinutes(visit("in_consultation", "2026-12-07T04:00:00Z"), now)).toBeNull();
  });
});
