// Today's queue per doctor: check in → in consultation → done, or no-show / cancel.

import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/ipc";
import { useClinicData } from "../lib/useClinicData";
import { dayRange, formatTime, isoDate } from "../lib/dates";
import { doctorName, useDoctors } from "../lib/doctors";
import { nextSteps } from "../lib/roles";
import type { Appointment, AppointmentRow, AppointmentStatus, ClinicView, SessionView } from "../lib/types";
import { en } from "../strings/en";
import { ErrorBanner, kbd, useAction, useShortcut } from "../components/common";
import { nextWaiting } from "../lib/shortcuts";
import { useConfirm } from "../components/ConfirmDialog";

/** Minutes a checked-in patient has waited: since the check-in (the row's last change while
 * it is checked in); none for any other state. */
export function waitingMinutes(a: Appointment, now: Date): number | null {
  if (a.status !== "checked_in") return null;
  const since = Date.parse(a.updated_at);
  return Number.isNaN(since) ? null : Math.max(0, Math.floor((now.getTime() - since) / 60_000));
}

export function Queue(props: { clinic: ClinicView; session: SessionView }) {
  const doctors = useDoctors(props.clinic, props.session);
  const [doctor, setDoctor] = useState<string>("");
  const { error: actionError, run } = useAction();
  const confirm = useConfirm(en.queue.keepIt);
  const { data: rows, error: loadError, reload: load } = useClinicData(() => {
    const { from, to } = dayRange(isoDate(new Date()));
    return api.listAppointments(from, to, doctor || null);
  }, [doctor], [] as AppointmentRow[]);
  const error = actionError ?? loadError;

  const apply = (row: AppointmentRow, status: AppointmentStatus) =>
    run(async () => {
      await api.updateAppointment(row.appointment.id, { base_version: row.appointment.version, status });
      load();
    });
  // Cancelling and no-show end the visit: asked first, with what follows.
  const move = (row: AppointmentRow, status: AppointmentStatus) =>
    status === "cancelled" || status === "no_show"
      ? confirm.ask({
        title: en.queue.confirmTitle(en.queue.action[status], row.patient_name ?? "—"),
        body: status === "cancelled" ? en.queue.confirmCancel : en.queue.confirmNoShow,
        confirmLabel: en.queue.action[status], danger: true, action: () => apply(row, status),
      })
      : apply(row, status);

  // "Call next": the chosen doctor's (or the only doctor's) first waiting patient goes in.
  const callFor = doctor || (doctors.length === 1 ? doctors[0].user.id : "");
  const next = callFor ? nextWaiting(rows, callFor) : null;
  const callNext = () => { if (next) apply(next, "in_consultation"); };
  useShortcut("callNext", callNext);

  // Waiting times move on by the minute without a reload.
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const t = setInterval(() => setNow(new Date()), 30_000);
    return () => clearInterval(t);
  }, []);
  const byDoctor = new Map<string, AppointmentRow[]>();
  for (const r of rows) byDoctor.set(r.appointment.doctor_id, [...(byDoctor.get(r.appointment.doctor_id) ?? []), r]);

  return (
    <section>
      <div class="row">
        <h2>{en.queue.title}</h2>
        <select aria-label={en.queue.doctor} value={doctor} onChange={(e) => setDoctor((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">{en.queue.allDoctors}</option>
          {doctors.map((d) => <option key={d.user.id} value={d.user.id}>{d.user.display_name}</option>)}
        </select>
        <button onClick={callNext} disabled={!next} data-testid="call-next" {...kbd("callNext")}
          title={!callFor ? en.queue.chooseDoctorToCall : next ? en.queue.callNextTitle(next.patient_name ?? "—") : en.queue.nobodyWaiting}>
          {en.queue.callNext}
        </button>
      </div>
      <ErrorBanner error={error} />
      {confirm.dialog}
      {rows.length === 0 && <p class="muted">{en.queue.empty}</p>}
      <div class="queue-columns">
        {[...byDoctor.entries()].map(([doctorId, list]) => (
          <div class="card queue" key={doctorId}>
            <h3>{doctorName(doctors, doctorId)}</h3>
            <ol>
              {list.map((r, i) => (
                <li key={r.appointment.id} class={`q-${r.appointment.status}`}>
                  {/* The day's token per doctor, in booking order (stable when someone cancels). */}
                  <span class="token" data-testid="token">{en.queue.token(i + 1)}</span>
                  <span class="time">{formatTime(r.appointment.starts_at)}</span>
                  <span class="pname">{r.patient_name ?? "—"}</span>
                  <span class={`status s-${r.appointment.status}`}>{en.queue.status[r.appointment.status]}</span>
                  {waitingMinutes(r.appointment, now) !== null && (
                    <span class="muted small" data-testid="waiting">{en.queue.waiting(waitingMinutes(r.appointment, now)!)}</span>
                  )}
                  <span class="actions">
                    {nextSteps(r.appointment.status).map((s) => (
                      <button key={s} class={s === "cancelled" || s === "no_show" ? "small subtle" : "small"} onClick={() => move(r, s)}>
                        {en.queue.action[s]}
                      </button>
                    ))}
                  </span>
                </li>
              ))}
            </ol>
          </div>
        ))}
      </div>
    </section>
  );
}
