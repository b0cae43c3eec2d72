import { describe, expect, it } from "vitest";
import { clinicToReopen } from "./ClinicSwitcher";
import type { Membership, SessionView } from "../lib/types";

const m = (id: string): Membership => ({ clinic_id: id, clinic_name: id, group_id: "g", group_name: "G", role: "doctor" });
const session = (memberships: Membership[], last: string | null): SessionView => ({
  server: "http://x", user: { id: "u", email: "u@x.in", display_name: "U" }, memberships,
  offline: false, offline_lease_until: null, last_clinic_id: last,
});

describe("clinicToReopen", () => {
  it("reopens the last clinic while it is still a membership", () => {
    expect(clinicToReopen(session([m("a"), m("b")], "b"))).toBe("b");
  });
  it("ignores a last clinic the user no longer belongs to", () => {
    expect(clinicToReopen(session([m("a"), m("b")], "gone"))).toBeNull();
  });
  it("opens the only clinic straight away", () => {
    expect(clinicToReopen(session([m("a")], null))).toBe("a");
  });
  it("asks when there are several and none was opened here", () => {
    expect(clinicToReopen(session([m("a"), m("b")], null))).toBeNull();
    expect(clinicToReopen(session([], null))).toBeNull();
  });
});
