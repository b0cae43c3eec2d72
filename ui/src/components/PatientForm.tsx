// Register or edit a patient. Validation mirrors the server (lib/validate.ts); the write goes
// to the local cache and outbox and syncs later, so it works offline.

import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/ipc";
import { formatDate } from "../lib/dates";
import { formatAbha, validatePatient, type FieldErrors, type PatientForm as Form } from "../lib/validate";
import type { LikelyDuplicate, Member, Patient, Sex, Uuid } from "../lib/types";
import { en } from "../strings/en";
import { ErrorBanner, Field, Select, useAction } from "./common";
import { useConfirm } from "./ConfirmDialog";
import { useUnsaved } from "../lib/unsaved";
import { defaultDoctor, rememberDoctor } from "../lib/doctors";
import { useKeptForm } from "../lib/keptForm";

/** The form's choices of sex, in its order. */
const SEXES: Sex[] = ["female", "male", "other", "unknown"];

const fromPatient = (p: Patient | null): Form => ({
  name: p?.name ?? "", sex: p?.sex ?? "unknown", dob: p?.date_of_birth ? formatDate(p.date_of_birth) : "",
  phone: p?.phone ?? "", address: p?.address ?? "", abha: p?.abha_number ? formatAbha(p.abha_number) : "",
});

export function PatientForm(props: {
  patient: Patient | null;
  onSaved: (p: Patient) => void;
  onCancel: () => void;
  /** The front desk picked an already registered patient instead of registering again. */
  onChooseExisting?: (p: Patient) => void;
  /** The name typed in the search that found nobody (the form starts from it). */
  initialName?: string;
  /** A walk-in: "Save and add to today's queue" checks the new patient in with a doctor. */
  queue?: { clinicId: Uuid; doctors: Member[]; onQueued: (p: Patient, doctor: string) => void };
}) {
  const initial = { ...fromPatient(props.patient), name: props.patient ? props.patient.name : props.initialName ?? "" };
  const [form, setForm] = useState<Form>(initial);
  const dirty = JSON.stringify(form) !== JSON.stringify(fromPatient(props.patient));
  const queue = !props.patient ? props.queue : undefined;
  const [doctorId, setDoctorId] = useState(() => (queue ? defaultDoctor(queue.clinicId, queue.doctors) : ""));
  useEffect(() => {
    if (queue && !doctorId) setDoctorId(defaultDoctor(queue.clinicId, queue.doctors));
  }, [queue?.doctors.length]);
  useUnsaved(en.unsaved.patient, dirty);
  // What is typed is kept on this PC as it is typed (the clinic file) and comes back when
  // the same form opens again, unless it opens for a name just typed in the search.
  const { restoredAt, forget } = useKeptForm(props.patient ? `patient:${props.patient.id}` : "patient:new", form, dirty, (kept) => {
    const restored = keptPatientForm(kept);
    if (!restored || props.initialName) return false;
    setForm(restored);
    return true;
  });
  const confirmLeave = useConfirm(en.unsaved.stay);
  const discard = () => { forget(); props.onCancel(); };
  const cancel = () => dirty
    ? confirmLeave.ask({ title: en.unsaved.discardTitle, body: en.unsaved.discardBody(en.unsaved.patient), confirmLabel: en.unsaved.discard, danger: true, action: discard })
    : discard();
  // Patients of the clinic who are probably this one (same mobile or ABHA number and a
  // similar name: the shared duplicate rule, run on the PC, offline too). Shown once; a
  // second Save registers anyway (the server then puts the pair in the conflict inbox).
  const [duplicates, setDuplicates] = useState<LikelyDuplicate[] | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const { busy, error, run } = useAction();
  const set = (k: keyof Form) => (v: string) => { setForm({ ...form, [k]: v }); setDuplicates(null); };

  const submit = async (e: Event, andQueue = false) => {
    e.preventDefault();
    const checked = validatePatient(form);
    if (!checked.ok) { setErrors(checked.errors); return; }
    setErrors({});
    const v = checked.value;
    if (!props.patient && duplicates === null) {
      const found = await run(() => api.likelyDuplicates({ ...v, id: null }));
      if (found === undefined) return;
      if (found.length > 0) { setDuplicates(found); return; }
    }
    const saved = await run(() =>
      props.patient
        ? api.updatePatient(props.patient.id, {
            base_version: props.patient.version, name: v.name, sex: v.sex, date_of_birth: v.date_of_birth,
            // An empty string clears an optional text field (see PatientPatch).
            phone: v.phone ?? "", address: v.address ?? "", abha_number: v.abha_number ?? "",
          })
        : api.createPatient({ ...v, id: null }),
    );
    if (!saved) return;
    if (andQueue && queue && doctorId) {
      // Checked in now, with the doctor, for a quarter of an hour: the walk-in's place in
      // today's queue (two local writes, each through the shared rules; synced later).
      const queued = await run(async () => {
        const now = new Date();
        const visit = await api.bookAppointment({
          id: null, patient_id: saved.id, doctor_id: doctorId, starts_at: now.toISOString(),
          ends_at: new Date(now.getTime() + 15 * 60_000).toISOString(), reason: en.queue.walkIn,
        });
        await api.updateAppointment(visit.id, { base_version: visit.version, status: "checked_in" });
        return true;
      });
      if (queued) {
        forget();
        rememberDoctor(queue.clinicId, doctorId);
        queue.onQueued(saved, queue.doctors.find((d) => d.user.id === doctorId)?.user.display_name ?? "");
        return;
      }
    }
    forget();
    props.onSaved(saved);
  };

  const sexes: Array<[Sex, string]> = SEXES.map((s) => [s, en.patient.sexes[s]]);
  return (
    <form class="card patient-form" onSubmit={submit} data-testid="patient-form"
      onKeyDown={(e) => {
        if (queue && e.key === "Enter" && (e.ctrlKey || e.metaKey)) submit(e, true);
        // Esc cancels, asking first when something was typed (as the Cancel button does).
        if (e.key === "Escape" && !confirmLeave.open) { e.preventDefault(); cancel(); }
      }}>
      <h2>{props.patient ? en.patient.editTitle : en.patient.newTitle}</h2>
      <ErrorBanner error={error} />
      {restoredAt && <p class="notice" data-testid="form-restored">{en.unsaved.restored(restoredAt)}</p>}
      <div class="grid2">
        <Field name="name" label={en.patient.name} value={form.name} onInput={set("name")} error={errors.name} autoFocus={!props.initialName} required />
        <Select name="sex" label={en.patient.sex} value={form.sex} options={sexes} onChange={(v) => setForm({ ...form, sex: v })} />
        <Field name="dob" label={en.patient.dobOrAge} value={form.dob} onInput={set("dob")} error={errors.dob} placeholder="DD/MM/YYYY or 45" autoFocus={!!props.initialName} />
        <Field name="phone" label={en.patient.phone} value={form.phone} onInput={set("phone")} error={errors.phone} type="tel" placeholder="+91 98765 43210" />
        <Field name="abha" label={`${en.patient.abha} (${en.common.optional})`} value={form.abha} onInput={set("abha")} error={errors.abha} placeholder="12-3456-7890-1234" />
        <Field name="address" label={en.patient.address} value={form.address} onInput={set("address")} error={errors.address} multiline />
      </div>
      {duplicates && duplicates.length > 0 && (
        <div class="banner warn" role="alert" data-testid="likely-duplicates">
          <p>{en.patient.likelyDuplicates}</p>
          <ul>
            {duplicates.map((d) => (
              <li key={d.patient.id}>
                <button type="button" class="link" onClick={() => props.onChooseExisting?.(d.patient)}>
                  {en.patient.existing(d.patient.patient_number, d.patient.name, d.patient.date_of_birth ? formatDate(d.patient.date_of_birth) : null)}
                </button>
                {" "}<span class="muted">{en.patient.duplicateReasons[d.reason]}</span>
              </li>
            ))}
          </ul>
          <p class="muted">{en.patient.registerAnyway}</p>
        </div>
      )}
      <div class="actions">
        {queue && queue.doctors.length > 1 && (
          <Select name="queue-doctor" label={en.patient.queueDoctor} value={doctorId}
            options={queue.doctors.map((d) => [d.user.id, d.user.display_name] as [string, string])} onChange={setDoctorId} />
        )}
        <button type="submit" class="primary" disabled={busy}>{duplicates && duplicates.length > 0 ? en.patient.saveAnyway : en.common.save}</button>
        {queue && doctorId && (
          <button type="button" data-testid="save-and-queue" disabled={busy} onClick={(e) => submit(e, true)}>{en.patient.saveAndQueue}</button>
        )}
        <button type="button" onClick={cancel}>{en.common.cancel}</button>
      </div>
      {confirmLeave.dialog}
    </form>
  );
}

/** A kept patient form, if it has the form's shape (anything else kept is ignored). */
function keptPatientForm(data: unknown): Form | null {
  if (typeof data !== "object" || data === null) return null;
  const o = data as Record<string, unknown>;
  const keys: Array<keyof Form> = ["name", "sex", "dob", "phone", "address", "abha"];
  if (!keys.every((k) => typeof o[k] === "string")) return null;
  if (!SEXES.includes(o.sex as Sex)) return null;
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as unknown as Form;
}
