import { describe, expect, it } from "vitest";
import { keptForm, latest, parseVital, withVital } from "./Doctor";
import { strengthsOf } from "../lib/drugs";

describe("vitals as doctors type them", () => {
  it("takes blood pressure as 120/80 in either BP field", () => {
    expect(withVital({}, "systolic_mmhg", "120/80")).toEqual({ systolic_mmhg: "120", diastolic_mmhg: "80" });
    expect(withVital({ pulse_bpm: "72" }, "diastolic_mmhg", " 130 / 85 ")).toEqual({ pulse_bpm: "72", systolic_mmhg: "130", diastolic_mmhg: "85" });
    // Anything else is kept as typed, for the check at saving.
    expect(withVital({}, "systolic_mmhg", "120/")).toEqual({ systolic_mmhg: "120/" });
    expect(withVital({}, "temperature_dc", "120/80")).toEqual({ temperature_dc: "120/80" });
  });
  it("reads °C, kg and cm into the stored units", () => {
    expect(parseVital("38.6", 10)).toBe(386);
    expect(parseVital("70.5", 1000)).toBe(70500);
    expect(parseVital("", 10)).toBeNull();
    expect(parseVital("120/80", 1)).toBe("invalid");
    expect(parseVital("38.65", 10)).toBe("invalid");
  });
});

describe("a note kept while typing", () => {
  it("comes back as the editor's fields, whatever else was kept", () => {
    expect(keptForm({ chief_complaint: "Fever", notes: "NS1 sent", diagnosis: "", vitals: { pulse_bpm: "96", bogus: "1", spo2_percent: 97 }, extra: 1 }))
      .toEqual({ chief_complaint: "Fever", notes: "NS1 sent", diagnosis: "", vitals: { pulse_bpm: "96" } });
    expect(keptForm({ notes: 5 })).toEqual({ chief_complaint: "", notes: "", diagnosis: "", vitals: {} });
    expect(keptForm("text")).toBeNull();
    expect(keptForm(null)).toBeNull();
  });
});

describe("the last visit and the last prescription", () => {
  it("takes the newest by time", () => {
    const items = [{ id: "a", at: "2026-11-02T04:00:00Z" }, { id: "b", at: "2026-12-01T09:30:00Z" }, { id: "c", at: "2026-11-20T10:00:00Z" }];
    expect(latest(items, (i) => i.at)?.id).toBe("b");
    expect(latest([], (i: { at: string }) => i.at)).toBeNull();
  });
  it("offers a repeated line the drug's strengths, and keeps the one prescribed", () => {
    const list = [{ name: "Paracetamol", form: "Tablet", strengths: ["500 mg", "650 mg"], category: "analgesic" }];
    expect(strengthsOf("Paracetamol (Tablet)", "650 mg", list)).toEqual(["500 mg", "650 mg"]);
    expect(strengthsOf("Paracetamol (Tablet)", "1 g", list)).toEqual(["1 g", "500 mg", "650 mg"]);
    expect(strengthsOf("Ayurvedic tonic", "10 ml", list)).toEqual(["10 ml"]);
  });
});
