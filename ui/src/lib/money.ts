// Money is integer paise end to end (never floats). This module formats paise as rupees with
// Indian digit grouping (₹1,23,456.78) and parses what a person types back into paise.

/** Groups the digits of a non-negative integer string the Indian way: 12,34,56,789. */
export function groupIndian(digits: string): string {
  if (digits.length <= 3) return digits;
  const last3 = digits.slice(-3);
  let rest = digits.slice(0, -3);
  const groups: string[] = [];
  while (rest.length > 2) {
    groups.unshift(rest.slice(-2));
    rest = rest.slice(0, -2);
  }
  if (rest.length > 0) groups.unshift(rest);
  return `${groups.join(",")},${last3}`;
}

/** `12345678` paise → `₹1,23,456.78`. Accepts numbers (safe integers) or bigints. */
export function formatPaise(paise: number | bigint, opts: { symbol?: boolean } = {}): string {
  const symbol = opts.symbol ?? true;
  let value: bigint;
  if (typeof paise === "bigint") {
    value = paise;
  } else {
    if (!Number.isSafeInteger(paise)) throw new RangeError(`not an integer amount of paise: ${paise}`);
    value = BigInt(paise);
  }
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const rupees = abs / 100n;
  const rest = abs % 100n;
  const text = `${groupIndian(rupees.toString())}.${rest.toString().padStart(2, "0")}`;
  return `${negative ? "-" : ""}${symbol ? "₹" : ""}${text}`;
}

export type ParsedAmount = { ok: true; paise: number } | { ok: false; error: "empty" | "invalid" | "too_many_decimals" | "too_large" };

/**
 * Parses a rupee amount as typed: `1,23,456.78`, `₹ 500`, `99.5`. Grouping commas and the
 * rupee sign are ignored; at most two decimals; no negatives. Exact (string arithmetic).
 */
export function parseRupees(input: string): ParsedAmount {
  const cleaned = input.replace(/[₹,\s]/g, "").replace(/^Rs\.?/i, "");
  if (cleaned === "") return { ok: false, error: "empty" };
  const m = /^(\d+)(?:\.(\d*))?$/.exec(cleaned);
  if (!m) return { ok: false, error: "invalid" };
  const whole = m[1];
  const frac = m[2] ?? "";
  if (frac.length > 2) return { ok: false, error: "too_many_decimals" };
  const paise = BigInt(whole) * 100n + BigInt(frac.padEnd(2, "0") || "0");
  if (paise > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, error: "too_large" };
  return { ok: true, paise: Number(paise) };
}

/** Paise as a plain editable string (`12345` → `123.45`), for filling an input. */
export function paiseToInput(paise: number): string {
  return formatPaise(paise, { symbol: false }).replace(/,/g, "");
}

const ONES = ["", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten", "Eleven", "Twelve",
  "Thirteen", "Fourteen", "Fifteen", "Sixteen", "Seventeen", "Eighteen", "Nineteen"];
const TENS = ["", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety"];

function below100(n: number): string {
  return n < 20 ? ONES[n] : `${TENS[Math.floor(n / 10)]}${n % 10 ? ` ${ONES[n % 10]}` : ""}`;
}
function below1000(n: number): string {
  const h = Math.floor(n / 100);
  const r = n % 100;
  return [h ? `${ONES[h]} Hundred` : "", r ? below100(r) : ""].filter(Boolean).join(" ");
}

/** Amount in words the Indian way, as printed on tax invoices: lakh and crore. */
export function rupeesInWords(paise: number): string {
  if (!Number.isSafeInteger(paise) || paise < 0) throw new RangeError("paise must be a non-negative integer");
  let rupees = Math.floor(paise / 100);
  const p = paise % 100;
  const parts: string[] = [];
  const crore = Math.floor(rupees / 10_000_000);
  rupees %= 10_000_000;
  const lakh = Math.floor(rupees / 100_000);
  rupees %= 100_000;
  const thousand = Math.floor(rupees / 1000);
  rupees %= 1000;
  if (crore) parts.push(`${crore >= 1000 ? rupeesInWords(crore * 100).replace(/^Rupees | Only$/g, "") : below1000(crore)} Crore`);
  if (lakh) parts.push(`${below100(lakh)} Lakh`);
  if (thousand) parts.push(`${below100(thousand)} Thousand`);
  if (rupees) parts.push(below1000(rupees));
  const words = parts.length ? parts.join(" ") : "Zero";
  return `Rupees ${words}${p ? ` and ${below100(p)} Paise` : ""} Only`;
}
