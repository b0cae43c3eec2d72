// Page sizes of the printed documents (CSS Paged Media `@page` rules), kept apart from the
// print components so a test can check them with a CSS grammar.

export const PAGE_RULES: Record<"prescription" | "invoice" | "credit_note" | "collections", string> = {
  prescription: "@page { size: A4; margin: 14mm; }",
  invoice: "@page { size: A4; margin: 12mm; }",
  credit_note: "@page { size: A4; margin: 12mm; }",
  collections: "@page { size: A4; margin: 14mm; }",
};

const RECEIPT_MARGIN_MM = 3;
const CSS_PX_PER_MM = 96 / 25.4;

/** The 80 mm roll's page: as long as the receipt, at least 80 mm. CSS Paged Media has no
 * `auto` for one side (`size: 80mm auto` is invalid and dropped, leaving the printer's A4),
 * and a single length makes a square page; so the length is the receipt's own height. */
export function receiptPageRule(contentHeightPx: number): string {
  const contentMm = Math.ceil(Math.max(0, contentHeightPx) / CSS_PX_PER_MM);
  const lengthMm = Math.max(80, contentMm + 2 * RECEIPT_MARGIN_MM + 2);
  return `@page { size: 80mm ${lengthMm}mm; margin: ${RECEIPT_MARGIN_MM}mm; }`;
}
