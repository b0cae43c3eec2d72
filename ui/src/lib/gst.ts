// GST arithmetic mirroring `shared/src/gst.rs`: integer paise, rates in basis points,
// CGST+SGST (half each, rounded separately) for intra-state supply, IGST for inter-state.
// The server is authoritative; the UI previews the same numbers offline. BigInt keeps the
// intermediate products exact, as i128 does in Rust.

import type { LineTax, SupplyKind } from "../generated/types";
import rules from "../generated/rules.json";
import { isoDate } from "./dates";

export type { LineTax, SupplyKind };

/** Every rate a stored line may hold, from the shared rules (`shared::gst::ALLOWED_RATES_BP`). */
export const ALLOWED_RATES_BP: readonly number[] = rules.gst_rates_bp;

/** Today's date in India (YYYY-MM-DD): an invoice's date is its date in India, the
 * clinic's date (`dates.isoDate`). */
export function todayInIndia(now: Date = new Date()): string {
  return isoDate(now);
}

/** The rates in force on `day` (YYYY-MM-DD), by the shared schedules (`gst::rates_in_force`). */
export function ratesInForce(day: string): readonly number[] {
  let rates: readonly number[] = rules.gst_rate_schedules[0].rates_bp;
  for (const s of rules.gst_rate_schedules) if (day >= s.from) rates = s.rates_bp;
  return rates;
}

export type DocumentKind = "tax_invoice" | "bill_of_supply" | "invoice_cum_bill_of_supply";

/** The document lines at these rates are billed on (`gst::DocumentKind::for_rates`). */
export function documentKind(rates: number[]): DocumentKind {
  const taxed = rates.some((r) => r > 0);
  const untaxed = rates.some((r) => r === 0);
  if (taxed && untaxed) return "invoice_cum_bill_of_supply";
  return taxed ? "tax_invoice" : "bill_of_supply";
}

/** "SGST", or "UTGST" in a union territory without a legislature (`gst::StateTax`). */
export function stateTaxLabel(stateCode: string): "SGST" | "UTGST" {
  return (rules.utgst_states as string[]).includes(stateCode) ? "UTGST" : "SGST";
}

export type GstError = { kind: "rate_not_allowed"; rate_bp: number } | { kind: "negative_amount" } | { kind: "overflow" };

export class GstFailure extends Error {
  constructor(public readonly error: GstError) {
    super(error.kind);
  }
}

const divRound = (n: bigint, d: bigint) => (n + d / 2n) / d;
const I64_MAX = (1n << 63n) - 1n;

function fit(v: bigint): number {
  // Rust fails above i64; the UI additionally needs exact JS numbers.
  if (v > I64_MAX || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GstFailure({ kind: "overflow" });
  return Number(v);
}

/** Tax one line: `quantity × unit price − discount` at `rateBp`. Throws GstFailure. */
export function taxLine(quantity: number, unitPricePaise: number, discountPaise: number, rateBp: number, kind: SupplyKind): LineTax {
  if (!(ALLOWED_RATES_BP as readonly number[]).includes(rateBp)) {
    throw new GstFailure({ kind: "rate_not_allowed", rate_bp: rateBp });
  }
  if (quantity < 0 || unitPricePaise < 0 || discountPaise < 0) throw new GstFailure({ kind: "negative_amount" });
  const gross = BigInt(quantity) * BigInt(unitPricePaise);
  const taxable = gross - BigInt(discountPaise);
  if (taxable < 0n) throw new GstFailure({ kind: "negative_amount" });
  let cgst = 0n;
  let sgst = 0n;
  let igst = 0n;
  if (kind === "intra_state") {
    const half = divRound(taxable * BigInt(rateBp), 20_000n);
    cgst = half;
    sgst = half;
  } else {
    igst = divRound(taxable * BigInt(rateBp), 10_000n);
  }
  return {
    taxable_paise: fit(taxable),
    cgst_paise: fit(cgst),
    sgst_paise: fit(sgst),
    igst_paise: fit(igst),
    total_paise: fit(taxable + cgst + sgst + igst),
  };
}

export function sumLines(lines: LineTax[]): LineTax {
  const sum = { taxable_paise: 0n, cgst_paise: 0n, sgst_paise: 0n, igst_paise: 0n, total_paise: 0n };
  for (const l of lines) {
    sum.taxable_paise += BigInt(l.taxable_paise);
    sum.cgst_paise += BigInt(l.cgst_paise);
    sum.sgst_paise += BigInt(l.sgst_paise);
    sum.igst_paise += BigInt(l.igst_paise);
    sum.total_paise += BigInt(l.total_paise);
  }
  return {
    taxable_paise: fit(sum.taxable_paise),
    cgst_paise: fit(sum.cgst_paise),
    sgst_paise: fit(sum.sgst_paise),
    igst_paise: fit(sum.igst_paise),
    total_paise: fit(sum.total_paise),
  };
}

/** `1800` → `18%`, `25` → `0.25%`. */
export function formatRate(bp: number): string {
  const whole = Math.trunc(bp / 100);
  const frac = bp % 100;
  return frac === 0 ? `${whole}%` : `${whole}.${String(frac).padStart(2, "0").replace(/0$/, "")}%`;
}

/** GST state codes (two digits) and names, for place of supply. */
export const STATES: Array<[string, string]> = [
  ["01", "Jammu and Kashmir"], ["02", "Himachal Pradesh"], ["03", "Punjab"], ["04", "Chandigarh"],
  ["05", "Uttarakhand"], ["06", "Haryana"], ["07", "Delhi"], ["08", "Rajasthan"], ["09", "Uttar Pradesh"],
  ["10", "Bihar"], ["11", "Sikkim"], ["12", "Arunachal Pradesh"], ["13", "Nagaland"], ["14", "Manipur"],
  ["15", "Mizoram"], ["16", "Tripura"], ["17", "Meghalaya"], ["18", "Assam"], ["19", "West Bengal"],
  ["20", "Jharkhand"], ["21", "Odisha"], ["22", "Chhattisgarh"], ["23", "Madhya Pradesh"], ["24", "Gujarat"],
  ["26", "Dadra and Nagar Haveli and Daman and Diu"], ["27", "Maharashtra"], ["29", "Karnataka"], ["30", "Goa"],
  ["31", "Lakshadweep"], ["32", "Kerala"], ["33", "Tamil Nadu"], ["34", "Puducherry"],
  ["35", "Andaman and Nicobar Islands"], ["36", "Telangana"], ["37", "Andhra Pradesh"], ["38", "Ladakh"],
  ["97", "Other Territory"],
];
