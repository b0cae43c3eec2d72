// Indian phone numbers, mirroring `shared/src/validate.rs::normalize_phone` exactly so the
// desk rejects what the server would reject.

export type PhoneResult = { ok: true; value: string } | { ok: false; error: "phone_chars" | "phone_mobile" };

/**
 * Rust's `str::trim`: strips Unicode White_Space. (JS `trim` also strips U+FEFF, which Rust
 * keeps, and keeps U+0085, which Rust strips.)
 */
export function rustTrim(s: string): string {
  return s.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, "");
}

const isMobile = (d: string) => d.length === 10 && d[0] >= "6" && d[0] <= "9";

/** Mobiles become `+91XXXXXXXXXX`; landlines with an STD code stay digits (`02223456789`). */
export function normalizePhone(input: string): PhoneResult {
  const trimmed = rustTrim(input);
  for (const c of trimmed) {
    if (!((c >= "0" && c <= "9") || " -()+".includes(c))) return { ok: false, error: "phone_chars" };
  }
  const plus = trimmed.startsWith("+");
  const digits = trimmed.replace(/\D/g, "");
  if (plus) {
    if (digits.startsWith("91") && isMobile(digits.slice(2))) return { ok: true, value: `+91${digits.slice(2)}` };
    if (digits.length >= 8 && digits.length <= 15 && !digits.startsWith("91")) return { ok: true, value: `+${digits}` };
    return { ok: false, error: "phone_mobile" };
  }
  if (isMobile(digits)) return { ok: true, value: `+91${digits}` };
  if (digits.length === 12 && digits.startsWith("91") && isMobile(digits.slice(2))) {
    return { ok: true, value: `+91${digits.slice(2)}` };
  }
  if (digits.length === 11 && digits.startsWith("0") && isMobile(digits.slice(1))) {
    return { ok: true, value: `+91${digits.slice(1)}` };
  }
  if (digits.startsWith("0") && digits.length >= 10 && digits.length <= 12) return { ok: true, value: digits };
  return { ok: false, error: "phone_mobile" };
}

/** `+919876543210` → `+91 98765 43210`; other forms are shown as stored. */
export function formatPhone(stored: string | null | undefined): string {
  if (!stored) return "";
  const m = /^\+91(\d{5})(\d{5})$/.exec(stored);
  return m ? `+91 ${m[1]} ${m[2]}` : stored;
}
