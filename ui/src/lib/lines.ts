// How a bill's line (or a catalogue item) is taxed and counted, as the screens pick it: one
// picker for the treatment and the rate (`gst::TaxTreatment` with `fits_rate`), and the
// goods' units (`gst::UNITS`; services are counted without one).

import type { TaxTreatment } from "./types";
import { UNITS } from "./rules";
import { formatRate } from "./gst";
import { en } from "../strings/en";

/** The untaxed treatments, offered before the rates in force. */
export const UNTAXED: TaxTreatment[] = ["exempt", "nil_rated", "non_gst"];

/** Units goods may be counted in (`NA` is for services). */
export const GOODS_UNITS: readonly string[] = UNITS.filter((u) => u !== "NA");

/** The picker's value for a line: its untaxed treatment, or its rate. */
export function taxChoice(treatment: TaxTreatment, rateBp: number): string {
  return treatment === "taxable" ? String(rateBp) : treatment;
}

/** The treatment and rate a picker value stands for. */
export function fromTaxChoice(value: string): { rate: number; treatment: TaxTreatment } {
  return (UNTAXED as string[]).includes(value) ? { rate: 0, treatment: value as TaxTreatment } : { rate: Number(value), treatment: "taxable" };
}

/** The picker's options: the untaxed treatments, then each rate above 0 % in force. */
export function taxChoices(rates: readonly number[]): [string, string][] {
  return [
    ...UNTAXED.map((t): [string, string] => [t, en.invoice.treatments[t]]),
    ...rates.filter((r) => r > 0).map((r): [string, string] => [String(r), formatRate(r)]),
  ];
}
