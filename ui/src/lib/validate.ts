// Validation of what people type, mirroring `shared/src/validate.rs` (same rules, same
// wording via the strings file) so the desk rejects what the server would reject.

import { en } from "../strings/en";
import { normalizePhone } from "./phone";
import { parseDate } from "./dates";
import type { NewPatient, Sex } from "./types";

export function normalizeAbha(input: string): string | null {
  const digits = input.replace(/[- ]/g, "");
  return /^\d{14}$/.test(digits) ? digits : null;
}

/** `12345678901234` → `12-3456-7890-1234` as printed on ABHA cards. */
export function formatAbha(digits: string | null | undefined): string {
  if (!digits || digits.length !== 14) return digits ?? "";
  return `${digits.slice(0, 2)}-${digits.slice(2, 6)}-${digits.slice(6, 10)}-${digits.slice(10)}`;
}

// Control characters other than tab, newline and carriage return.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

export type TextResult = { ok: true; value: string } | { ok: false; error: string };

/** No control characters except newline/tab, at most `max` characters; returns it trimmed. */
export function cleanText(input: string, max: number): TextResult {
  if (CONTROL.test(input)) return { ok: false, error: en.validation.controlChars };
  const trimmed = input.trim();
  if ([...trimmed].length > max) return { ok: false, error: en.validation.textTooLong(max) };
  return { ok: true, value: trimmed };
}

/** A GST state code: two digits, 01–38 or 97. */
export function isStateCode(code: string): boolean {
  if (!/^\d{2}$/.test(code)) return false;
  const n = Number(code);
  return (n >= 1 && n <= 38) || n === 97;
}

export interface PatientForm {
  name: string;
  sex: Sex;
  dob: string; // DD/MM/YYYY as typed
  phone: string;
  address: string;
  abha: string;
}

export type FieldErrors = Partial<Record<keyof PatientForm, string>>;

/** Checks a patient form; returns the request body or the errors per field. */
export function validatePatient(form: PatientForm, today: Date = new Date()):
  { ok: true; value: Omit<NewPatient, "id"> } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const name = cleanText(form.name, 200);
  if (!name.ok) errors.name = name.error;
  else if (name.value === "") errors.name = en.validation.required;

  let dob: string | null = null;
  if (form.dob.trim() !== "") {
    dob = parseDate(form.dob);
    if (!dob) errors.dob = en.validation.date;
    else {
      const [y, m, d] = dob.split("-").map(Number);
      if (new Date(y, m - 1, d) > today) errors.dob = en.validation.dobFuture;
    }
  }
  let phone: string | null = null;
  if (form.phone.trim() !== "") {
    const p = normalizePhone(form.phone);
    if (p.ok) phone = p.value;
    else errors.phone = en.validation[p.error];
  }
  let abha: string | null = null;
  if (form.abha.trim() !== "") {
    abha = normalizeAbha(form.abha);
    if (!abha) errors.abha = en.validation.abha;
  }
  const address = cleanText(form.address, 500);
  if (!address.ok) errors.address = address.error;

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      name: (name as { value: string }).value,
      sex: form.sex,
      date_of_birth: dob,
      phone,
      address: address.ok && address.value !== "" ? address.value : null,
      abha_number: abha,
    },
  };
}
