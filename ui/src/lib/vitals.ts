// Reading vitals as a clinician does (`shared::rules::vitals`, numbers from rules.json):
// which values lie outside an adult's usual range, and the BMI with the Asian-Indian bands.
// Shown beside the numbers; never a reason to refuse a value.

import type { Vitals } from "./types";
import { VITAL_REFERENCE, type VitalName } from "./rules";

export type Direction = "low" | "high";

/** The vitals outside an adult's usual range, in the rule's order. */
export function adultFlags(v: Partial<Record<VitalName, number | null>>): Array<[VitalName, Direction]> {
  const flags: Array<[VitalName, Direction]> = [];
  for (const { field, low, high } of VITAL_REFERENCE.adult_ranges) {
    const x = v[field];
    if (x == null) continue;
    if (x < low) flags.push([field, "low"]);
    else if (x > high) flags.push([field, "high"]);
  }
  return flags;
}

/** BMI in tenths (24.2 → 242) from grams and millimetres; null without both. */
export function bmiTenths(v: Partial<Pick<Vitals, "weight_g" | "height_mm">>): number | null {
  const w = v.weight_g, h = v.height_mm;
  if (w == null || h == null || w <= 0 || h <= 0) return null;
  // Integer arithmetic as in Rust: g × 10 000 / mm², rounded half up.
  return Math.floor((w * 10_000 + Math.floor((h * h) / 2)) / (h * h));
}

/** 0 underweight, 1 normal, 2 overweight, 3 obese. */
export function bmiBand(tenths: number): number {
  return VITAL_REFERENCE.bmi_bands_tenths.filter((edge) => tenths >= edge).length;
}

/** Whole years from a date of birth (YYYY-MM-DD) to `today`; null without one. */
export function ageYears(dateOfBirth: string | null | undefined, today: Date = new Date()): number | null {
  if (!dateOfBirth) return null;
  const [y, m, d] = dateOfBirth.split("-").map(Number);
  let age = today.getFullYear() - y;
  if (today.getMonth() + 1 < m || (today.getMonth() + 1 === m && today.getDate() < d)) age -= 1;
  return age;
}

/** Whether adult ranges apply: an adult, or an age not recorded (flags then say "adult"). */
export function adultRangesApply(age: number | null): boolean {
  return age === null || age >= VITAL_REFERENCE.adult_from_years;
}
