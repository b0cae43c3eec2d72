// The conflict inbox: changes that could not merge silently, shown to a person.

import { api } from "../lib/ipc";
import { useClinicData } from "../lib/useClinicData";
import { formatDateTime } from "../lib/dates";
import { conflictField, conflictThing, conflictValue } from "../lib/conflicts";
import type { AppointmentRow, ClinicView, Conflict, Member, Role, SessionView, Uuid } from "../lib/types";
import { doctorName, useDoctors } from "../lib/doctors";
import { formatTime } from "../lib/dates";
import { doubleBookingIds } from "../lib/conflicts";
import { canMergePatients } from "../lib/roles";
import { en } from "../strings/en";
import { ErrorBanner, useAction } from "../components/common";
import { useConfirm } from "../components/ConfirmDialog";


/** A record a duplicate-patient conflict names (`rules::duplicates` on the server). */
interface NamedPatient { id: Uuid; patient_number: number; name: string; date_of_birth?: string | null }

const namedPatients = (value: unknown): NamedPatient[] =>
  (Array.isArray(value) ? value : []).filter((v): v is NamedPatient => typeof v === "object" && v !== null && "id" in v && "name" in v);

export function ConflictInbox(props: { role: Role; clinic: ClinicView; session: SessionView }) {
  const { error: actionError, run } = useAction();
  const doctors = useDoctors(props.clinic, props.session);
  const { data: items, error: loadError, reload: load } = useClinicData(() => api.listConflicts(), [], [] as Conflict[]);
  const error = actionError ?? loadError;
  // Marking resolved keeps the server's value for good (this device's stays on record only):
  // asked first, like every irreversible act.
  const confirm = useConfirm(en.common.cancel);

  return (
    <section>
      <h2>{en.conflicts.title}</h2>
      <ErrorBanner error={error} />
      {confirm.dialog}
      {items.length === 0 && <p class="muted">{en.conflicts.empty}</p>}
      {items.map((c) => (
        <article class="card conflict" key={c.id}>
          <h3>{en.conflicts.kinds[c.kind] ?? c.kind} <span class="muted small">{conflictThing(c.entity)} · {formatDateTime(c.created_at)}</span></h3>
          {c.kind === "double_booking" ? (
            <DoubleBooking conflict={c} doctors={doctors}
              onCancel={(row) => confirm.ask({
                title: en.conflicts.cancelThisTitle(row.patient_name ?? "—", formatTime(row.appointment.starts_at)),
                body: en.conflicts.cancelThisBody, confirmLabel: en.conflicts.cancelThis, danger: true,
                // Two local writes, each through the shared rules, synced and audited: the
                // booking cancelled, then the conflict closed.
                action: () => run(async () => {
                  await api.updateAppointment(row.appointment.id, { base_version: row.appointment.version, status: "cancelled" });
                  await api.resolveConflict(c.id);
                  await load();
                }),
              })} />
          ) : c.kind === "duplicate_patient" ? (
            <table class="grid">
              <thead><tr><th>{en.conflicts.registered}</th><th>{en.conflicts.earlier}</th></tr></thead>
              <tbody><tr><td>{conflictValue(null, c.local_value)}</td><td>{conflictValue(null, c.server_value)}</td></tr></tbody>
            </table>
          ) : (
            <table class="grid">
              <thead><tr><th>{en.conflicts.field}</th><th>{en.conflicts.yours}</th><th>{en.conflicts.server}</th></tr></thead>
              <tbody><tr><td>{conflictField(c.field)}</td><td>{conflictValue(c.field, c.local_value)}</td><td>{conflictValue(c.field, c.server_value)}</td></tr></tbody>
            </table>
          )}
          {c.kind === "duplicate_patient" && canMergePatients(props.role) &&
            namedPatients(c.server_value).map((earlier) => {
              const into = conflictValue(null, { ...earlier, reason: undefined });
              const from = conflictValue(null, c.local_value);
              return (
                <button key={earlier.id} class="primary" data-testid="merge-patients" onClick={() => confirm.ask({
                  title: en.conflicts.mergeTitle, body: en.conflicts.mergeBody(from, into), confirmLabel: en.conflicts.merge,
                  action: () => run(async () => { await api.mergePatients(earlier.id, c.entity_id); await load(); }),
                })}>{en.conflicts.mergeInto(into)}</button>
              );
            })}
          {c.kind === "same_field" && c.field && c.local_value !== null && c.local_value !== undefined && (
            <button data-testid="conflict-use-device" onClick={() => confirm.ask({
              title: en.conflicts.useDeviceTitle,
              body: en.conflicts.useDeviceBody(conflictValue(c.field, c.local_value), conflictValue(c.field, c.server_value)),
              confirmLabel: en.conflicts.useDevice(conflictValue(c.field, c.local_value)),
              action: () => run(async () => { await api.resolveConflict(c.id, "use_client"); await load(); }),
            })}>{en.conflicts.useDevice(conflictValue(c.field, c.local_value))}</button>
          )}
          <button data-testid="conflict-resolve" onClick={() => confirm.ask(c.kind === "duplicate_patient"
            ? { title: en.conflicts.twoPeopleTitle, body: en.conflicts.twoPeopleBody, confirmLabel: en.conflicts.twoPeople,
                action: () => run(async () => { await api.resolveConflict(c.id); await load(); }) }
            : c.kind === "double_booking"
            ? { title: en.conflicts.keepBothTitle, body: en.conflicts.keepBothBody, confirmLabel: en.conflicts.keepBoth,
                action: () => run(async () => { await api.resolveConflict(c.id); await load(); }) }
            : { title: en.conflicts.resolveTitle, body: en.conflicts.resolveBody(conflictValue(c.field, c.server_value)), confirmLabel: en.conflicts.resolve,
                action: () => run(async () => { await api.resolveConflict(c.id); await load(); }) },
          )}>{c.kind === "duplicate_patient" ? en.conflicts.twoPeople : c.kind === "double_booking" ? en.conflicts.keepBoth : en.conflicts.resolve}</button>
        </article>
      ))}
    </section>
  );
}

/** The bookings of a double-booking conflict, each with its patient, time, doctor and state,
 * and a "Cancel this booking" choice for each one still on. */
function DoubleBooking(props: { conflict: Conflict; doctors: Member[]; onCancel: (row: AppointmentRow) => void }) {
  const ids = doubleBookingIds(props.conflict);
  const { data: rows } = useClinicData(() => api.appointmentsById(ids), [ids.join()], [] as AppointmentRow[]);
  if (rows.length === 0) return <p class="muted">{en.conflicts.bookingsGone}</p>;
  return (
    <table class="grid" data-testid="double-booking">
      <caption class="muted small">{en.conflicts.bookings}</caption>
      <thead><tr><th>{en.conflicts.patient}</th><th>{en.conflicts.time}</th><th>{en.conflicts.doctor}</th><th>{en.conflicts.state}</th><th /></tr></thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.appointment.id}>
            <td>{r.patient_name ?? "—"}</td>
            <td>{formatDateTime(r.appointment.starts_at)}–{formatTime(r.appointment.ends_at)}</td>
            <td>{doctorName(props.doctors, r.appointment.doctor_id)}</td>
            <td>{en.queue.status[r.appointment.status]}</td>
            <td>{r.appointment.status !== "cancelled" && r.appointment.status !== "no_show" && (
              <button class="small" data-testid="cancel-booking" onClick={() => props.onCancel(r)}>{en.conflicts.cancelThis}</button>
            )}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
