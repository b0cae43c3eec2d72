import { describe, expect, it } from "vitest";
import { adultFlags, adultRangesApply, ageYears, bmiBand, bmiTenths } from "./vitals";

// The same cases as `shared::rules::vitals`'s tests.
describe("vitals as a clinician reads them", () => {
  it("flags what lies outside an adult's range", () => {
    expect(adultFlags({
      pulse_bpm: 112, systolic_mmhg: 150, diastolic_mmhg: 85, temperature_dc: 386,
      spo2_percent: 93, respiratory_rate: 16, weight_g: 70000, height_mm: 1700,
    })).toEqual([["pulse_bpm", "high"], ["systolic_mmhg", "high"], ["temperature_dc", "high"], ["spo2_percent", "low"]]);
    expect(adultFlags({})).toEqual([]);
    expect(adultFlags({ pulse_bpm: 60, systolic_mmhg: 139, temperature_dc: 379, spo2_percent: 95 })).toEqual([]);
  });

  it("computes BMI with the Asian-Indian bands", () => {
    expect(bmiTenths({ weight_g: 70000, height_mm: 1700 })).toBe(242);
    expect(bmiTenths({ weight_g: 50000, height_mm: 1700 })).toBe(173);
    expect(bmiTenths({ weight_g: 70000, height_mm: 0 })).toBeNull();
    expect(bmiTenths({ weight_g: 70000 })).toBeNull();
    expect([173, 185, 229, 230, 249, 250].map(bmiBand)).toEqual([0, 1, 1, 2, 2, 3]);
  });

  it("applies adult ranges from 18 years", () => {
    const today = new Date(2026, 11, 6);
    expect(ageYears("2008-12-07", today)).toBe(17);
    expect(ageYears("2008-12-06", today)).toBe(18);
    expect(adultRangesApply(17)).toBe(false);
    expect(adultRangesApply(18)).toBe(true);
    expect(adultRangesApply(null)).toBe(true);
  });
});
