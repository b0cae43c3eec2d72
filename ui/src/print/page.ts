// Page sizes of the printed documents (CSS Paged Media `@page` rules), kept apart from the
// print components so a test can check them with a CSS grammar. A saved PDF gets the same
// page (`PageSize`), so the PDF and the printout match.

/** A page in millimetres, as the desktop's PDF writer takes it. */
export interface PageSize { widthMm: number; heightMm: number; marginMm: number }

type A4Document = "prescription" | "invoice" | "credit_note" | "collections";

const A4 = (marginMm: number): PageSize => ({ widthMm: 210, heightMm: 297, marginMm });

export const PAGE_SIZES: Record<A4Document, PageSize> = {
  prescription: A4(14),
  invoice: A4(12),
  credit_note: A4(12),
  collections: A4(14),
};

export const PAGE_RULES: Record<A4Document, string> = Object.fromEntries(
  Object.entries(PAGE_SIZES).map(([kind, p]) => [kind, `@page { size: A4; margin: ${p.marginMm}mm; }`]),
) as Record<A4Document, string>;

const RECEIPT_MARGIN_MM = 3;
const CSS_PX_PER_MM = 96 / 25.4;

/** The 80 mm roll's page: as long as the receipt, at least 80 mm. */
export function receiptPage(contentHeightPx: number): PageSize {
  const contentMm = Math.ceil(Math.max(0, contentHeightPx) / CSS_PX_PER_MM);
  return { widthMm: 80, heightMm: Math.max(80, contentMm + 2 * RECEIPT_MARGIN_MM + 2), marginMm: RECEIPT_MARGIN_MM };
}

/** The receipt's rule. CSS Paged Media has no `auto` for one side (`size: 80mm auto` is
 * invalid and dropped, leaving the printer's A4), and a single length makes a square page;
 * so the length is the receipt's own height. */
export function receiptPageRule(contentHeightPx: number): string {
  const p = receiptPage(contentHeightPx);
  return `@page { size: ${p.widthMm}mm ${p.heightMm}mm; margin: ${p.marginMm}mm; }`;
}
