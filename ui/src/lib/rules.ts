// The one rule set, as the UI reads it: `../generated/rules.json` is generated from
// `shared/src/rules` (`shared::rules::rules_for_ui()`, kept current by
// `cargo test -p vaidya-shared --test ui_rules`). Permissions, limits and vital ranges are
// read from it here and nowhere restated; the server enforces the same table.

import rules from "../generated/rules.json";
import type { Action, Resource, Role } from "../generated/types";

export type { Action, Resource };

/** One line of the permission table (`shared::rules::permissions::GRANTS`). */
export interface Grant { resource: Resource; action: Action; roles: Role[] }

export const GRANTS: readonly Grant[] = rules.grants as Grant[];

/** The roles that may do `action` to `resource` (empty: nobody). */
export function rolesFor(resource: Resource, action: Action): readonly Role[] {
  return GRANTS.find((g) => g.resource === resource && g.action === action)?.roles ?? [];
}

/** Whether a member with `role` may do `action` to `resource` (`shared::rules::may`). */
export function may(role: Role, resource: Resource, action: Action): boolean {
  return rolesFor(resource, action).includes(role);
}

/** The roles a person may be given, in the admin's pickers (`Role::STAFF`: not the hub's). */
export const STAFF_ROLES: readonly Role[] = rules.staff_roles as Role[];

/** Longest texts (characters) and other limits (`shared::rules::validation::limits`). */
export const LIMITS = rules.limits;

export type VitalName =
  | "pulse_bpm" | "systolic_mmhg" | "diastolic_mmhg" | "temperature_dc"
  | "spo2_percent" | "respiratory_rate" | "weight_g" | "height_mm";

/**
 * Plausible vital-sign ranges, inclusive (`VITAL_RANGES`), in the order Rust checks them:
 * `[field, min, max, label]`.
 */
export const VITAL_RANGES: ReadonlyArray<readonly [VitalName, number, number, string]> = rules.vital_ranges.map(
  (v) => [v.field as VitalName, v.min, v.max, v.label] as const,
);

/**
 * How a clinician reads vitals (`shared::rules::vitals`): each vital's usual adult range
 * (stored units), the age from which it applies, and the BMI band edges in tenths.
 */
export const VITAL_REFERENCE: {
  adult_from_years: number;
  adult_ranges: ReadonlyArray<{ field: VitalName; low: number; high: number }>;
  bmi_bands_tenths: readonly number[];
} = rules.vital_reference as never;

/** The code of the clinic's main series (`2526-INV`), numbered by the server. */
export const MAIN_SERIES_CODE: string = rules.main_series_code;

/**
 * Whether the server numbers this series (`numbering::is_main_series`): the main series of
 * a financial year (`2526-INV`, the two years consecutive) or the one from before years.
 */
export function isMainSeries(series: string): boolean {
  if (series === MAIN_SERIES_CODE) return true;
  const m = /^(\d{2})(\d{2})-(.+)$/.exec(series);
  return m !== null && m[3] === MAIN_SERIES_CODE && (Number(m[1]) + 1) % 100 === Number(m[2]);
}

/** Where each appointment status may go next (`AppointmentStatus::can_move_to`). */
export const APPOINTMENT_TRANSITIONS: Readonly<Record<string, readonly string[]>> = rules.appointment_transitions;

/** GSTN's unit quantity codes a line may be counted in (`gst::UNITS`); `NA` for services. */
export const UNITS: readonly string[] = rules.units;

/** GST rates allowed on a line, in basis points. */
export const GST_RATES_BP: readonly number[] = rules.gst_rates_bp;
