// Doctors of the open clinic, for the queue and booking. Members come from the server via the
// Rust core, which keeps the last list for offline use; on a device that has never fetched it
// the signed-in doctor is used.

import { useEffect, useState } from "preact/hooks";
import { api } from "./ipc";
import { shortId } from "./ids";
import type { ClinicView, MedicalRegistration, Member, SessionView, Uuid } from "./types";

export function useDoctors(clinic: ClinicView, session: SessionView): Member[] {
  const self: Member[] = clinic.membership.role === "doctor"
    ? [{ id: session.user.id, clinic_id: clinic.membership.clinic_id, user: session.user, role: "doctor", created_at: "", revoked_at: null }]
    : [];
  const [doctors, setDoctors] = useState<Member[]>(self);
  useEffect(() => {
    api.clinicDoctors().then((d) => { if (d.length > 0) setDoctors(d); }, () => {});
  }, [clinic.membership.clinic_id]);
  return doctors;
}

export function doctorName(doctors: Member[], id: string): string {
  return doctors.find((d) => d.user.id === id)?.user.display_name ?? `Dr. ${shortId(id)}`;
}

/** The prescribing doctor as printed: name, and the registration the clinic recorded. */
export function prescriber(doctors: Member[], id: string): { name: string; registration: MedicalRegistration | null } {
  const member = doctors.find((d) => d.user.id === id);
  return { name: member?.user.display_name ?? doctorName(doctors, id), registration: member?.registration ?? null };
}

/** The doctor a booking or a walk-in goes to: the last one this PC booked or queued for in
 * this clinic, else the only (or first) doctor. */
export function defaultDoctor(clinicId: Uuid, doctors: Member[]): string {
  const last = localStorage.getItem(`vaidya.queueDoctor.${clinicId}`);
  if (last && doctors.some((d) => d.user.id === last)) return last;
  return doctors[0]?.user.id ?? "";
}

/** Remembers the doctor just booked or queued for, as the next default on this PC. */
export function rememberDoctor(clinicId: Uuid, doctorId: string) {
  try { localStorage.setItem(`vaidya.queueDoctor.${clinicId}`, doctorId); } catch { /* a full or disabled store only loses the default */ }
}
