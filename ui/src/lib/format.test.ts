import { describe, expect, it } from "vitest";
import { formatPaise, groupIndian, paiseToInput, parseRupees } from "./money";
import { ageYears, dayRange, formatDate, formatDateTime, formatTime, isoDate, localInstant, parseDate, pcZoneDiffers, weekOf } from "./dates";
import { formatPhone, normalizePhone } from "./phone";
import { patientNumberLabel } from "./ids";

describe("money", () => {
  it("groups digits the Indian way", () => {
    expect(groupIndian("0")).toBe("0");
    expect(groupIndian("999")).toBe("999");
    expect(groupIndian("1000")).toBe("1,000");
    expect(groupIndian("100000")).toBe("1,00,000");
    expect(groupIndian("123456789")).toBe("12,34,56,789");
  });
  it("formats integer paise as rupees", () => {
    expect(formatPaise(12345678)).toBe("₹1,23,456.78");
    expect(formatPaise(0)).toBe("₹0.00");
    expect(formatPaise(5)).toBe("₹0.05");
    expect(formatPaise(100)).toBe("₹1.00");
    expect(formatPaise(-250050)).toBe("-₹2,500.50");
    expect(formatPaise(1000000000000n)).toBe("₹10,00,00,00,000.00");
    expect(formatPaise(12345678, { symbol: false })).toBe("1,23,456.78");
  });
  it("refuses non-integer paise", () => {
    expect(() => formatPaise(1.5)).toThrow();
  });
  it("parses typed amounts exactly", () => {
    expect(parseRupees("1,23,456.78")).toEqual({ ok: true, paise: 12345678 });
    expect(parseRupees("₹ 500")).toEqual({ ok: true, paise: 50000 });
    expect(parseRupees("99.5")).toEqual({ ok: true, paise: 9950 });
    expect(parseRupees("0.1")).toEqual({ ok: true, paise: 10 });
    // 0.1 + 0.2 style float errors never happen: 1.15 is 115 paise, not 114.99…
    expect(parseRupees("1.15")).toEqual({ ok: true, paise: 115 });
    expect(parseRupees("")).toEqual({ ok: false, error: "empty" });
    expect(parseRupees("-5")).toEqual({ ok: false, error: "invalid" });
    expect(parseRupees("1.234")).toEqual({ ok: false, error: "too_many_decimals" });
    expect(parseRupees("abc")).toEqual({ ok: false, error: "invalid" });
    expect(parseRupees("999999999999999999")).toEqual({ ok: false, error: "too_large" });
    expect(paiseToInput(12345678)).toBe("123456.78");
  });
});

describe("dates", () => {
  // Instants are written with their offset: these hold whatever zone the test runs in
  // (scripts/test.sh runs the UI tests under several), as the app's do on any PC.
  it("formats ISO dates as DD/MM/YYYY", () => {
    expect(formatDate("1990-04-07")).toBe("07/04/1990");
    expect(formatDate(new Date("2025-01-05T10:00:00+05:30"))).toBe("05/01/2025");
    expect(formatDate(null)).toBe("");
    expect(formatDateTime(new Date("2025-12-31T09:05:00+05:30"))).toBe("31/12/2025 09:05");
  });
  it("shows the clinic's clock (IST), not the PC's zone", () => {
    // 20:00 UTC on 31 March is 01:30 on 1 April at the clinic: another day, another
    // financial year.
    const late = "2026-03-31T20:00:00Z";
    expect(formatDateTime(late)).toBe("01/04/2026 01:30");
    expect(isoDate(new Date(late))).toBe("2026-04-01");
    expect(formatTime("2026-06-01T04:30:00Z")).toBe("10:00");
    expect(localInstant("2026-06-01", "10:00")).toBe("2026-06-01T04:30:00.000Z");
    expect(dayRange("2026-06-01")).toEqual({ from: "2026-05-31T18:30:00.000Z", to: "2026-06-01T18:30:00.000Z" });
    expect(pcZoneDiffers(new Date()) === (new Date().getTimezoneOffset() !== -330)).toBe(true);
  });
  it("parses DD/MM/YYYY and rejects impossible dates", () => {
    expect(parseDate("07/04/1990")).toBe("1990-04-07");
    expect(parseDate("7/4/1990")).toBe("1990-04-07");
    expect(parseDate("07-04-1990")).toBe("1990-04-07");
    expect(parseDate("29/02/2024")).toBe("2024-02-29");
    expect(parseDate("29/02/2023")).toBeNull();
    expect(parseDate("31/04/2024")).toBeNull();
    expect(parseDate("04/31/2024")).toBeNull(); // US order is not accepted
    expect(parseDate("1990-04-07")).toBeNull();
    expect(parseDate("")).toBeNull();
  });
  it("computes weeks, days and ages", () => {
    const week = weekOf("2025-06-12"); // a Thursday
    expect(week[0]).toBe("2025-06-09");
    expect(week[6]).toBe("2025-06-15");
    expect(isoDate(new Date("2025-06-12T00:10:00+05:30"))).toBe("2025-06-12");
    const { from, to } = dayRange("2025-06-12");
    expect(new Date(to).getTime() - new Date(from).getTime()).toBe(24 * 3600 * 1000);
    const noon = new Date("2025-06-12T12:00:00+05:30");
    expect(ageYears("1990-06-13", noon)).toBe(34);
    expect(ageYears("1990-06-12", noon)).toBe(35);
  });
});

describe("phones", () => {
  it("normalises like the server", () => {
    expect(normalizePhone("98765 43210")).toEqual({ ok: true, value: "+919876543210" });
    expect(normalizePhone("+91-98765-43210")).toEqual({ ok: true, value: "+919876543210" });
    expect(normalizePhone("09876543210")).toEqual({ ok: true, value: "+919876543210" });
    expect(normalizePhone("919876543210")).toEqual({ ok: true, value: "+919876543210" });
    expect(normalizePhone("022 2345 6789")).toEqual({ ok: true, value: "02223456789" });
    expect(normalizePhone("+44 20 7946 0958")).toEqual({ ok: true, value: "+442079460958" });
    expect(normalizePhone("12345")).toEqual({ ok: false, error: "phone_mobile" });
    expect(normalizePhone("5876543210")).toEqual({ ok: false, error: "phone_mobile" });
    expect(normalizePhone("98765'; DROP TABLE x")).toEqual({ ok: false, error: "phone_chars" });
  });
  it("shows +91 mobiles grouped", () => {
    expect(formatPhone("+919876543210")).toBe("+91 98765 43210");
    expect(formatPhone("02223456789")).toBe("02223456789");
    expect(formatPhone(null)).toBe("");
  });
});

import { rupeesInWords } from "./money";
describe("amount in words", () => {
  it("uses lakh and crore", () => {
    expect(rupeesInWords(0)).toBe("Rupees Zero Only");
    expect(rupeesInWords(11800)).toBe("Rupees One Hundred Eighteen Only");
    expect(rupeesInWords(12345678)).toBe("Rupees One Lakh Twenty Three Thousand Four Hundred Fifty Six and Seventy Eight Paise Only");
    expect(rupeesInWords(250000000)).toBe("Rupees Twenty Five Lakh Only");
    expect(rupeesInWords(1500000000)).toBe("Rupees One Crore Fifty Lakh Only");
  });
});

import { shortId } from "./ids";
describe("shortId", () => {
  it("keeps the tail of a v7 UUID, where rows made together differ", () => {
    expect(shortId("019abc12-3456-7def-8123-456789abcdef")).toBe("89abcdef");
    expect(shortId("019abc12-3456-7def-8123-000000000001")).not.toBe(shortId("019abc12-3456-7def-8123-000000000002"));
  });
});

describe("patient numbers", () => {
  it("never print #0 for a patient registered offline", () => {
    expect(patientNumberLabel(12, "number pending sync")).toBe("#12");
    expect(patientNumberLabel(0, "number pending sync")).toBe("number pending sync");
  });
});
