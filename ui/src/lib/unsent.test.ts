import { describe, expect, it } from "vitest";
import { corrections, describeChange, discardConsequence, fieldLabel, fromInput, isSynced, reasonText, statusCounts, toInput, waitingBy } from "./unsent";
import { clinicDataChanged, subscribeClinicChanges } from "./useClinicData";
import type { UnsentChange } from "./types";

const base: UnsentChange = {
  mutation_id: "m1", entity: "patient", entity_id: "p1", op: "create", patient_id: "p1",
  patient_name: "Asha Rao", patient_number: 0, starts_at: null, doctor_id: null, invoice_number: null,
  code: "invalid_field", message: "Enter a 10-digit mobile number, optionally with +91.", field: "phone",
  made_at: "2025-04-07T05:00:00Z", author_id: null, author_name: null, attempts: 1, editable: [{ name: "phone", value: "12345" }], may_change: true,
};

describe("unsent changes in words", () => {
  it("says what a change was", () => {
    expect(describeChange(base)).toBe("New patient Asha Rao");
    expect(describeChange({ ...base, entity: "invoice", entity_id: "i1", invoice_number: "Dab12cd/000005" }))
      .toBe("New invoice Dab12cd/000005 for Asha Rao");
    // 05:00 UTC is 10:30 in India (tests run with TZ=Asia/Kolkata).
    expect(describeChange({ ...base, entity: "appointment", op: "update", starts_at: "2025-04-07T05:00:00Z", doctor_id: "d1" }, () => "Dr. Mehta"))
      .toBe("Edit of appointment 10:30 with Dr. Mehta of Asha Rao");
    expect(describeChange({ ...base, op: "update", patient_name: null, patient_number: 42 })).toBe("Edit of patient patient no. 42");
    expect(describeChange({ ...base, entity: "payment", patient_name: null, patient_number: null })).toBe("New payment");
  });

  it("turns the server's code and message into sentences", () => {
    expect(reasonText(base)).toBe("The server did not accept a value. Enter a 10-digit mobile number, optionally with +91.");
    // The server's generic wording is not repeated after ours.
    expect(reasonText({ code: "forbidden", message: "Your role in this clinic does not allow this." }))
      .toBe("Your role in this clinic does not allow this change (it may have changed since you made it).");
    expect(reasonText({ code: "not_found", message: "Not found." }))
      .toBe("The record it refers to no longer exists on the server (it may have been deleted).");
    expect(reasonText({ code: "something_new", message: "Odd" })).toBe("Odd");
    expect(reasonText({ code: null, message: null })).toBe("An unexpected error occurred.");
  });

  it("labels fields for people", () => {
    expect(fieldLabel("abha_number")).toBe("ABHA number");
    expect(fieldLabel("some_field")).toBe("some field");
  });

  it("says what discarding does, with the cancelled invoice number", () => {
    expect(discardConsequence(base)[0]).toBe("The new patient Asha Rao will be removed from this PC. The server never had it.");
    const inv = discardConsequence({ ...base, entity: "invoice", invoice_number: "Dab12cd/000005" });
    expect(inv).toContain("Invoice number Dab12cd/000005 will be recorded as cancelled, so the series keeps no silent gap.");
    expect(inv[0]).toBe("The new invoice for Asha Rao will be removed from this PC. The server never had it.");
    expect(discardConsequence({ ...base, op: "update" })[0]).toMatch(/^Your edit of the patient Asha Rao is dropped/);
    expect(discardConsequence(base).slice(-1)[0]).toMatch(/audit trail/);
  });
});

describe("correction form values", () => {
  it("shows and reads back values in the kind they have", () => {
    expect(toInput({ name: "amount_paise", value: 125050 })).toBe("1250.50");
    expect(fromInput({ name: "amount_paise", value: 125050 }, "1,300")).toEqual({ ok: true, value: 130000 });
    expect(toInput({ name: "date_of_birth", value: "1990-04-07" })).toBe("07/04/1990");
    expect(fromInput({ name: "date_of_birth", value: "1990-04-07" }, "08/04/1990")).toEqual({ ok: true, value: "1990-04-08" });
    expect(fromInput({ name: "date_of_birth", value: null }, "")).toEqual({ ok: true, value: null });
    expect(fromInput({ name: "date_of_birth", value: null }, "31/02/1990").ok).toBe(false);
    expect(toInput({ name: "starts_at", value: "2025-04-07T05:00:00.000Z" })).toBe("07/04/2025 10:30");
    expect(fromInput({ name: "starts_at", value: "x" }, "07/04/2025 11:15")).toEqual({ ok: true, value: "2025-04-07T05:45:00.000Z" });
    expect(fromInput({ name: "phone", value: null }, "  ")).toEqual({ ok: true, value: null });
    expect(fromInput({ name: "quantity", value: 2 }, "2.5").ok).toBe(false);
  });

  it("sends only the values that changed, or the errors", () => {
    const fields = [{ name: "phone", value: "12345" }, { name: "name", value: "Asha Rao" }];
    expect(corrections(fields, { phone: "98450 12345", name: "Asha Rao" })).toEqual({ ok: true, values: { phone: "98450 12345" } });
    expect(corrections([{ name: "amount_paise", value: 100 }], { amount_paise: "abc" })).toEqual({
      ok: false, errors: { amount_paise: "Enter an amount in rupees, like 1,250.50." },
    });
  });
});

describe("status bar counts", () => {
  it("counts waiting and rejected changes apart", () => {
    expect(statusCounts({ pending: 3, rejected: 1 })).toEqual({ waiting: "3 changes waiting", rejected: "1 rejected" });
    expect(statusCounts({ pending: 0, rejected: 2 })).toEqual({ waiting: null, rejected: "2 rejected" });
    expect(statusCounts({ pending: 1, rejected: 0 })).toEqual({ waiting: "1 change waiting", rejected: null });
  });

  it("is not synced while the clinic hub holds a change the group server has not answered for", () => {
    const calm = { online: true, syncing: false, pending: 0, rejected: 0 };
    expect(isSynced(calm)).toBe(true);
    expect(isSynced({ ...calm, relayed: 2 })).toBe(false);
    expect(isSynced({ ...calm, rejected: 1 })).toBe(false);
    expect(isSynced({ ...calm, online: false })).toBe(false);
  });
});

describe("clinic data layer", () => {
  it("calls every registered loader when clinic data changes, until it unregisters", () => {
    let a = 0;
    let b = 0;
    const offA = subscribeClinicChanges(() => a++);
    const offB = subscribeClinicChanges(() => b++);
    clinicDataChanged();
    offA();
    clinicDataChanged();
    offB();
    expect([a, b]).toEqual([1, 2]);
  });
});

describe("whose work is waiting on a shared PC", () => {
  it("names each author with their count, oldest first", () => {
    expect(waitingBy([
      { author_id: "d", author_name: "Dr Rao", pending: 2, rejected: 1 },
      { author_id: "a", author_name: "Asha", pending: 1, rejected: 0 },
    ])).toBe("Dr Rao 3 · Asha 1");
  });
  it("says who when the name is unknown, and nothing when nothing waits", () => {
    expect(waitingBy([
      { author_id: "x", author_name: null, pending: 1, rejected: 0 },
      { author_id: null, author_name: null, pending: 0, rejected: 2 },
    ])).toBe("a former member 1 · this PC (before sign-in keys) 2");
    expect(waitingBy([])).toBeNull();
    expect(waitingBy(undefined)).toBeNull();
  });
});
