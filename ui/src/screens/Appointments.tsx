// Book, move and cancel appointments on a day or week view.

import { useState } from "preact/hooks";
import { useClinicData } from "../lib/useClinicData";
import { api } from "../lib/ipc";
import { addDays, dayRange, formatDate, formatTime, isoDate, localInstant, parseDate, startOfDay, weekOf } from "../lib/dates";
import { defaultDoctor, doctorName, rememberDoctor, useDoctors } from "../lib/doctors";
import type { AppointmentRow, ClinicView, Patient, SessionView } from "../lib/types";
import { en } from "../strings/en";
import { ErrorBanner, Field, Notice, useAction } from "../components/common";
import { useConfirm } from "../components/ConfirmDialog";
import { PatientSearch } from "../components/PatientSearch";
import { cleanText } from "../lib/validate";
import { nextFreeSlot } from "../lib/slots";

export function Appointments(props: { clinic: ClinicView; session: SessionView; patient: Patient | null; onChoosePatient: (p: Patient) => void }) {
  const doctors = useDoctors(props.clinic, props.session);
  const [view, setView] = useState<"day" | "week">("day");
  const [day, setDay] = useState(isoDate(new Date()));
  const [moving, setMoving] = useState<AppointmentRow | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const { error: actionError, run } = useAction();
  const confirm = useConfirm(en.queue.keepIt);

  const days = view === "day" ? [day] : weekOf(day);
  const { data: rows, error: loadError, reload: load } = useClinicData(() => {
    const from = dayRange(days[0]).from;
    const to = dayRange(days[days.length - 1]).to;
    return api.listAppointments(from, to, null);
  }, [day, view], [] as AppointmentRow[]);
  const error = actionError ?? loadError;

  const shift = (n: number) => setDay(isoDate(addDays(startOfDay(day), view === "day" ? n : 7 * n)));
  const cancel = (r: AppointmentRow) => confirm.ask({
    title: en.queue.confirmTitle(en.appointments.cancel, r.patient_name ?? "—"),
    body: en.queue.confirmCancel, confirmLabel: en.appointments.cancel, danger: true,
    action: () => run(async () => {
      await api.updateAppointment(r.appointment.id, { base_version: r.appointment.version, status: "cancelled" });
      load();
    }),
  });

  return (
    <section>
      <div class="row">
        <h2>{en.appointments.title}</h2>
        <button class={view === "day" ? "tab active" : "tab"} onClick={() => setView("day")}>{en.appointments.day}</button>
        <button class={view === "week" ? "tab active" : "tab"} onClick={() => setView("week")}>{en.appointments.week}</button>
        <button onClick={() => shift(-1)}>{en.common.previous}</button>
        <button onClick={() => setDay(isoDate(new Date()))}>{en.common.today}</button>
        <button onClick={() => shift(1)}>{en.common.next}</button>
        <strong>{formatDate(days[0])}{days.length > 1 ? ` – ${formatDate(days[days.length - 1])}` : ""}</strong>
      </div>
      <ErrorBanner error={error} />
      {confirm.dialog}
      {notice && <Notice>{notice}</Notice>}
      <div class="split">
        <div class={`calendar ${view}`}>
          {days.map((d) => (
            <div class="cal-day" key={d}>
              <h4>{formatDate(d)}</h4>
              {rows.filter((r) => isoDate(new Date(r.appointment.starts_at)) === d).map((r) => (
                <div key={r.appointment.id} class={`appt s-${r.appointment.status}`}>
                  <span class="time">{formatTime(r.appointment.starts_at)}–{formatTime(r.appointment.ends_at)}</span>
                  <span class="pname">{r.patient_name ?? "—"}</span>
                  <span class="muted small">{doctorName(doctors, r.appointment.doctor_id)} · {en.queue.status[r.appointment.status]}</span>
                  {(r.appointment.status === "booked" || r.appointment.status === "checked_in") && (
                    <span class="actions">
                      <button class="small" onClick={() => setMoving(r)}>{en.appointments.move}</button>
                      <button class="small subtle" onClick={() => cancel(r)}>{en.common.cancel}</button>
                    </span>
                  )}
                </div>
              ))}
            </div>
          ))}
        </div>
        <BookingForm
          key={moving?.appointment.id ?? "new"} clinicId={props.clinic.membership.clinic_id} doctors={doctors} day={day} rows={rows} patient={props.patient} moving={moving}
          onChoosePatient={props.onChoosePatient}
          onDone={(msg) => { setMoving(null); setNotice(msg); load(); }}
          onCancel={() => setMoving(null)}
        />
      </div>
    </section>
  );
}

function BookingForm(props: {
  clinicId: string; doctors: ReturnType<typeof useDoctors>; day: string; rows: AppointmentRow[]; patient: Patient | null; moving: AppointmentRow | null;
  onChoosePatient: (p: Patient) => void; onDone: (msg: string) => void; onCancel: () => void;
}) {
  const m = props.moving?.appointment;
  const [date, setDate] = useState(formatDate(m ? new Date(m.starts_at) : props.day));
  // Until a time is typed: the doctor's first free slot of the day (from now, today).
  const [typedStart, setStart] = useState<string | null>(m ? formatTime(m.starts_at) : null);
  const [minutes, setMinutes] = useState(m ? String((new Date(m.ends_at).getTime() - new Date(m.starts_at).getTime()) / 60000) : "15");
  // Until one is picked: the last doctor booked for on this PC, or the only one (the list
  // may arrive after the form opens).
  const [picked, setDoctor] = useState(m?.doctor_id ?? "");
  const doctor = picked || defaultDoctor(props.clinicId, props.doctors);
  const start = typedStart ?? nextFreeSlot(props.rows, doctor, parseDate(date) ?? props.day, new Date(), Number(minutes) > 0 ? Number(minutes) : 15);
  const [reason, setReason] = useState(m?.reason ?? "");
  const [errors, setErrors] = useState<Record<string, string>>({});
  // The patient just booked: the form is then ready for the next one (the next slot, a
  // patient to choose), so Enter again never books the same patient twice.
  const [bookedFor, setBookedFor] = useState<string | null>(null);
  const patient = props.patient && props.patient.id !== bookedFor ? props.patient : null;
  const { busy, error, run } = useAction();

  const submit = async (e: Event) => {
    e.preventDefault();
    const errs: Record<string, string> = {};
    const iso = parseDate(date);
    if (!iso) errs.date = en.validation.date;
    if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(start)) errs.start = en.validation.date;
    const mins = Number(minutes);
    if (!Number.isInteger(mins) || mins <= 0 || mins > 480) errs.minutes = en.validation.endBeforeStart;
    const r = cleanText(reason, 500);
    if (!r.ok) errs.reason = r.error;
    if (!m && !patient) errs.patient = en.appointments.choosePatient;
    if (!doctor) errs.doctor = en.validation.required;
    setErrors(errs);
    if (Object.keys(errs).length > 0 || !iso) return;
    const startsAt = localInstant(iso, start);
    const endsAt = new Date(new Date(startsAt).getTime() + mins * 60000).toISOString();
    const ok = await run(() =>
      m
        ? api.updateAppointment(m.id, { base_version: m.version, starts_at: startsAt, ends_at: endsAt })
        : api.bookAppointment({ id: null, patient_id: patient!.id, doctor_id: doctor, starts_at: startsAt, ends_at: endsAt, reason: r.ok && r.value ? r.value : null }),
    );
    if (!ok) return;
    if (!m) {
      rememberDoctor(props.clinicId, doctor);
      setBookedFor(patient!.id);
      setStart(formatTime(endsAt));
      setReason("");
    }
    props.onDone(m ? en.appointments.moved : en.appointments.booked);
  };

  return (
    <form class="card" onSubmit={submit}>
      <h3>{m ? `${en.appointments.move}: ${props.moving?.patient_name ?? ""}` : en.appointments.book}</h3>
      <ErrorBanner error={error} />
      {!m && (
        <div class="field">
          <label>{en.appointments.patient}</label>
          {patient ? <strong>{patient.name}</strong> : <span class="error-text">{errors.patient}</span>}
          <PatientSearch onChoose={(p) => { setBookedFor(null); props.onChoosePatient(p); }} compact />
        </div>
      )}
      {!m && (
        <div class="field">
          <label for="f-doctor">{en.appointments.doctor}</label>
          <select id="f-doctor" value={doctor} onChange={(e) => setDoctor((e.currentTarget as HTMLSelectElement).value)}>
            {props.doctors.map((d) => <option key={d.user.id} value={d.user.id}>{d.user.display_name}</option>)}
          </select>
          {errors.doctor && <small class="error-text">{errors.doctor}</small>}
        </div>
      )}
      <div class="grid3">
        <Field name="appt-date" label={en.appointments.date} value={date} onInput={setDate} error={errors.date} />
        <Field name="appt-start" label={en.appointments.start} value={start} onInput={setStart} error={errors.start} type="time" />
        <Field name="appt-minutes" label={en.appointments.minutes} value={minutes} onInput={setMinutes} error={errors.minutes} type="number" />
      </div>
      {!m && <Field name="appt-reason" label={en.appointments.reason} value={reason} onInput={setReason} error={errors.reason} />}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>{m ? en.appointments.move : en.appointments.book}</button>
        {m && <button type="button" onClick={props.onCancel}>{en.common.cancel}</button>}
      </div>
    </form>
  );
}
