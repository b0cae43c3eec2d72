// Validation of what people type, with the rules of `shared/src/rules/validation.rs`: every
// limit and range is read from the generated rule set (`./rules`), the checks run in the
// order Rust runs them, refusals name the same field (`vitals.pulse_bpm`, `items[0].drug`,
// `lines[0].sac_hsn`) with the same sentence, and accepted values are normalised the same
// way. `validateFixture` runs any entity by name: `rules.test.ts` feeds it the shared fixture
// (`shared/fixtures/validation.json`) and the Rust-recorded generated cases, so the desk
// rejects exactly what the server would reject.

import { en } from "../strings/en";
import { normalizePhone, rustTrim } from "./phone";
import { isoDate, parseDate } from "./dates";
import { GST_RATES_BP, LIMITS, UNITS, VITAL_RANGES, isMainSeries } from "./rules";
import type {
  AllergyPatch, AppointmentPatch, EncounterPatch, NewAddendum, NewAllergy, NewAppointment, NewEncounter, InvoiceRecipient, NewInvoice, NewInvoiceLine,
  NewPatient, NewPayment, NewPrescription, NewPrescriptionItem, PatientPatch, Sex, Vitals,
} from "./types";

export { rustTrim };

// ---------------------------------------------------------------- verdicts

/** A rule's verdict: the normalised value, or the field refused and why. */
export type Verdict<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

/** A refusal, thrown inside a validator and turned into a verdict by `verdict`. */
class Invalid extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

const fail = (field: string, message: string): never => {
  throw new Invalid(field, message);
};

function verdict<T>(run: () => T): Verdict<T> {
  try {
    return { ok: true, value: run() };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, field: e.field, message: e.message };
    throw e;
  }
}

// ---------------------------------------------------------------- text

export function normalizeAbha(input: string): string | null {
  const digits = input.replace(/[- ]/g, "");
  return /^\d{14}$/.test(digits) ? digits : null;
}

/** `12345678901234` → `12-3456-7890-1234` as printed on ABHA cards. */
export function formatAbha(digits: string | null | undefined): string {
  if (!digits || digits.length !== 14) return digits ?? "";
  return `${digits.slice(0, 2)}-${digits.slice(2, 6)}-${digits.slice(6, 10)}-${digits.slice(10)}`;
}

// Rust's `char::is_control` (Unicode Cc) other than tab, newline and carriage return.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

export type TextResult = { ok: true; value: string } | { ok: false; error: string };

/** No control characters except newline/tab, at most `max` characters; returns it trimmed. */
export function cleanText(input: string, max: number): TextResult {
  if (CONTROL.test(input)) return { ok: false, error: en.validation.controlChars };
  const trimmed = rustTrim(input);
  if ([...trimmed].length > max) return { ok: false, error: en.validation.textTooLong(max) };
  return { ok: true, value: trimmed };
}

/** A GST state code: two digits, 01–38 or 97. */
export function isStateCode(code: string): boolean {
  if (!/^\d{2}$/.test(code)) return false;
  const n = Number(code);
  return (n >= 1 && n <= 38) || n === 97;
}

const GSTIN_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** The check character of a GSTIN's first 14 characters (`gst::gstin_check_char`). */
export function gstinCheckChar(first14: string): string | null {
  let sum = 0;
  for (let i = 0; i < first14.length; i++) {
    const value = GSTIN_CHARS.indexOf(first14[i]);
    if (value < 0) return null;
    const product = value * (i % 2 === 0 ? 1 : 2);
    sum += Math.floor(product / 36) + (product % 36);
  }
  return GSTIN_CHARS[(36 - (sum % 36)) % 36];
}

/** Why a GSTIN is not one, or null (`gst::check_gstin` without a state to match). */
export function gstinProblem(gstin: string): string | null {
  const shape = /^\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]$/.test(gstin);
  if (!shape || !isStateCode(gstin.slice(0, 2))) return en.validation.gstinShape;
  if (gstinCheckChar(gstin.slice(0, 14)) !== gstin[14]) return en.validation.gstinCheck;
  return null;
}

/** Text that may be empty (`free_text`). */
function freeText(field: string, value: string, max: number): string {
  const r = cleanText(value, max);
  return r.ok ? r.value : fail(field, r.error);
}

/** Text that must not be empty (`required_text`). */
function requiredText(field: string, value: string, max: number): string {
  const v = freeText(field, value, max);
  return v === "" ? fail(field, en.validation.required) : v;
}

/** Optional text of a create: absent stays absent, blank becomes absent (`optional_text`). */
function optionalText(field: string, value: string | null | undefined, max: number): string | null {
  if (value == null) return null;
  const v = freeText(field, value, max);
  return v === "" ? null : v;
}

/** A patch's optional text: absent = keep, blank = clear (`""`), else the clean text. */
function patchText(field: string, value: string | null | undefined, max: number): string | null {
  return value == null ? null : freeText(field, value, max);
}

function phone(value: string | null | undefined): string | null {
  const v = value == null ? "" : rustTrim(value);
  if (v === "") return null;
  const p = normalizePhone(v);
  return p.ok ? p.value : fail("phone", en.validation[p.error]);
}

function abha(value: string | null | undefined): string | null {
  const v = value == null ? "" : rustTrim(value);
  if (v === "") return null;
  return normalizeAbha(v) ?? fail("abha_number", en.validation.abha);
}

/** An ISO date `days` after `iso`. */
function plusDays(iso: string, days: number): string {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** After 1880 and not in the future, with a day of slack for time zones. */
function birthDate(dob: string | null | undefined, today: string): void {
  if (dob == null) return;
  if (dob < LIMITS.earliest_birth || dob > plusDays(today, 1)) fail("date_of_birth", en.validation.dobPlausible);
}

// ---------------------------------------------------------------- entities
// Inputs may lack what serde would default (absent optional fields, `#[serde(default)]`
// texts), as they do in the fixtures; outputs are whole, as Rust serialises them.

type Loose<T> = { [K in keyof T]?: T[K] | null };

export function checkPatient(p: Loose<NewPatient>, today: string): NewPatient {
  birthDate(p.date_of_birth, today);
  const name = requiredText("name", p.name ?? "", LIMITS.patient_name);
  return {
    id: p.id ?? null,
    name,
    sex: p.sex as Sex,
    date_of_birth: p.date_of_birth ?? null,
    phone: phone(p.phone),
    address: optionalText("address", p.address, LIMITS.address),
    abha_number: abha(p.abha_number),
  };
}

export function checkPatientPatch(p: Loose<PatientPatch>, today: string): Required<PatientPatch> {
  birthDate(p.date_of_birth, today);
  const clearedOr = (v: string | null | undefined, f: (v: string) => string | null) => (v == null ? null : f(v) ?? "");
  return {
    base_version: p.base_version ?? null,
    name: p.name == null ? null : requiredText("name", p.name, LIMITS.patient_name),
    sex: p.sex ?? null,
    date_of_birth: p.date_of_birth ?? null,
    phone: clearedOr(p.phone, phone),
    address: patchText("address", p.address, LIMITS.address),
    abha_number: clearedOr(p.abha_number, abha),
  };
}

/** An appointment ends after it starts and lasts at most the rules' hours. */
export function appointmentTimes(startsAt: string, endsAt: string): void {
  const ms = Date.parse(endsAt) - Date.parse(startsAt);
  if (!(ms > 0)) fail("ends_at", en.validation.endAfterStart);
  if (ms > LIMITS.appointment_hours * 3_600_000) fail("ends_at", en.validation.appointmentTooLong(LIMITS.appointment_hours));
}

export function checkAppointment(a: Loose<NewAppointment>): NewAppointment {
  appointmentTimes(a.starts_at as string, a.ends_at as string);
  return {
    id: a.id ?? null,
    patient_id: a.patient_id as string,
    doctor_id: a.doctor_id as string,
    starts_at: a.starts_at as string,
    ends_at: a.ends_at as string,
    reason: optionalText("reason", a.reason, LIMITS.appointment_reason),
  };
}

export function checkAppointmentPatch(a: Loose<AppointmentPatch>): Required<AppointmentPatch> {
  return {
    base_version: a.base_version ?? null,
    starts_at: a.starts_at ?? null,
    ends_at: a.ends_at ?? null,
    status: a.status ?? null,
    reason: patchText("reason", a.reason, LIMITS.appointment_reason),
  };
}

export function checkVitals(v: Loose<Vitals> | null | undefined): Required<Vitals> {
  const out: Record<string, number | null> = {};
  for (const [name, lo, hi, label] of VITAL_RANGES) {
    const x = v?.[name] ?? null;
    if (x !== null && (x < lo || x > hi)) fail(`vitals.${name}`, en.validation.vitalRange(label, lo, hi));
    out[name] = x;
  }
  return out as Required<Vitals>;
}

export function checkEncounter(e: Loose<NewEncounter>): NewEncounter {
  return {
    id: e.id ?? null,
    patient_id: e.patient_id as string,
    appointment_id: e.appointment_id ?? null,
    chief_complaint: freeText("chief_complaint", e.chief_complaint ?? "", LIMITS.chief_complaint),
    notes: freeText("notes", e.notes ?? "", LIMITS.notes),
    diagnosis: freeText("diagnosis", e.diagnosis ?? "", LIMITS.diagnosis),
    vitals: checkVitals(e.vitals),
  };
}

export function checkEncounterPatch(e: Loose<EncounterPatch>): Required<EncounterPatch> {
  return {
    base_version: e.base_version ?? null,
    chief_complaint: patchText("chief_complaint", e.chief_complaint, LIMITS.chief_complaint),
    notes: patchText("notes", e.notes, LIMITS.notes),
    diagnosis: patchText("diagnosis", e.diagnosis, LIMITS.diagnosis),
    vitals: e.vitals == null ? null : checkVitals(e.vitals),
  };
}

export function checkAddendum(a: Loose<NewAddendum>): NewAddendum {
  return { id: a.id ?? null, text: requiredText("text", a.text ?? "", LIMITS.addendum) };
}

/** Rows without a medicine are dropped (the pad always shows an empty row); one remains. */
export function checkPrescription(p: Loose<NewPrescription>): NewPrescription {
  const rows = (p.items ?? []).filter((i) => rustTrim(i.drug) !== "");
  if (rows.length === 0) fail("items", en.validation.noMedicine);
  if (rows.length > LIMITS.prescription_items) fail("items", en.validation.tooManyMedicines(LIMITS.prescription_items));
  const items = rows.map((i: Loose<NewPrescriptionItem>, n): NewPrescriptionItem => {
    const f = (name: string) => `items[${n}].${name}`;
    return {
      drug: requiredText(f("drug"), i.drug ?? "", LIMITS.drug),
      strength: freeText(f("strength"), i.strength ?? "", LIMITS.dosing),
      dose: freeText(f("dose"), i.dose ?? "", LIMITS.dosing),
      frequency: freeText(f("frequency"), i.frequency ?? "", LIMITS.dosing),
      duration: freeText(f("duration"), i.duration ?? "", LIMITS.dosing),
      instructions: freeText(f("instructions"), i.instructions ?? "", LIMITS.instructions),
    };
  });
  return {
    id: p.id ?? null,
    patient_id: p.patient_id as string,
    encounter_id: p.encounter_id ?? null,
    notes: freeText("notes", p.notes ?? "", LIMITS.prescription_notes),
    items,
    acknowledged_allergies: p.acknowledged_allergies ?? [],
  };
}

export function checkAllergy(a: Loose<NewAllergy>): NewAllergy {
  return {
    id: a.id ?? null,
    patient_id: a.patient_id as string,
    substance: requiredText("substance", a.substance ?? "", LIMITS.allergy_substance),
    reaction: freeText("reaction", a.reaction ?? "", LIMITS.allergy_reaction),
    severity: a.severity as NewAllergy["severity"],
  };
}

export function checkAllergyPatch(a: Loose<AllergyPatch>): Required<AllergyPatch> {
  return {
    base_version: a.base_version ?? null,
    substance: a.substance == null ? null : requiredText("substance", a.substance, LIMITS.allergy_substance),
    reaction: a.reaction == null ? null : freeText("reaction", a.reaction, LIMITS.allergy_reaction),
    severity: a.severity ?? null,
    status: a.status ?? null,
  };
}

export function checkInvoice(inv: Loose<NewInvoice>): NewInvoice {
  const lines = inv.lines ?? [];
  if (lines.length === 0 || lines.length > LIMITS.invoice_lines) fail("lines", en.validation.invoiceLines(LIMITS.invoice_lines));
  const series = inv.series ?? null;
  if (series !== null && (series.length < 1 || series.length > LIMITS.series || !/^[A-Z0-9-]+$/.test(series))) fail("series", en.validation.series);
  const number = inv.number ?? null;
  // No series is the year's main series, which the server numbers.
  if (number !== null && (series === null || isMainSeries(series))) fail("number", en.validation.mainSeriesNumber);
  if (number !== null && number <= 0) fail("number", en.validation.invoiceNumber);
  if (inv.place_of_supply != null && !isStateCode(inv.place_of_supply)) fail("place_of_supply", en.validation.placeOfSupply);
  const checked = lines.map((l: Loose<NewInvoiceLine>, i): NewInvoiceLine => {
    const f = (name: string) => `lines[${i}].${name}`;
    const description = requiredText(f("description"), l.description ?? "", LIMITS.line_description);
    const sac = l.sac_hsn ?? "";
    if (!/^\d{4,8}$/.test(sac)) fail(f("sac_hsn"), en.validation.sacHsn);
    const quantity = l.quantity ?? 0;
    if (quantity < 1 || quantity > LIMITS.max_quantity) fail(f("quantity"), en.validation.quantityRange(LIMITS.max_quantity));
    const price = l.unit_price_paise ?? 0;
    if (price < 0 || price > LIMITS.max_unit_price_paise) fail(f("unit_price_paise"), en.validation.unitPrice);
    const discount = l.discount_paise ?? 0;
    const rate = l.gst_rate_bp ?? 0;
    // `gst::tax_line`'s refusals: the rate first, then negative amounts.
    if (!GST_RATES_BP.includes(rate)) fail(f("gst_rate_bp"), en.validation.gstRate(rate));
    if (discount < 0 || BigInt(quantity) * BigInt(price) - BigInt(discount) < 0n) fail(f("discount_paise"), en.validation.negativeAmount);
    // `gst::TaxTreatment::default_for` and `fits_rate`.
    const treatment = l.treatment ?? (rate > 0 ? "taxable" : "exempt");
    if ((treatment === "taxable") !== (rate > 0)) fail(f("treatment"), treatment === "taxable" ? en.validation.taxableNeedsRate : en.validation.untaxedAtZero);
    // `gst::default_unit`, `is_service_code` and `UNITS`.
    const service = sac.startsWith("99");
    const given = rustTrim(l.unit ?? "");
    const unit = given === "" ? (service ? "NA" : "NOS") : given.replace(/[a-z]/g, (c) => c.toUpperCase());
    if (!UNITS.includes(unit) || (unit === "NA") !== service) fail(f("unit"), service ? en.validation.serviceUnit : en.validation.goodsUnit);
    return { description, sac_hsn: sac, quantity, unit_price_paise: price, discount_paise: discount, gst_rate_bp: rate, treatment, unit };
  });
  let recipient: InvoiceRecipient | null = null;
  if (inv.recipient != null) {
    // `to_ascii_uppercase` after Rust's `trim`.
    const gstin = rustTrim(inv.recipient.gstin ?? "").replace(/[a-z]/g, (c) => c.toUpperCase());
    const problem = gstinProblem(gstin);
    if (problem) fail("recipient.gstin", problem);
    recipient = { gstin, name: requiredText("recipient.name", inv.recipient.name ?? "", LIMITS.recipient_name) };
  }
  return {
    id: inv.id ?? null,
    patient_id: inv.patient_id as string,
    series: inv.series ?? null,
    number,
    place_of_supply: inv.place_of_supply ?? null,
    lines: checked,
    recipient,
    doctor_id: inv.doctor_id ?? null,
  };
}

export function checkPayment(p: Loose<NewPayment>): NewPayment {
  // Positive: money received; negative: a refund (`NewPayment::validate`).
  if ((p.amount_paise ?? 0) === 0) fail("amount_paise", en.validation.paymentNotZero);
  return {
    id: p.id ?? null,
    amount_paise: p.amount_paise as number,
    method: p.method as NewPayment["method"],
    reference: optionalText("reference", p.reference, LIMITS.payment_reference),
  };
}

/** The entities of `shared/fixtures/validation.json`, by the names the fixture uses. */
export const ENTITIES = [
  "patient", "patient_patch", "appointment", "appointment_patch", "vitals", "encounter", "encounter_patch",
  "addendum", "prescription", "invoice", "payment", "allergy", "allergy_patch",
] as const;
export type Entity = (typeof ENTITIES)[number];

/**
 * Runs `input` (the entity's JSON body) through its rules on `today` (an ISO date), as
 * `shared/tests/common/mod.rs::validate_fixture` does in Rust.
 */
export function validateFixture(entity: Entity, input: unknown, today: string): Verdict<unknown> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const x = input as any;
  switch (entity) {
    case "patient": return verdict(() => checkPatient(x, today));
    case "patient_patch": return verdict(() => checkPatientPatch(x, today));
    case "appointment": return verdict(() => checkAppointment(x));
    case "appointment_patch": return verdict(() => checkAppointmentPatch(x));
    case "vitals": return verdict(() => checkVitals(x));
    case "encounter": return verdict(() => checkEncounter(x));
    case "encounter_patch": return verdict(() => checkEncounterPatch(x));
    case "addendum": return verdict(() => checkAddendum(x));
    case "prescription": return verdict(() => checkPrescription(x));
    case "invoice": return verdict(() => checkInvoice(x));
    case "payment": return verdict(() => checkPayment(x));
    case "allergy": return verdict(() => checkAllergy(x));
    case "allergy_patch": return verdict(() => checkAllergyPatch(x));
  }
}

// ---------------------------------------------------------------- the patient form

/** The date of birth an age gives, as a front desk writes it when the patient does not know
 * the date: "45", "45y", "45 yrs", "45 years" (born that many years before `today`, same day
 * and month), or "8m", "8 months" for an infant; `null` for anything else. The age is not
 * kept apart: the date is what the record holds, and is corrected when the real one is
 * known. */
export function birthDateFromAge(input: string, today: string): string | null {
  const m = /^\s*(\d{1,3})\s*(y|yr|yrs|year|years|m|mo|month|months)?\.?\s*$/i.exec(input);
  if (!m) return null;
  const n = Number(m[1]);
  const months = m[2] && /^m/i.test(m[2]) ? n : n * 12;
  if (months > 130 * 12 || (m[2] && /^m/i.test(m[2]) && n > 36)) return null;
  const [y, mo, d] = today.split("-").map(Number);
  const total = y * 12 + (mo - 1) - months;
  const by = Math.floor(total / 12);
  const bm = total % 12;
  // The same day of the month, or the month's last day (born "1 month" before 31 March).
  const last = new Date(Date.UTC(by, bm + 1, 0)).getUTCDate();
  return `${by}-${String(bm + 1).padStart(2, "0")}-${String(Math.min(d, last)).padStart(2, "0")}`;
}

export interface PatientForm {
  name: string;
  sex: Sex;
  dob: string; // DD/MM/YYYY, or an age ("45", "45y", "8 months"), as typed
  phone: string;
  address: string;
  abha: string;
}

export type FieldErrors = Partial<Record<keyof PatientForm, string>>;

/**
 * Checks a patient form with the patient rules, field by field so every bad field shows its
 * error at once; returns the request body or the errors per field.
 */
export function validatePatient(form: PatientForm, today: Date = new Date()):
  { ok: true; value: Omit<NewPatient, "id"> } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const todayIso = isoDate(today);
  const field = <T>(key: keyof PatientForm, run: () => T): T | null => {
    const v = verdict(run);
    if (v.ok) return v.value;
    errors[key] = v.message;
    return null;
  };
  const name = field("name", () => requiredText("name", form.name, LIMITS.patient_name));
  let dob: string | null = null;
  if (form.dob.trim() !== "") {
    dob = parseDate(form.dob) ?? birthDateFromAge(form.dob, todayIso);
    if (!dob) errors.dob = en.validation.dateOrAge;
    else field("dob", () => birthDate(dob, todayIso));
  }
  const phoneValue = field("phone", () => phone(form.phone));
  const abhaValue = field("abha", () => abha(form.abha));
  const address = field("address", () => optionalText("address", form.address, LIMITS.address));

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: { name: name as string, sex: form.sex, date_of_birth: dob, phone: phoneValue, address, abha_number: abhaValue },
  };
}
