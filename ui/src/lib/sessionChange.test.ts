import { describe, expect, it } from "vitest";
import { applySessionChange, sessionAtStart, type Frame } from "./sessionChange";
import type { SessionView } from "./types";

const view = (offline: boolean): SessionView => ({
  server: "http://x", user: { id: "u", email: "u@x.in", display_name: "U" },
  memberships: [{ clinic_id: "a", clinic_name: "A", group_id: "g", group_name: "G", role: "doctor" }],
  offline, offline_lease_until: null, last_clinic_id: "a",
});
const open: Frame = { session: view(true), clinicOpen: true, autoOpen: false, error: null };

describe("a session shown from the keyring going online", () => {
  it("takes the online session and keeps the clinic open", () => {
    const next = applySessionChange(open, { kind: "online", session: view(false), reopen: false });
    expect(next.session?.offline).toBe(false);
    expect(next.clinicOpen).toBe(true);
  });
  it("opens the clinic again when the core closed it", () => {
    const next = applySessionChange(open, { kind: "online", session: view(false), reopen: true });
    expect(next).toMatchObject({ clinicOpen: false, autoOpen: true });
  });
  it("goes back to the sign-in, saying why, when the server refused the session", () => {
    const error = { code: "unauthenticated", message: "ended" };
    expect(applySessionChange(open, { kind: "ended", error })).toEqual({ session: null, clinicOpen: false, autoOpen: true, error });
  });
  it("lets a change that came first win over the start-up's own answer", () => {
    expect(sessionAtStart(view(true), null)?.offline).toBe(true);
    expect(sessionAtStart(view(true), { kind: "online", session: view(false), reopen: false })?.offline).toBe(false);
    expect(sessionAtStart(view(true), { kind: "ended", error: { code: "unauthenticated", message: "" } })).toBeNull();
  });
});
