// The session shown from the keyring at start goes online in the background; what the app
// frame does with the answer (`session://changed`), kept apart from the frame to be tested.

import type { SessionChange, SessionView, UiError } from "./types";

/** What the frame holds that a session change touches. */
export interface Frame {
  session: SessionView | null;
  /** A clinic is open. */
  clinicOpen: boolean;
  /** Reopen the last (or only) clinic. */
  autoOpen: boolean;
  error: UiError | null;
}

/** The frame after a change: online, the session as the server now has it (and the open
 * clinic closed to be opened again when the core closed it); ended, back to the sign-in with
 * the reason. */
export function applySessionChange(frame: Frame, change: SessionChange): Frame {
  if (change.kind === "ended") {
    return { session: null, clinicOpen: false, autoOpen: true, error: change.error };
  }
  if (change.reopen) {
    return { ...frame, session: change.session, clinicOpen: false, autoOpen: true };
  }
  return { ...frame, session: change.session };
}

/** The start-up's own answer (`current_session`) may arrive after a change that was sent
 * while it was on its way; the change is newer and wins. */
export function sessionAtStart(answer: SessionView | null, seen: SessionChange | null): SessionView | null {
  if (!seen) return answer;
  return seen.kind === "online" ? seen.session : null;
}
