// Indian phone numbers, mirroring `shared/src/validate.rs::normalize_phone` exactly so the
// desk rejects what the server would reject.

export type PhoneResult = { ok: true; value: string } | { ok: false; error: "phone_chars" | "phone_mobile" };

const isMobile = (d: string) => d.length === 10 && d[0] >= "6" && d[0] <= "9";

/** Mobiles become `+91XXXXXXXXXX`; landlines with an STD code stay digits (`02223456789`). */
export function normalizePhone(input: string): PhoneResult {
  const trimmed = input.trim();
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
