import { describe, expect, it } from "vitest";
import { documentKind, formatRate, GstFailure, ratesInForce, stateTaxLabel, sumLines, taxLine, todayInIndia } from "./gst";

// The same cases as `shared/src/gst.rs`, so client previews match the server's invoice.
describe("GST split", () => {
  it("splits intra-state supply into equal CGST and SGST", () => {
    expect(taxLine(2, 50_000, 0, 1800, "intra_state")).toEqual({
      taxable_paise: 100_000, cgst_paise: 9_000, sgst_paise: 9_000, igst_paise: 0, total_paise: 118_000,
    });
  });
  it("charges IGST on inter-state supply", () => {
    const t = taxLine(1, 33_333, 0, 1200, "inter_state");
    expect(t.igst_paise).toBe(4_000); // 3999.96 rounds to 4000
    expect(t.cgst_paise + t.sgst_paise).toBe(0);
    expect(t.total_paise).toBe(37_333);
  });
  it("rounds the halves separately so they stay equal", () => {
    const t = taxLine(1, 101, 0, 500, "intra_state");
    expect([t.cgst_paise, t.sgst_paise]).toEqual([3, 3]);
    expect(t.total_paise).toBe(107);
  });
  it("applies discounts before tax", () => {
    const t = taxLine(1, 100_000, 10_000, 1800, "intra_state");
    expect(t.taxable_paise).toBe(90_000);
    expect(t.cgst_paise).toBe(8_100);
  });
  it("exempt health services carry no tax", () => {
    const t = taxLine(1, 50_000, 0, 0, "intra_state");
    expect(t.total_paise).toBe(50_000);
  });
  it("rejects bad input like the server", () => {
    const kind = (f: () => unknown) => {
      try { f(); return null; } catch (e) { return (e as GstFailure).error.kind; }
    };
    expect(kind(() => taxLine(1, 100, 0, 1700, "intra_state"))).toBe("rate_not_allowed");
    expect(kind(() => taxLine(1, 100, 200, 0, "intra_state"))).toBe("negative_amount");
    expect(kind(() => taxLine(-1, 100, 0, 0, "intra_state"))).toBe("negative_amount");
    expect(kind(() => taxLine(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 0, 0, "intra_state"))).toBe("overflow");
  });
  it("sums lines", () => {
    const a = taxLine(2, 50_000, 0, 1800, "intra_state");
    const b = taxLine(1, 101, 0, 500, "intra_state");
    expect(sumLines([a, b])).toEqual({ taxable_paise: 100_101, cgst_paise: 9_003, sgst_paise: 9_003, igst_paise: 0, total_paise: 118_107 });
    expect(sumLines([])).toEqual({ taxable_paise: 0, cgst_paise: 0, sgst_paise: 0, igst_paise: 0, total_paise: 0 });
  });
  it("formats rates", () => {
    expect(formatRate(1800)).toBe("18%");
    expect(formatRate(25)).toBe("0.25%");
    expect(formatRate(10)).toBe("0.1%");
    expect(formatRate(0)).toBe("0%");
  });
});

// The same cases as `shared/src/gst.rs`'s schedule, document and UTGST tests.
describe("GST rules by date, document and state", () => {
  it("offers the schedule in force on the day", () => {
    expect(ratesInForce("2025-09-21")).toContain(1200);
    expect(ratesInForce("2025-09-21")).not.toContain(4000);
    expect(ratesInForce("2025-09-22")).toContain(4000);
    expect(ratesInForce("2025-09-22")).not.toContain(1200);
    expect(ratesInForce("2025-09-22")).not.toContain(2800);
  });
  it("dates in India", () => {
    expect(todayInIndia(new Date("2025-09-21T18:29:00Z"))).toBe("2025-09-21");
    expect(todayInIndia(new Date("2025-09-21T18:30:00Z"))).toBe("2025-09-22");
  });
  it("names the document by its lines", () => {
    expect(documentKind([0])).toBe("bill_of_supply");
    expect(documentKind([1800, 500])).toBe("tax_invoice");
    expect(documentKind([0, 500])).toBe("invoice_cum_bill_of_supply");
  });
  it("levies UTGST in union territories without a legislature", () => {
    expect(stateTaxLabel("04")).toBe("UTGST");
    expect(stateTaxLabel("38")).toBe("UTGST");
    expect(stateTaxLabel("07")).toBe("SGST");
    expect(stateTaxLabel("27")).toBe("SGST");
  });
});
