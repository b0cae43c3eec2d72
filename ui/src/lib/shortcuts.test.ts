import { describe, expect, it } from "vitest";
import { nextWaiting, SHORTCUTS, shortcutOf } from "./shortcuts";

const key = (code: string, mods: Partial<Record<"altKey" | "ctrlKey" | "metaKey" | "shiftKey", boolean>> = {}) =>
  ({ code, altKey: false, ctrlKey: false, metaKey: false, shiftKey: false, ...mods });

describe("front desk shortcuts", () => {
  it("maps Alt and a letter, by the physical key", () => {
    expect(shortcutOf(key("KeyN", { altKey: true }))).toBe("newPatient");
    expect(shortcutOf(key("KeyC", { altKey: true }))).toBe("callNext");
    expect(shortcutOf(key("KeyS", { altKey: true }))).toBe("search");
  });
  it("leaves typing and other combinations alone", () => {
    expect(shortcutOf(key("KeyN"))).toBeNull();
    expect(shortcutOf(key("KeyN", { altKey: true, ctrlKey: true }))).toBeNull();
    expect(shortcutOf(key("KeyN", { altKey: true, shiftKey: true }))).toBeNull();
    expect(shortcutOf(key("KeyZ", { altKey: true }))).toBeNull();
  });
  it("gives every shortcut its own key and a label naming it", () => {
    const codes = Object.values(SHORTCUTS).map((s) => s.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const s of Object.values(SHORTCUTS)) expect(s.label).toBe(`Alt+${s.code.slice(3)}`);
  });
  it("calls the first checked-in patient of the doctor", () => {
    const row = (status: string, doctor_id: string, name: string) => ({ appointment: { status, doctor_id }, name });
    const rows = [row("in_consultation", "d1", "A"), row("booked", "d1", "B"), row("checked_in", "d2", "C"), row("checked_in", "d1", "D")];
    expect(nextWaiting(rows, "d1")?.name).toBe("D");
    expect(nextWaiting(rows, null)?.name).toBe("C");
    expect(nextWaiting(rows, "d3")).toBeNull();
  });
});
