// The front desk: find or register patients, run today's queue, book appointments and bill.
// Front desk never sees clinical notes (the chart shown here has none).

import { AllergyBadge } from "../components/Allergies";
import { useState } from "preact/hooks";
import type { Allergy, ClinicView, Patient, SessionView } from "../lib/types";
import { formatDate, ageYears } from "../lib/dates";
import { formatPhone } from "../lib/phone";
import { formatAbha } from "../lib/validate";
import { administeredBranches, canBill } from "../lib/roles";
import { en } from "../strings/en";
import { kbd, Notice, useShortcut } from "../components/common";
import type { ShortcutId } from "../lib/shortcuts";
import { clinicDataChanged } from "../lib/useClinicData";
import { PatientSearch } from "../components/PatientSearch";
import { PatientForm } from "../components/PatientForm";
import { useDoctors } from "../lib/doctors";
import { useLeaveGuard } from "../components/ConfirmDialog";
import { Queue } from "./Queue";
import { Appointments } from "./Appointments";
import { Invoices } from "./Invoices";
import { Collections } from "./Collections";

type Tab = "patients" | "queue" | "appointments" | "invoices" | "collections";

export function FrontDesk(props: { clinic: ClinicView; session: SessionView; onAccessLog?: (p: Patient) => void }) {
  const [tab, setTab] = useState<Tab>("patients");
  const [patient, setPatient] = useState<Patient | null>(null);
  const [editing, setEditing] = useState<"new" | "edit" | null>(null);
  // The name typed in a search that found nobody: the new patient's form starts from it.
  const [typedName, setTypedName] = useState("");
  const doctors = useDoctors(props.clinic, props.session);
  const [notice, setNotice] = useState<string | null>(null);

  // Another tab unmounts the form on this one: with unsaved input, asked first.
  const { leave, dialog: leaveDialog } = useLeaveGuard();
  // Invoices only for roles that may bill (the shared permission table).
  const bill = canBill(props.clinic.membership.role);
  const tabs: Array<[Tab, string]> = [
    ["patients", en.nav.patients], ["queue", en.nav.queue], ["appointments", en.nav.appointments],
    ...(bill ? [["invoices", en.nav.invoices] as [Tab, string], ["collections", en.nav.collections] as [Tab, string]] : []),
  ];
  // The tab each shortcut opens (lib/shortcuts.ts); the same keys are shown on the tabs.
  const tabShortcut: Partial<Record<Tab, ShortcutId>> = { patients: "search", queue: "queue", appointments: "book", ...(bill ? { invoices: "bill" as const } : {}) };
  const newPatient = (typed = "") => { setTypedName(typed); setEditing("new"); setNotice(null); };
  const focusSearch = () => requestAnimationFrame(() => document.querySelector<HTMLInputElement>(".front-desk input[name=patient-search]")?.focus());
  useShortcut("newPatient", () => leave(() => { setTab("patients"); newPatient(); }));
  useShortcut("search", () => leave(() => { setTab("patients"); setEditing(null); focusSearch(); }));
  useShortcut("queue", () => leave(() => setTab("queue")));
  useShortcut("book", () => leave(() => setTab("appointments")));
  useShortcut("bill", () => leave(() => setTab("invoices")), bill);
  return (
    <div class="front-desk">
      <nav class="subtabs">
        {tabs.map(([t, label]) => (
          <button key={t} class={t === tab ? "tab active" : "tab"} onClick={() => t !== tab && leave(() => setTab(t))} data-testid={`tab-${t}`}
            {...(tabShortcut[t] ? kbd(tabShortcut[t]!) : {})}>{label}</button>
        ))}
      </nav>
      {leaveDialog}
      {notice && <Notice>{notice}</Notice>}
      {tab === "patients" && (
        <div class="split">
          <section>
            <div class="row">
              <PatientSearch onChoose={(p) => { setPatient(p); setEditing(null); }}
                onRegister={newPatient} />
              <button class="primary" onClick={() => newPatient()} data-testid="register-patient" {...kbd("newPatient")}>{en.patient.register}</button>
            </div>
          </section>
          <section>
            {editing && (
              <PatientForm
                patient={editing === "edit" ? patient : null}
                onCancel={() => setEditing(null)}
                onSaved={(p) => { setPatient(p); setEditing(null); setNotice(en.patient.saved); clinicDataChanged(); }}
                onChooseExisting={(p) => { setPatient(p); setEditing(null); }}
                initialName={editing === "new" ? typedName : undefined}
                queue={{ clinicId: props.clinic.membership.clinic_id, doctors, onQueued: (p, doctor) => {
                  setPatient(p); setEditing(null); setNotice(en.patient.queued(p.name, doctor)); clinicDataChanged();
                } }}
              />
            )}
            {!editing && patient && (
              <PatientCard patient={patient} onEdit={() => setEditing("edit")} onBook={() => setTab("appointments")} onBill={bill ? () => setTab("invoices") : undefined}
                onAccessLog={props.onAccessLog && (() => props.onAccessLog!(patient))} />
            )}
          </section>
        </div>
      )}
      {tab === "queue" && <Queue clinic={props.clinic} session={props.session} />}
      {tab === "appointments" && <Appointments clinic={props.clinic} session={props.session} patient={patient} onChoosePatient={setPatient} />}
      {tab === "invoices" && bill && <Invoices clinic={props.clinic} userId={props.session.user.id} patient={patient} onChoosePatient={setPatient} />}
      {tab === "collections" && bill && (
        <Collections clinic={props.clinic}
          branches={administeredBranches(props.session.memberships, props.clinic.membership.group_id)} />
      )}
    </div>
  );
}

export function PatientCard(props: { patient: Patient; allergies?: Allergy[]; onEdit?: () => void; onBook?: () => void; onBill?: () => void; onAccessLog?: () => void }) {
  const p = props.patient;
  return (
    <article class="card patient-card" data-testid="patient-card">
      <h2>{p.name}</h2>
      <AllergyBadge patientId={p.id} allergies={props.allergies} />
      <dl class="facts">
        <dt>{en.patient.number}</dt><dd>{p.patient_number > 0 ? p.patient_number : en.patient.pendingNumber}</dd>
        <dt>{en.patient.sex}</dt><dd>{en.patient.sexes[p.sex]}{p.date_of_birth ? ` · ${en.patient.age(ageYears(p.date_of_birth))}` : ""}</dd>
        <dt>{en.patient.dob}</dt><dd>{formatDate(p.date_of_birth) || "—"}</dd>
        <dt>{en.patient.phone}</dt><dd>{formatPhone(p.phone) || "—"}</dd>
        <dt>{en.patient.abha}</dt><dd>{formatAbha(p.abha_number) || "—"}</dd>
        <dt>{en.patient.address}</dt><dd>{p.address || "—"}</dd>
      </dl>
      <div class="actions">
        {props.onEdit && <button onClick={props.onEdit}>{en.common.edit}</button>}
        {props.onBook && <button onClick={props.onBook} {...kbd("book")}>{en.patient.book}</button>}
        {props.onBill && <button onClick={props.onBill} {...kbd("bill")}>{en.patient.bill}</button>}
        {props.onAccessLog && <button class="subtle" data-testid="access-log" onClick={props.onAccessLog}>{en.patient.accessLog}</button>}
      </div>
    </article>
  );
}
