import { describe, expect, it } from "vitest";
import { conflictField, conflictThing, conflictValue, doubleBookingIds } from "./conflicts";

describe("the conflict inbox in words", () => {
  it("names the record and the field", () => {
    expect(conflictThing("encounter")).toBe("consultation note");
    expect(conflictThing("catalogue_item")).toBe("catalogue item");
    expect(conflictField("starts_at")).toBe("Start");
    expect(conflictField(null)).toBe("—");
  });

  it("reads each side's value as people do", () => {
    expect(conflictValue("status", "checked_in")).toBe("Checked in");
    expect(conflictValue("amount_paise", 150050)).toBe("₹1,500.50");
    expect(conflictValue("notes", "")).toBe("—");
    expect(conflictValue("notes", null)).toBe("—");
    expect(conflictValue("notes", "Cough for 3 days")).toBe("Cough for 3 days");
    // A time shows on the clinic's clock, not as an ISO string.
    expect(conflictValue("starts_at", "2026-12-06T04:30:00Z")).not.toContain("T04:30");
    expect(conflictValue("active", false)).toBe("No");
    expect(conflictValue("vitals", { pulse_bpm: 72, spo2_percent: null })).toBe("pulse bpm: 72");
  });

  it("names both records of a possible duplicate patient", () => {
    const earlier = [{ id: "a", patient_number: 12, name: "Ravi Sharma", date_of_birth: "1960-03-01", phone: "+919845012345", reason: "same_phone_and_name" }];
    expect(conflictValue(null, earlier)).toBe("#12 Ravi Sharma, born 01/03/1960 (same mobile number and a similar name)");
    expect(conflictValue(null, { id: "b", patient_number: 40, name: "Ravi Sarma", date_of_birth: null })).toBe("#40 Ravi Sarma");
  });
});

describe("a double booking's bookings", () => {
  const a = "0190b3c4-0000-7000-8000-00000000000a";
  const b = "0190b3c4-0000-7000-8000-00000000000b";
  it("are the device's booking and those it overlaps, each once", () => {
    expect(doubleBookingIds({ local_value: a, server_value: [b, a] })).toEqual([a, b]);
    expect(doubleBookingIds({ local_value: a, server_value: b })).toEqual([a, b]);
  });
  it("ignore anything that is not an id", () => {
    expect(doubleBookingIds({ local_value: null, server_value: [{ x: 1 }, "nope", b] })).toEqual([b]);
  });
});
