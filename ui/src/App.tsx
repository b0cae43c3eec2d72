// The app's frame: sign in → choose a clinic → role-shaped screens, with the status bar
// always visible and a print host for A4 and 80 mm documents.

import { useEffect, useRef, useState } from "preact/hooks";
import { api, EVENTS, onEvent, toAppError } from "./lib/ipc";
import { applySessionChange, sessionAtStart } from "./lib/sessionChange";
import { administeredBranches, canReadAudit, screensFor, type Screen } from "./lib/roles";
import type { ClinicView, Patient, SessionChange, SessionView } from "./lib/types";
import { en } from "./strings/en";
import { StatusBar } from "./components/StatusBar";
import { UpdateBanner } from "./components/UpdateBanner";
import { ErrorBanner } from "./components/common";
import { useConfirm, useLeaveGuard } from "./components/ConfirmDialog";
import { SignIn } from "./screens/SignIn";
import { ClinicSwitcher, clinicToReopen } from "./screens/ClinicSwitcher";
import { FrontDesk } from "./screens/FrontDesk";
import { DoctorScreen } from "./screens/Doctor";
import { AdminScreen } from "./screens/Admin";
import { ConflictInbox } from "./screens/Conflicts";
import { UnsentChanges } from "./screens/UnsentChanges";
import { PrintHost } from "./print/Print";

/** Start-up is reported once, when the first interactive screen is on screen. */
let startupReported = false;
/** A session resume is in flight (it may wait on a keyring prompt). */
let resuming = false;
/** The latest change of the session shown from the keyring (it goes online in the
 * background), which may come before the start-up's own answer. */
let sessionChangeSeen: SessionChange | null = null;

export function App() {
  const [session, setSession] = useState<SessionView | null>(null);
  // The patient whose access log an admin opened from their card (Admin → Audit).
  const [auditPatient, setAuditPatient] = useState<Patient | null>(null);
  const [clinic, setClinic] = useState<ClinicView | null>(null);
  const [screen, setScreen] = useState<Screen>("desk");
  const [booting, setBooting] = useState(true);
  const [error, setError] = useState<unknown>(null);
  // Reopen the last (or only) clinic once per sign-in; "Switch clinic" then shows the list.
  const [autoOpen, setAutoOpen] = useState(true);
  // What a session change (an event, outside render) finds open.
  const sessionRef = useRef(session);
  sessionRef.current = session;
  const clinicRef = useRef(clinic);
  clinicRef.current = clinic;

  // A keyring prompt in progress (macOS asks after an update) is not an error: the resume
  // goes on in the core, and asking again waits on the same prompt.
  // The same goes for the one-time conversion of this PC's clinic files after an update.
  // What the resume is waiting on, while it waits.
  const [resumeWait, setResumeWait] = useState<"keyring_waiting" | "local_data_upgrading" | null>(null);
  const resume = () => {
    if (resuming) return; // "Try again" while a call already waits on the same prompt
    resuming = true;
    api.currentSession().finally(() => { resuming = false; }).then(
      (s) => {
        const started = sessionAtStart(s, sessionChangeSeen);
        setResumeWait(null);
        setSession(started);
        sessionRef.current = started;
        const reopen = started ? clinicToReopen(started) : null;
        if (!reopen) {
          setBooting(false);
          return;
        }
        // The clinic this PC reopens (the core opened it during the resume) is asked for
        // before anything is drawn: the first screen is the clinic's, without the list of
        // clinics drawn for a moment on the way (issue 15's cold start). If it does not
        // open, the list is shown with the reason.
        api.openClinic(reopen).then(
          (c) => {
            // Not if the session was refused meanwhile (signed out): its own message shows.
            if (sessionRef.current) {
              setClinic(c);
              setScreen(screensFor(c.membership.role)[0]);
            }
            setAutoOpen(false);
            setBooting(false);
          },
          (e) => {
            if (sessionRef.current) setError(e);
            setAutoOpen(false);
            setBooting(false);
          },
        );
      },
      (e) => {
        const code = toAppError(e).code;
        if (code === "keyring_waiting" || code === "local_data_upgrading") {
          setResumeWait(code);
          window.setTimeout(resume, 1000);
          return;
        }
        setResumeWait(null);
        setError(e);
        setBooting(false);
      },
    );
  };
  useEffect(() => {
    // Listening first: the session shown from the keyring may go online (or be refused)
    // right after the core answers.
    let unlisten: (() => void) | undefined;
    onEvent<SessionChange>(EVENTS.session, (change) => {
      sessionChangeSeen = change;
      const next = applySessionChange(
        { session: sessionRef.current, clinicOpen: clinicRef.current !== null, autoOpen: false, error: null }, change);
      setSession(next.session);
      sessionRef.current = next.session; // at once: a clinic being opened reads it (below)
      if (!next.clinicOpen) setClinic(null);
      if (next.autoOpen) setAutoOpen(true);
      if (next.error) setError(next.error);
    }).then((u) => { unlisten = u; }).finally(resume);
    return () => unlisten?.();
  }, []);

  useEffect(() => {
    if (startupReported || booting) return;
    const screen = !session ? "sign-in" : clinic ? "clinic" : autoOpen && clinicToReopen(session) ? null : "clinics";
    if (!screen) return; // still opening the clinic
    startupReported = true;
    api.uiReady(screen).catch(() => {});
  }, [booting, session, clinic, autoOpen]);

  const signOut = async () => {
    await api.signOut().catch(setError);
    setClinic(null);
    setSession(null);
  };
  // Signing out with work waiting, or without the server, says what happens first: the work
  // stays on this PC, and without the server only an offline sign-in (with the password,
  // within the offline lease) brings the user back.
  const confirm = useConfirm(en.clinics.stay);
  const { leave, dialog: leaveDialog } = useLeaveGuard();
  const askSignOut = async () => {
    const status = clinic ? await api.syncStatus().catch(() => null) : null;
    const waiting = status ? status.pending + (status.rejected ?? 0) : 0;
    if (!status || (status.online && waiting === 0)) return signOut();
    const lines = [
      waiting > 0 ? en.clinics.signOutWaiting(waiting) : null,
      !status.online ? en.clinics.signOutOffline : null,
    ].filter((l): l is string => l !== null);
    confirm.ask({ title: en.clinics.signOutTitle, body: lines.join(" "), confirmLabel: en.clinics.signOut, action: signOut });
  };

  let body;
  if (booting && resumeWait === "local_data_upgrading") {
    body = (
      <section class="card narrow" role="status" data-testid="local-data-upgrading">
        <h2>{en.keyring.upgradingTitle}</h2>
        <p>{en.keyring.upgradingBody}</p>
      </section>
    );
  }
  else if (booting && resumeWait === "keyring_waiting") {
    body = (
      <section class="card narrow" role="status" data-testid="keyring-waiting">
        <h2>{en.keyring.waitingTitle}</h2>
        <p>{en.keyring.waitingBody}</p>
        <p class="muted">{en.keyring.waitingHint}</p>
        <button onClick={() => { resume(); }}>{en.keyring.retry}</button>
      </section>
    );
  }
  else if (booting) body = <p class="muted center">{en.common.loading}</p>;
  else if (!session) body = <SignIn onSignedIn={(s) => { setSession(s); setAutoOpen(true); }} />;
  else if (!clinic) {
    body = (
      <ClinicSwitcher
        session={session} autoOpen={autoOpen ? clinicToReopen(session) : null} onSignOut={signOut} onSession={setSession}
        onOpen={(c) => { setClinic(c); setScreen(screensFor(c.membership.role)[0]); setAutoOpen(false); }}
      />
    );
  }
  else {
    const role = clinic.membership.role;
    const screens = screensFor(role);
    const label: Record<Screen, string> = { desk: en.nav.frontDesk, doctor: en.nav.doctor, admin: en.nav.admin, conflicts: en.nav.conflicts, unsent: en.nav.unsent };
    body = (
      <div class="workspace">
        <header class="topbar">
          <strong class="brand">{en.appName}</strong>
          <span class="clinic-name" data-testid="clinic-name">{clinic.membership.clinic_name}</span>
          <span class="role-badge">{en.roles[role]}</span>
          <nav>
            {screens.map((s) => (
              <button key={s} class={s === screen ? "tab active" : "tab"} onClick={() => s !== screen && leave(() => setScreen(s))} data-testid={`nav-${s}`}>{label[s]}</button>
            ))}
          </nav>
          <span class="spacer" />
          <span class="muted">{session.user.display_name}</span>
          <button class="link" onClick={() => leave(() => setClinic(null))}>{en.clinics.switch}</button>
          <button class="link" onClick={() => leave(askSignOut)}>{en.clinics.signOut}</button>
        </header>
        <main class="content">
          {clinic.clinical_locked && (
            <p class="banner error" role="alert" data-testid="clinical-locked">{en.clinics.clinicalLocked}</p>
          )}
          {screen === "desk" && <FrontDesk clinic={clinic} session={session}
            onAccessLog={canReadAudit(role) ? (p) => { setAuditPatient(p); setScreen("admin"); } : undefined} />}
          {screen === "doctor" && <DoctorScreen clinic={clinic} session={session} />}
          {screen === "admin" && <AdminScreen key={auditPatient?.id ?? "admin"} clinic={clinic} branches={administeredBranches(session.memberships, clinic.membership.group_id)} auditPatient={auditPatient} />}
          {screen === "conflicts" && <ConflictInbox role={role} clinic={clinic} session={session} />}
          {screen === "unsent" && <UnsentChanges clinic={clinic} session={session} />}
        </main>
      </div>
    );
  }

  return (
    <div class="app">
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <UpdateBanner signedIn={!!session} />
      {confirm.dialog}
      {leaveDialog}
      {body}
      <StatusBar active={!!clinic} onOpenConflicts={() => setScreen("conflicts")} onOpenUnsent={() => setScreen("unsent")} onSignInAgain={signOut} />
      <PrintHost />
    </div>
  );
}
