import { describe, expect, it } from "vitest";
import { birthDateFromAge, cleanText, formatAbha, isStateCode, normalizeAbha, validatePatient, type PatientForm } from "./validate";
import { canMoveTo, nextSteps, screensFor } from "./roles";
import { searchDrugs, DRUGS } from "./drugs";
import { en } from "../strings/en";

const form = (over: Partial<PatientForm> = {}): PatientForm => ({
  name: "Asha Devi", sex: "female", dob: "07/04/1990", phone: "98450 12345", address: "", abha: "", ...over,
});

describe("validation mirrors shared/src/validate.rs", () => {
  it("ABHA numbers", () => {
    expect(normalizeAbha("12-3456-7890-1234")).toBe("12345678901234");
    expect(normalizeAbha("1234")).toBeNull();
    expect(normalizeAbha("12-3456-7890-123a")).toBeNull();
    expect(formatAbha("12345678901234")).toBe("12-3456-7890-1234");
  });
  it("free text", () => {
    expect(cleanText("  a'b\"c  ", 10)).toEqual({ ok: true, value: "a'b\"c" });
    expect(cleanText("a\u0000b", 10).ok).toBe(false);
    expect(cleanText("line\nbreak\tok", 20)).toEqual({ ok: true, value: "line\nbreak\tok" });
    expect(cleanText("abcdef", 3)).toEqual({ ok: false, error: "Text must be at most 3 characters." });
  });
  it("state codes", () => {
    expect(isStateCode("27")).toBe(true);
    expect(isStateCode("97")).toBe(true);
    expect(isStateCode("00")).toBe(false);
    expect(isStateCode("39")).toBe(false);
    expect(isStateCode("2a")).toBe(false);
  });
});

describe("patient form", () => {
  it("accepts and normalises a valid patient", () => {
    const r = validatePatient(form({ abha: "12-3456-7890-1234", address: "  MG Road, Pune " }), new Date("2025-01-01T12:00:00+05:30"));
    expect(r).toEqual({
      ok: true,
      value: {
        name: "Asha Devi", sex: "female", date_of_birth: "1990-04-07", phone: "+919845012345",
        address: "MG Road, Pune", abha_number: "12345678901234",
      },
    });
  });
  it("reports every bad field with the shared wording", () => {
    const r = validatePatient(form({ name: " ", dob: "31/02/2000", phone: "12345", abha: "99" }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors.name).toBe(en.validation.required);
      expect(r.errors.dob).toBe(en.validation.dateOrAge);
      expect(r.errors.phone).toBe("Enter a 10-digit mobile number, optionally with +91.");
      expect(r.errors.abha).toBe("An ABHA number has 14 digits.");
    }
  });
  it("refuses a date of birth in the future", () => {
    const r = validatePatient(form({ dob: "01/01/2030" }), new Date("2025-01-01T12:00:00+05:30"));
    expect(r.ok).toBe(false);
  });
  it("optional fields may be empty", () => {
    const r = validatePatient(form({ dob: "", phone: "" }));
    expect(r.ok && r.value.date_of_birth === null && r.value.phone === null).toBe(true);
  });
});

describe("roles and queue", () => {
  it("front desk sees no clinical screen; doctors and admins see theirs", () => {
    expect(screensFor("front_desk")).not.toContain("doctor");
    expect(screensFor("doctor")).toContain("doctor");
    expect(screensFor("admin")).toContain("admin");
    expect(screensFor("admin")).not.toContain("doctor");
  });
  it("the queue only moves forward", () => {
    expect(canMoveTo("booked", "checked_in")).toBe(true);
    expect(canMoveTo("completed", "booked")).toBe(false);
    expect(nextSteps("booked")).toEqual(["checked_in", "no_show", "cancelled"]);
    expect(nextSteps("in_consultation")).toEqual(["completed"]);
    expect(nextSteps("completed")).toEqual([]);
  });
});

describe("drug list", () => {
  it("ships a few hundred generics with strengths", () => {
    expect(DRUGS.length).toBeGreaterThanOrEqual(300);
    expect(DRUGS.every((d) => d.name && d.form && d.strengths.length > 0)).toBe(true);
  });
  it("finds drugs by word prefixes", () => {
    const hits = searchDrugs("para");
    expect(hits[0].name).toBe("Paracetamol");
    expect(searchDrugs("amox clav").some((d) => d.name === "Amoxicillin + Clavulanic acid")).toBe(true);
    expect(searchDrugs("")).toEqual([]);
  });
});

describe("an age for the date of birth", () => {
  it("gives the date that many years or months before today", () => {
    expect(birthDateFromAge("45", "2026-12-07")).toBe("1981-12-07");
    expect(birthDateFromAge("45 yrs", "2026-12-07")).toBe("1981-12-07");
    expect(birthDateFromAge("45Y", "2026-12-07")).toBe("1981-12-07");
    expect(birthDateFromAge("8 months", "2026-12-07")).toBe("2026-04-07");
    expect(birthDateFromAge("1m", "2026-03-31")).toBe("2026-02-28");
    expect(birthDateFromAge("0", "2026-12-07")).toBe("2026-12-07");
  });
  it("refuses what is not an age", () => {
    for (const bad of ["", "abc", "45 days", "131", "40 months", "4.5", "-3"]) {
      expect(birthDateFromAge(bad, "2026-12-07")).toBeNull();
    }
  });
  it("is accepted by the patient form, a date still preferred", () => {
    const form = { name: "Lakshmi", sex: "female" as const, dob: "62", phone: "", address: "", abha: "" };
    const today = new Date("2026-12-07T06:00:00Z");
    const v = validatePatient(form, today);
    expect(v.ok && v.value.date_of_birth).toBe("1964-12-07");
    const dated = validatePatient({ ...form, dob: "05/06/1979" }, today);
    expect(dated.ok && dated.value.date_of_birth).toBe("1979-06-05");
    const bad = validatePatient({ ...form, dob: "sixty" }, today);
    expect(!bad.ok && bad.errors.dob).toMatch(/age/);
  });
});
