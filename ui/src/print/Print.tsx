// Print documents: A4 prescription, A4 GST invoice or bill of supply, 80 mm thermal receipt
// and the A4 collections report. A screen
// calls `requestPrint`; the host renders the page into #print-root (shown only by print CSS),
// sets the page size and asks the webview to print (PDF via the system print dialog).

import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/ipc";
import { ageYears, formatDate, formatDateTime } from "../lib/dates";
import { formatPaise, rupeesInWords } from "../lib/money";
import { formatPhone } from "../lib/phone";
import { documentKind, formatRate, stateTaxLabel, STATES } from "../lib/gst";
import { formatAbha } from "../lib/validate";
import type { ClinicView, CollectionsReport, CreditNote, Invoice, MedicalRegistration, Patient, Prescription } from "../lib/types";
import { CollectionsTable } from "../screens/Collections";
import { PAGE_RULES, PAGE_SIZES, receiptPage, receiptPageRule, type PageSize } from "./page";
import { patientNumberLabel } from "../lib/ids";
import { en } from "../strings/en";
import { loadFontsFor } from "../fonts";

export type PrintDoc =
  | { kind: "prescription"; prescription: Prescription; patient: Patient; clinic: ClinicView; doctor: Prescriber; diagnosis: string }
  | { kind: "invoice" | "receipt"; invoice: Invoice; patient: Patient; clinic: ClinicView; doctor: Prescriber | null }
  | { kind: "credit_note"; note: CreditNote; invoice: Invoice; patient: Patient; clinic: ClinicView; doctor: Prescriber | null }
  | { kind: "collections"; report: CollectionsReport; clinic: ClinicView };

/** A document to print, or to save as a PDF named `pdf.name` (answered through `pdf`). */
type Job = { doc: PrintDoc; pdf?: { name: string; resolve: (path: string) => void; reject: (e: unknown) => void } };

/** Who signs a prescription or is named on a receipt: the doctor's name with the
 * registration number and qualifications the clinic recorded (NMC). */
export interface Prescriber { name: string; registration: MedicalRegistration | null }

/** The doctor's lines under the signature (or on a receipt). */
function PrescriberLines(props: { doctor: Prescriber }) {
  const r = props.doctor.registration;
  return (
    <>
      <div>{props.doctor.name}{r?.qualifications ? `, ${r.qualifications}` : ""}</div>
      {r && <div class="p-reg">{en.print.registration(r.number)}</div>}
    </>
  );
}

let setJobGlobal: ((j: Job | null) => void) | null = null;

export function requestPrint(doc: PrintDoc) {
  setJobGlobal?.({ doc });
}

/** Saves the document as `<name>.pdf` in Downloads, laid out exactly as it prints; resolves
 * to the file's path. Audited as a print. */
export function requestPdf(doc: PrintDoc, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!setJobGlobal) reject(new Error("no print host"));
    else setJobGlobal({ doc, pdf: { name, resolve, reject } });
  });
}

/** "Save PDF" for a screen: saves, then tells where (`saved`); where this system's webview
 * cannot write a PDF itself, opens the print dialog, whose PDF printer does the same. */
export function useSavePdf() {
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const save = async (doc: PrintDoc, name: string) => {
    if (busy) return;
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      setSaved(await requestPdf(doc, name));
    } catch (e) {
      if ((e as { code?: string }).code === "pdf_unavailable") requestPrint(doc);
      else setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { save, saved, error, busy };
}

/** The rendered document's height, laid out as printed (print.css shows #print-root off
 * screen while `data-measure` is set). */
function measurePrintRoot(): number {
  const root = document.documentElement;
  root.dataset.measure = "";
  const height = document.getElementById("print-root")?.getBoundingClientRect().height ?? 0;
  delete root.dataset.measure;
  return height;
}

/** The page size is set through CSSOM (allowed under the strict CSP, unlike inline styles). */
function setPageRule(rule: string) {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(rule);
  document.adoptedStyleSheets = [sheet];
}

export function PrintHost() {
  const [job, setJob] = useState<Job | null>(null);
  const doc = job?.doc ?? null;
  useEffect(() => { setJobGlobal = setJob; return () => { setJobGlobal = null; }; }, []);
  useEffect(() => {
    if (!job || !doc) return;
    const height = doc.kind === "receipt" ? measurePrintRoot() : 0;
    setPageRule(doc.kind === "receipt" ? receiptPageRule(height) : PAGE_RULES[doc.kind]);
    const page: PageSize = doc.kind === "receipt" ? receiptPage(height) : PAGE_SIZES[doc.kind];
    document.documentElement.dataset.print = doc.kind;
    // Prints of patient documents reach the audit trail; the report's fetch was audited by the
    // server already (it names no patient).
    if (doc.kind === "prescription") api.recordPrint("prescription", doc.prescription.id).catch(() => {});
    else if (doc.kind !== "collections") api.recordPrint("invoice", doc.invoice.id).catch(() => {});
    const after = () => { setJob(null); delete document.documentElement.dataset.print; };
    // The shipped Indic fonts the document's names need, loaded before the print engine runs.
    const fonts = () => loadFontsFor(document.getElementById("print-root")?.textContent ?? "");
    const pdf = job.pdf;
    if (pdf) {
      // Laid out as for printing; the webview's print engine writes it to a file.
      const t = setTimeout(() => {
        fonts().then(() => api.savePdf(pdf.name, page)).then(pdf.resolve, pdf.reject).finally(after);
      }, 50);
      return () => clearTimeout(t);
    }
    // Give the browser a frame to lay the page out, then print.
    const t = setTimeout(() => {
      fonts().then(() => api.printPage()).catch(() => window.print());
    }, 50);
    window.addEventListener("afterprint", after, { once: true });
    return () => { clearTimeout(t); window.removeEventListener("afterprint", after); };
  }, [job]);

  return (
    <div id="print-root" aria-hidden={!doc}>
      {doc?.kind === "prescription" && <PrescriptionPage {...doc} />}
      {doc?.kind === "invoice" && <InvoicePage {...doc} />}
      {doc?.kind === "receipt" && <ReceiptPage {...doc} />}
      {doc?.kind === "credit_note" && <CreditNotePage {...doc} />}
      {doc?.kind === "collections" && <CollectionsPage {...doc} />}
    </div>
  );
}

/** Who issues the document: an invoice's supplier as at its issue (so a reprint matches the
 * original), else the clinic as it is now. */
function supplierOf(clinic: ClinicView, invoice?: Invoice): { name: string; address: string; gstin: string | null } {
  if (invoice?.supplier) return invoice.supplier;
  const c = clinic.clinic;
  return { name: c?.name ?? clinic.membership.clinic_name, address: c?.address ?? "", gstin: c?.gstin ?? null };
}

function ClinicHeader(props: { clinic: ClinicView; invoice?: Invoice }) {
  const s = supplierOf(props.clinic, props.invoice);
  return (
    <header class="p-header">
      <h1>{s.name}</h1>
      {s.address && <p>{s.address}</p>}
      {props.invoice && s.gstin && <p>{en.invoice.supplierGstin}: {s.gstin}</p>}
    </header>
  );
}

function patientLine(p: Patient) {
  const age = p.date_of_birth ? `${ageYears(p.date_of_birth)} y` : "—";
  return `${age} / ${en.patient.sexes[p.sex]}`;
}

export function PrescriptionPage(props: { prescription: Prescription; patient: Patient; clinic: ClinicView; doctor: Prescriber; diagnosis: string }) {
  const rx = props.prescription;
  return (
    <article class="page a4 rx-page">
      <ClinicHeader clinic={props.clinic} />
      <table class="p-meta"><tbody>
        <tr><th>{en.print.patient}</th><td>{props.patient.name} ({patientNumberLabel(props.patient.patient_number, en.patient.numberPending)})</td><th>{en.print.date}</th><td>{formatDate(rx.issued_at.slice(0, 10))}</td></tr>
        <tr><th>{en.print.ageSex}</th><td>{patientLine(props.patient)}</td><th>{en.patient.phone}</th><td>{formatPhone(props.patient.phone)}</td></tr>
        {props.patient.abha_number && <tr><th>{en.patient.abha}</th><td colSpan={3}>{formatAbha(props.patient.abha_number)}</td></tr>}
      </tbody></table>
      {props.diagnosis && <p><strong>{en.print.diagnosis}:</strong> {props.diagnosis}</p>}
      <div class="rx-symbol">{en.print.rx}</div>
      <table class="p-lines"><thead><tr><th>#</th><th>{en.doctor.drug}</th><th>{en.doctor.dose}</th><th>{en.doctor.frequency}</th><th>{en.doctor.duration}</th><th>{en.doctor.instructions}</th></tr></thead>
        <tbody>{rx.items.map((i, n) => <tr key={i.id}><td>{n + 1}</td><td><strong>{i.drug}</strong> {i.strength}</td><td>{i.dose}</td><td>{i.frequency}</td><td>{i.duration}</td><td>{i.instructions}</td></tr>)}</tbody>
      </table>
      {rx.notes && <p><strong>{en.doctor.advice}:</strong> {rx.notes}</p>}
      <footer class="p-sign"><PrescriberLines doctor={props.doctor} /><div class="muted">{en.print.doctorSignature}</div></footer>
      <p class="p-foot">{en.print.footer}</p>
    </article>
  );
}

/** What the A4 document is called: by its lines for a registered supplier (CGST Rules 46,
 * 46A, 49); a plain bill for a clinic without a GSTIN (those rules are for registered
 * persons); and, for an invoice from before documents were told apart (no supplier kept
 * with it), the title it was first printed with, so a reprint matches the original. */
export function documentTitle(inv: Invoice, clinic: ClinicView): string {
  if (!inv.supplier) return en.invoice.documents.tax_invoice;
  if (!supplierOf(clinic, inv).gstin) return en.invoice.documents.bill;
  return en.invoice.documents[documentKind(inv.lines.map((l) => l.gst_rate_bp))];
}

/** The A4 document: its title and tax columns follow its lines; a bill shows no tax. */
export function InvoicePage(props: { invoice: Invoice; patient: Patient; clinic: ClinicView; doctor?: Prescriber | null }) {
  const inv = props.invoice;
  const intra = inv.supply_kind === "intra_state";
  const state = STATES.find(([c]) => c === inv.place_of_supply)?.[1] ?? inv.place_of_supply;
  const document = documentKind(inv.lines.map((l) => l.gst_rate_bp));
  const taxed = document !== "bill_of_supply";
  const stateTax = stateTaxLabel(inv.place_of_supply);
  // Each half of an intra-state rate (9 % + 9 %; 0.125 % + 0.125 %).
  const half = (bp: number) => `${bp / 200}%`;
  const clinicName = supplierOf(props.clinic, inv).name;
  return (
    <article class="page a4 invoice-page">
      <ClinicHeader clinic={props.clinic} invoice={inv} />
      <h2 class="center">{documentTitle(inv, props.clinic).toUpperCase()}</h2>
      {inv.cancellation && (
        <p class="p-cancelled">{en.invoice.cancelled} · {en.invoice.cancelledOn(formatDateTime(inv.cancellation.cancelled_at), inv.cancellation.reason)}</p>
      )}
      <table class="p-meta"><tbody>
        <tr><th>{en.invoice.number}</th><td>{inv.invoice_number}</td><th>{en.invoice.date}</th><td>{formatDateTime(inv.issued_at)}</td></tr>
        <tr><th>{en.invoice.billTo}</th><td>{props.patient.name} ({patientNumberLabel(props.patient.patient_number, en.patient.numberPending)})<br />{props.patient.address}</td>
          <th>{en.invoice.placeOfSupply}</th><td>{inv.place_of_supply} – {state}</td></tr>
        {inv.recipient && (
          <tr class="p-recipient"><th>{en.invoice.recipient}</th><td>{inv.recipient.name}</td>
            <th>{en.invoice.recipientGstin}</th><td>{inv.recipient.gstin}</td></tr>
        )}
      </tbody></table>
      <table class="p-lines">
        <thead><tr><th>#</th><th>{en.invoice.description}</th><th>{en.invoice.sacHsn}</th><th class="num">{en.invoice.qty}</th><th class="num">{en.invoice.taxable}</th>
          {taxed && (intra
            ? <><th class="num">{en.invoice.rateOf(en.invoice.cgst)}</th><th class="num">{en.invoice.cgst}</th><th class="num">{en.invoice.rateOf(stateTax)}</th><th class="num">{stateTax}</th></>
            : <><th class="num">{en.invoice.rateOf(en.invoice.igst)}</th><th class="num">{en.invoice.igst}</th></>)}
          <th class="num">{en.invoice.total}</th></tr></thead>
        <tbody>
          {inv.lines.map((l, n) => (
            <tr key={l.id}><td>{n + 1}</td><td>{l.description}</td><td>{l.sac_hsn}</td><td class="num">{l.quantity}{l.unit && l.unit !== "NA" ? ` ${l.unit}` : ""}</td><td class="num">{formatPaise(l.tax.taxable_paise)}</td>
              {taxed && (intra
                ? <><td class="num">{half(l.gst_rate_bp)}</td><td class="num">{formatPaise(l.tax.cgst_paise)}</td><td class="num">{half(l.gst_rate_bp)}</td><td class="num">{formatPaise(l.tax.sgst_paise)}</td></>
                : <><td class="num">{formatRate(l.gst_rate_bp)}</td><td class="num">{formatPaise(l.tax.igst_paise)}</td></>)}
              <td class="num">{formatPaise(l.tax.total_paise)}</td></tr>
          ))}
        </tbody>
        <tfoot><tr><th colSpan={4}>{en.invoice.total}</th><th class="num">{formatPaise(inv.totals.taxable_paise)}</th>
          {taxed && (intra
            ? <><th /><th class="num">{formatPaise(inv.totals.cgst_paise)}</th><th /><th class="num">{formatPaise(inv.totals.sgst_paise)}</th></>
            : <><th /><th class="num">{formatPaise(inv.totals.igst_paise)}</th></>)}
          <th class="num">{formatPaise(inv.totals.total_paise)}</th></tr></tfoot>
      </table>
      <p><strong>{en.invoice.amountInWords}:</strong> {rupeesInWords(inv.totals.total_paise)}</p>
      {taxed && <p>{en.invoice.reverseCharge}</p>}
      <p>
        {inv.credit_notes.length > 0 && <>{en.invoice.credited}: {formatPaise(credited(inv))} · </>}
        {en.invoice.paid}: {formatPaise(inv.paid_paise)} · {en.invoice.balance}: {formatPaise(inv.totals.total_paise - credited(inv) - inv.paid_paise)}
      </p>
      {props.doctor && <div class="p-doctor"><strong>{en.invoice.doctor}:</strong> <PrescriberLines doctor={props.doctor} /></div>}
      <footer class="p-sign"><div>{en.invoice.signatory(clinicName)}</div><div class="muted">{en.invoice.authorisedSignatory}</div></footer>
      <p class="p-foot">{en.print.invoiceFooter}</p>
    </article>
  );
}

/** What the invoice's credit notes gave back, tax included. */
function credited(inv: Invoice): number {
  return inv.credit_notes.reduce((t, c) => t + c.totals.total_paise, 0);
}

/** The A4 credit note (CGST Rule 53(1A)): the supplier as on the invoice, the note's own
 * number and date, the invoice it corrects, the recipient, each credited line's taxable
 * value with its rate and tax, the amount in words, the reason and the signature. */
export function CreditNotePage(props: { note: CreditNote; invoice: Invoice; patient: Patient; clinic: ClinicView }) {
  const { note, invoice: inv } = props;
  const intra = inv.supply_kind === "intra_state";
  const state = STATES.find(([c]) => c === inv.place_of_supply)?.[1] ?? inv.place_of_supply;
  const stateTax = stateTaxLabel(inv.place_of_supply);
  const taxed = note.lines.some((l) => l.gst_rate_bp > 0);
  const half = (bp: number) => `${bp / 200}%`;
  return (
    <article class="page a4 invoice-page credit-note-page">
      <ClinicHeader clinic={props.clinic} invoice={inv} />
      <h2 class="center">{en.invoice.creditNoteTitle}</h2>
      <table class="p-meta"><tbody>
        <tr><th>{en.invoice.creditNoteNumber}</th><td>{note.credit_note_number}</td><th>{en.invoice.date}</th><td>{formatDateTime(note.issued_at)}</td></tr>
        <tr><th>{en.invoice.againstInvoice}</th><td>{inv.invoice_number}</td><th>{en.invoice.date}</th><td>{formatDateTime(inv.issued_at)}</td></tr>
        <tr><th>{en.invoice.billTo}</th><td>{props.patient.name} ({patientNumberLabel(props.patient.patient_number, en.patient.numberPending)})<br />{props.patient.address}</td>
          <th>{en.invoice.placeOfSupply}</th><td>{inv.place_of_supply} – {state}</td></tr>
        {inv.recipient && (
          <tr class="p-recipient"><th>{en.invoice.recipient}</th><td>{inv.recipient.name}</td>
            <th>{en.invoice.recipientGstin}</th><td>{inv.recipient.gstin}</td></tr>
        )}
      </tbody></table>
      <table class="p-lines">
        <thead><tr><th>#</th><th>{en.invoice.description}</th><th>{en.invoice.sacHsn}</th><th class="num">{en.invoice.taxable}</th>
          {taxed && (intra
            ? <><th class="num">{en.invoice.rateOf(en.invoice.cgst)}</th><th class="num">{en.invoice.cgst}</th><th class="num">{en.invoice.rateOf(stateTax)}</th><th class="num">{stateTax}</th></>
            : <><th class="num">{en.invoice.rateOf(en.invoice.igst)}</th><th class="num">{en.invoice.igst}</th></>)}
          <th class="num">{en.invoice.total}</th></tr></thead>
        <tbody>
          {note.lines.map((l, n) => (
            <tr key={l.invoice_line_id}><td>{n + 1}</td><td>{l.description}</td><td>{l.sac_hsn}</td><td class="num">{formatPaise(l.tax.taxable_paise)}</td>
              {taxed && (intra
                ? <><td class="num">{half(l.gst_rate_bp)}</td><td class="num">{formatPaise(l.tax.cgst_paise)}</td><td class="num">{half(l.gst_rate_bp)}</td><td class="num">{formatPaise(l.tax.sgst_paise)}</td></>
                : <><td class="num">{formatRate(l.gst_rate_bp)}</td><td class="num">{formatPaise(l.tax.igst_paise)}</td></>)}
              <td class="num">{formatPaise(l.tax.total_paise)}</td></tr>
          ))}
        </tbody>
        <tfoot><tr><th colSpan={3}>{en.invoice.total}</th><th class="num">{formatPaise(note.totals.taxable_paise)}</th>
          {taxed && (intra
            ? <><th /><th class="num">{formatPaise(note.totals.cgst_paise)}</th><th /><th class="num">{formatPaise(note.totals.sgst_paise)}</th></>
            : <><th /><th class="num">{formatPaise(note.totals.igst_paise)}</th></>)}
          <th class="num">{formatPaise(note.totals.total_paise)}</th></tr></tfoot>
      </table>
      <p><strong>{en.invoice.amountInWords}:</strong> {rupeesInWords(note.totals.total_paise)}</p>
      <p><strong>{en.invoice.creditReason}:</strong> {note.reason}</p>
      {taxed && <p>{en.invoice.reverseCharge}</p>}
      <footer class="p-sign"><div>{en.invoice.signatory(supplierOf(props.clinic, inv).name)}</div><div class="muted">{en.invoice.authorisedSignatory}</div></footer>
      <p class="p-foot">{en.invoice.creditNoteFooter}</p>
    </article>
  );
}

export function ReceiptPage(props: { invoice: Invoice; patient: Patient; clinic: ClinicView; doctor?: Prescriber | null }) {
  const inv = props.invoice;
  const s = supplierOf(props.clinic, inv);
  return (
    <article class="page receipt">
      <h1>{s.name}</h1>
      {s.gstin && <p>{en.invoice.supplierGstin} {s.gstin}</p>}
      <p class="r-title">{en.invoice.receipt}</p>
      {inv.cancellation && <p class="p-cancelled">{en.invoice.cancelled}</p>}
      <p>{inv.invoice_number}<br />{formatDateTime(inv.issued_at)}<br />{props.patient.name}</p>
      {props.doctor && <div class="r-doctor"><PrescriberLines doctor={props.doctor} /></div>}
      <hr />
      {inv.lines.map((l) => <p key={l.id} class="r-line"><span>{l.description} ×{l.quantity}</span><span>{formatPaise(l.tax.total_paise)}</span></p>)}
      <hr />
      {inv.totals.total_paise === inv.totals.taxable_paise ? null : inv.supply_kind === "intra_state" ? (
        <>
          <p class="r-line"><span>{en.invoice.cgst}</span><span>{formatPaise(inv.totals.cgst_paise)}</span></p>
          <p class="r-line"><span>{stateTaxLabel(inv.place_of_supply)}</span><span>{formatPaise(inv.totals.sgst_paise)}</span></p>
        </>
      ) : <p class="r-line"><span>{en.invoice.igst}</span><span>{formatPaise(inv.totals.igst_paise)}</span></p>}
      <p class="r-line r-total"><span>{en.invoice.total}</span><span>{formatPaise(inv.totals.total_paise)}</span></p>
      {inv.payments.map((p) => <p key={p.id} class="r-line"><span>{en.invoice.methods[p.method]}</span><span>{formatPaise(p.amount_paise)}</span></p>)}
      {inv.credit_notes.length > 0 && <p class="r-line"><span>{en.invoice.credited}</span><span>{formatPaise(credited(inv))}</span></p>}
      <p class="r-line"><span>{en.invoice.balance}</span><span>{formatPaise(inv.totals.total_paise - credited(inv) - inv.paid_paise)}</span></p>
      <hr />
      <p class="center">{en.invoice.thankYou}</p>
    </article>
  );
}

export function CollectionsPage(props: { report: CollectionsReport; clinic: ClinicView }) {
  return (
    <article class="page a4 collections-page">
      <ClinicHeader clinic={props.clinic} />
      <h2 class="center">{en.collections.title}: {en.collections.period(props.report.from, props.report.to)}</h2>
      <CollectionsTable report={props.report} />
    </article>
  );
}
