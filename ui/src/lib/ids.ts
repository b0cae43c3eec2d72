// Short forms of ids for screens with little room. Vaidya's ids are UUID v7, whose leading
// digits are a timestamp (rows made together share them), so the short form is the tail.

export const shortId = (id: string): string => id.replace(/-/g, "").slice(-8);

/** A patient's number as printed and listed: `#12`, or, for a patient registered offline
 * whose number the server has not given yet (0 on the device), the words for it; never
 * `#0`. */
export function patientNumberLabel(n: number, pending: string): string {
  return n > 0 ? `#${n}` : pending;
}
