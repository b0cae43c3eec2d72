// Rejected changes in words: what a change was, why the server refused it, what discarding
// it does, and how its values are shown in and read back from the correction form.
// Pure functions (no IPC), so they are unit-tested.

import { en } from "../strings/en";
import { formatDate, formatDateTime, formatTime, localInstant, parseDate } from "./dates";
import { paiseToInput, parseRupees } from "./money";
import type { EditableField, UnsentChange, WaitingWork } from "./types";

const thing = (c: UnsentChange) => en.unsent.entities[c.entity] ?? c.entity;

/** The patient as a person reads it: the name, else the patient number. */
function patientWords(c: UnsentChange): string | null {
  if (c.patient_name) return c.patient_name;
  if (c.patient_number && c.patient_number > 0) return en.unsent.patientNo(c.patient_number);
  return null;
}

/**
 * What a change was, in words: "New patient Asha Rao", "New invoice D1a2b3c/000005 for Asha
 * Rao", "Edit of appointment 10:30 with Dr. Mehta for Asha Rao".
 * `doctorName` turns a doctor's id into a name (the screen knows the clinic's doctors).
 */
export function describeChange(c: UnsentChange, doctorName: (id: string) => string = () => ""): string {
  const patient = patientWords(c);
  if (c.entity === "patient") {
    return [en.unsent.what[c.op](thing(c)), patient].filter(Boolean).join(" ");
  }
  const parts = [en.unsent.what[c.op](thing(c))];
  if (c.invoice_number) parts.push(c.invoice_number);
  if (c.entity === "appointment" && c.starts_at) {
    parts.push(c.op === "create" ? formatDateTime(c.starts_at) : formatTime(c.starts_at));
    const doctor = c.doctor_id ? doctorName(c.doctor_id) : "";
    if (doctor) parts.push(en.unsent.withDoctor(doctor));
  }
  if (patient) parts.push(c.op === "create" ? en.unsent.forPatient(patient) : en.unsent.ofPatient(patient));
  return parts.join(" ");
}

/** A field's label for people (the JSON name when we have none). */
export function fieldLabel(name: string): string {
  return en.unsent.fields[name] ?? name.replace(/_/g, " ");
}

/**
 * The server's reason as sentences: our wording for the code, then the server's own message
 * (which names the rule, e.g. "Enter a 10-digit mobile number") when it adds something.
 */
export function reasonText(c: Pick<UnsentChange, "code" | "message">): string {
  const ours = c.code ? en.unsent.reasons[c.code] : undefined;
  const theirs = c.message?.trim() ?? "";
  // The server's generic wording for a code ("Not found.", "Your role in this clinic does not
  // allow this.") adds nothing to ours; a specific one (the rule a value broke) does.
  const generic = theirs.replace(/\.$/, "");
  const adds = theirs !== "" && generic !== "Not found" && !(ours ?? "").startsWith(generic);
  if (ours && adds) return `${ours} ${theirs.endsWith(".") ? theirs : `${theirs}.`}`;
  return ours ?? (theirs || en.errors.byCode.internal);
}

/** What discarding will do, said before it happens (one sentence per line). */
export function discardConsequence(c: UnsentChange): string[] {
  const who = patientWords(c);
  const what = c.entity === "patient" && who ? `${thing(c)} ${who}` : who ? `${thing(c)} ${en.unsent.forPatient(who)}` : thing(c);
  const lines = [en.unsent.consequence[c.op](what)];
  if (c.entity === "invoice" && c.op === "create" && c.invoice_number?.startsWith("D")) {
    lines.push(en.unsent.consequence.invoiceNumber(c.invoice_number));
  }
  lines.push(en.unsent.consequence.audited);
  return lines;
}

/** A value as the correction form shows it (dates DD/MM/YYYY, money in rupees). */
export function toInput(field: EditableField): string {
  const v = field.value;
  if (v == null) return "";
  if (field.name === "amount_paise" && typeof v === "number") return paiseToInput(v);
  if (field.name === "date_of_birth" && typeof v === "string") return formatDate(v);
  if ((field.name === "starts_at" || field.name === "ends_at") && typeof v === "string") return formatDateTime(v);
  return String(v);
}

export type ParsedValue = { ok: true; value: string | number | boolean | null } | { ok: false; error: string };

/**
 * Reads a typed value back into the change's JSON, with the kind the original had. Only the
 * format is checked here; the rules (phone, ABHA, lengths) are the Rust core's, which answers
 * with the field to mark.
 */
export function fromInput(field: EditableField, text: string): ParsedValue {
  const t = text.trim();
  if (field.name === "amount_paise") {
    const r = parseRupees(t);
    return r.ok ? { ok: true, value: r.paise } : { ok: false, error: en.validation.amount };
  }
  if (field.name === "date_of_birth") {
    if (t === "") return { ok: true, value: null };
    const iso = parseDate(t);
    return iso ? { ok: true, value: iso } : { ok: false, error: en.validation.date };
  }
  if (field.name === "starts_at" || field.name === "ends_at") {
    const m = /^(\S+)\s+(\d{1,2}):(\d{2})$/.exec(t);
    const day = m ? parseDate(m[1]) : null;
    if (!m || !day || Number(m[2]) > 23 || Number(m[3]) > 59) return { ok: false, error: en.validation.date };
    return { ok: true, value: localInstant(day, `${m[2]}:${m[3]}`) };
  }
  if (typeof field.value === "number") {
    const n = Number(t);
    return t !== "" && Number.isInteger(n) ? { ok: true, value: n } : { ok: false, error: en.validation.quantity };
  }
  if (typeof field.value === "boolean") return { ok: true, value: t === "true" };
  return { ok: true, value: t === "" && field.value === null ? null : text };
}

/** The corrections to send: only fields whose value really changed. */
export function corrections(fields: EditableField[], typed: Record<string, string>):
  { ok: true; values: Record<string, unknown> } | { ok: false; errors: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const text = typed[f.name];
    if (text === undefined || text === toInput(f)) continue;
    const parsed = fromInput(f, text);
    if (parsed.ok) values[f.name] = parsed.value;
    else errors[f.name] = parsed.error;
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, values };
}

/** Whose work is waiting, for a shared PC's status bar ("Dr Rao 2 · Asha 1"); null when none. */
export function waitingBy(waiting: WaitingWork[] | undefined): string | null {
  const parts = (waiting ?? [])
    .filter((w) => w.pending + w.rejected > 0)
    .map((w) => `${authorLabel(w.author_id, w.author_name)} ${w.pending + w.rejected}`);
  return parts.length > 0 ? parts.join(" · ") : null;
}

/** A change's author as a person reads it. */
export function authorLabel(id: string | null, name: string | null): string {
  if (name) return name;
  return id ? en.unsent.unknownAuthor : en.unsent.unsignedAuthor;
}

/** Whether everything on this PC is with the group server. A change it rejected waits for
 * a person (Unsent changes), and one the clinic hub took in waits for the group server's
 * answer, so neither is synced. */
export function isSynced(s: { online: boolean; syncing: boolean; pending: number; rejected?: number; relayed?: number }): boolean {
  return s.online && !s.syncing && s.pending === 0 && (s.rejected ?? 0) === 0 && (s.relayed ?? 0) === 0;
}

/** The status bar's words for changes waiting and rejected ("3 changes waiting · 1 rejected"). */
export function statusCounts(s: { pending: number; rejected: number }): { waiting: string | null; rejected: string | null } {
  return {
    waiting: s.pending > 0 || s.rejected === 0 ? en.status.pending(s.pending) : null,
    rejected: s.rejected > 0 ? en.status.rejected(s.rejected) : null,
  };
}
