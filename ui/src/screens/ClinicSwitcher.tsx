import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/ipc";
import type { ClinicView, Invitation, SessionView } from "../lib/types";
import { en } from "../strings/en";
import { ErrorBanner, useAction } from "../components/common";

/** The clinic to open without asking: the one last opened here, or the only one. */
export function clinicToReopen(session: SessionView): string | null {
  if (session.last_clinic_id && session.memberships.some((m) => m.clinic_id === session.last_clinic_id)) {
    return session.last_clinic_id;
  }
  return session.memberships.length === 1 ? session.memberships[0].clinic_id : null;
}

export function ClinicSwitcher(props: {
  session: SessionView; onOpen: (c: ClinicView) => void; onSignOut: () => void;
  /** Open this clinic straight away (app start); the list stays as the fallback. */
  autoOpen?: string | null;
  /** An invitation was accepted: the session now has the new clinic. */
  onSession?: (s: SessionView) => void;
}) {
  const { busy, error, run } = useAction();
  // Clinics that invited this person (online only; offline there are none to show).
  const [invitations, setInvitations] = useState<Invitation[]>([]);
  useEffect(() => {
    if (!props.session.offline) api.myInvitations().then(setInvitations, () => {});
  }, [props.session.user.id]);
  const answer = async (id: string, accept: boolean) => {
    const s = await run(() => api.answerInvitation(id, accept));
    if (s) {
      setInvitations(invitations.filter((i) => i.id !== id));
      props.onSession?.(s);
    }
  };
  const open = async (clinicId: string) => {
    const c = await run(() => api.openClinic(clinicId));
    if (c) props.onOpen(c);
  };
  useEffect(() => {
    if (props.autoOpen) open(props.autoOpen);
  }, []);
  // Branches grouped under their clinic group.
  const groups = new Map<string, typeof props.session.memberships>();
  for (const m of props.session.memberships) {
    groups.set(m.group_name, [...(groups.get(m.group_name) ?? []), m]);
  }
  return (
    <section class="card narrow">
      <h1>{en.clinics.title}</h1>
      <ErrorBanner error={error} />
      {[...groups.entries()].map(([group, ms]) => (
        <div key={group}>
          <h3 class="muted">{en.clinics.group}: {group}</h3>
          <ul class="clinic-list">
            {ms.map((m) => (
              <li key={m.clinic_id}>
                <button class="clinic" disabled={busy} onClick={() => open(m.clinic_id)} data-clinic={m.clinic_id}>
                  <strong>{m.clinic_name}</strong>
                  <span class="role-badge">{en.roles[m.role]}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      ))}
      {invitations.length > 0 && (
        <div data-testid="invitations">
          <h3>{en.clinics.invitations}</h3>
          <ul class="clinic-list">
            {invitations.map((i) => (
              <li key={i.id} class="row">
                <span>{en.clinics.invitation(i.clinic_name, en.roles[i.role], i.invited_by_name)}</span>
                <button class="primary small" disabled={busy} onClick={() => answer(i.id, true)}>{en.clinics.accept}</button>
                <button class="small subtle" disabled={busy} onClick={() => answer(i.id, false)}>{en.clinics.decline}</button>
              </li>
            ))}
          </ul>
        </div>
      )}
      <button class="link" onClick={props.onSignOut}>{en.clinics.signOut}</button>
    </section>
  );
}
