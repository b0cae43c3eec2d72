// GST invoices: lines with SAC/HSN at the rates in force today, CGST with SGST or UTGST in
// the clinic's state (previewed with the same arithmetic as the server), the document the
// lines need (tax invoice, bill of supply or both), payments, and printing as A4 or 80 mm.

import { useState } from "preact/hooks";
import { useClinicData } from "../lib/useClinicData";
import { useUnsaved } from "../lib/unsaved";
import { useKeptForm } from "../lib/keptForm";
import { api } from "../lib/ipc";
import { documentKind, formatRate, GstFailure, ratesInForce, STATES, stateTaxLabel, sumLines, taxLine, todayInIndia, type LineTax } from "../lib/gst";
import { formatPaise, paiseToInput, parseRupees } from "../lib/money";
import { formatDateTime } from "../lib/dates";
import { cleanText, gstinProblem } from "../lib/validate";
import { LIMITS, may } from "../lib/rules";
import { fromTaxChoice, GOODS_UNITS, taxChoice, taxChoices } from "../lib/lines";
import type { CatalogueItem, ClinicView, Invoice, InvoiceRecipient, Member, NewInvoiceLine, Patient, PaymentMethod, TaxTreatment } from "../lib/types";
import { prescriber } from "../lib/doctors";
import { en } from "../strings/en";
import { ErrorBanner, Field, Notice, useAction } from "../components/common";
import { useConfirm } from "../components/ConfirmDialog";
import { PatientSearch } from "../components/PatientSearch";
import { documentTitle, requestPrint, useSavePdf } from "../print/Print";

interface LineForm { description: string; sac_hsn: string; qty: string; price: string; discount: string; rate: number; treatment: TaxTreatment; unit: string }
const blankLine = (): LineForm => ({ description: en.invoice.consultation, sac_hsn: "999312", qty: "1", price: "", discount: "", rate: 0, treatment: "exempt", unit: "NOS" });

/** A line from a catalogue item: its name, code, treatment, rate, unit and price. */
function lineFromItem(item: CatalogueItem): LineForm {
  return {
    description: item.name, sac_hsn: item.sac_hsn, qty: "1", price: paiseToInput(item.price_paise), discount: "",
    rate: item.gst_rate_bp, treatment: item.treatment, unit: item.unit === "NA" ? "NOS" : item.unit,
  };
}

export function Invoices(props: { clinic: ClinicView; userId: string; patient: Patient | null; onChoosePatient: (p: Patient) => void }) {
  const [notice, setNotice] = useState<string | null>(null);
  const patient = props.patient;
  const { data: invoices, error, reload: load } = useClinicData(
    async (): Promise<Invoice[]> => (patient ? (await api.patientChart(patient.id)).invoices : []),
    [patient?.id], [],
  );
  // The clinic's doctors (kept on the PC): who a bill is for, named on its receipt.
  const { data: members } = useClinicData(() => api.clinicDoctors(), [], [] as Member[]);
  const doctors = members.filter((m) => m.role === "doctor");

  return (
    <section class="split invoices">
      <div>
        <PatientSearch onChoose={props.onChoosePatient} compact />
        {patient && <h2>{en.invoice.title}: {patient.name}</h2>}
        <ErrorBanner error={error} />
        {notice && <Notice>{notice}</Notice>}
        {patient && invoices.length === 0 && <p class="muted">{en.invoice.none}</p>}
        {patient && invoices.map((inv) => (
          <InvoiceCard key={inv.id} invoice={inv} clinic={props.clinic} patient={patient} doctors={doctors} onChanged={load} />
        ))}
      </div>
      {patient && <InvoiceEditor clinic={props.clinic} userId={props.userId} patient={patient} doctors={doctors} onIssued={() => { setNotice(en.invoice.issued); load(); }} />}
    </section>
  );
}

function InvoiceEditor(props: { clinic: ClinicView; userId: string; patient: Patient; doctors: Member[]; onIssued: () => void }) {
  // Care given and goods handed over at the clinic are supplied in the clinic's state: no
  // place-of-supply choice. Without the clinic's GST details this PC does not bill.
  const details = props.clinic.clinic;
  const supplierState = details?.state_code ?? null;
  const [lines, setLines] = useState<LineForm[]>([blankLine()]);
  useUnsaved(en.unsaved.bill, JSON.stringify(lines) !== JSON.stringify([blankLine()]));
  // A doctor billing their own patient bills as themselves; the desk picks (or names none).
  const [doctorId, setDoctorId] = useState<string>(props.clinic.membership.role === "doctor" ? props.userId : "");
  // The clinic's catalogue, kept on this PC: picking an item adds its line.
  const { data: catalogue } = useClinicData(async () => (await api.listCatalogue()).filter((i) => i.active), [], [] as CatalogueItem[]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  // A business customer (a company's health check-ups): its GSTIN goes on the invoice and
  // into GSTR-1's B2B table.
  const [business, setBusiness] = useState(false);
  const [recipientGstin, setRecipientGstin] = useState("");
  const [recipientName, setRecipientName] = useState("");
  const { busy, error, run } = useAction();
  const confirm = useConfirm(en.common.cancel);
  // The bill being written is kept on this PC as it is typed, per patient, until issued or
  // thrown away ("Clear"), and comes back when the patient's bills open again.
  const billDirty = JSON.stringify(lines) !== JSON.stringify([blankLine()]) || business;
  const { restoredAt, forget } = useKeptForm(`invoice:${props.patient.id}`, { lines, business, recipientGstin, recipientName, doctorId }, billDirty, (kept) => {
    const bill = keptBill(kept);
    if (!bill) return false;
    setLines(bill.lines); setBusiness(bill.business); setRecipientGstin(bill.recipientGstin); setRecipientName(bill.recipientName);
    if (bill.doctorId) setDoctorId(bill.doctorId);
    return true;
  });
  const clear = () => { forget(); setLines([blankLine()]); setBusiness(false); setRecipientGstin(""); setRecipientName(""); setErrors({}); };
  const kind = "intra_state" as const;
  // A clinic without a GSTIN may not charge GST: only 0 % (a bill of supply).
  const rates = details?.gstin ? ratesInForce(todayInIndia()) : [0];

  const parsed = lines.map((l) => {
    const price = parseRupees(l.price);
    const discount = l.discount.trim() === "" ? ({ ok: true, paise: 0 } as const) : parseRupees(l.discount);
    const qty = Number(l.qty);
    let tax: LineTax | null = null;
    if (price.ok && discount.ok && Number.isInteger(qty) && qty >= 1) {
      try { tax = taxLine(qty, price.paise, discount.paise, l.rate, kind); } catch (e) { if (!(e instanceof GstFailure)) throw e; }
    }
    return { price, discount, qty, tax };
  });
  const totals = sumLines(parsed.flatMap((p) => (p.tax ? [p.tax] : [])));
  const update = (i: number, patch: Partial<LineForm>) => setLines(lines.map((l, j) => (j === i ? { ...l, ...patch } : l)));

  const submit = async (e: Event) => {
    e.preventDefault();
    const errs: Record<string, string> = {};
    const body: NewInvoiceLine[] = [];
    lines.forEach((l, i) => {
      const p = parsed[i];
      const d = cleanText(l.description, 200);
      if (!d.ok || d.value === "") errs[`d${i}`] = d.ok ? en.validation.required : d.error;
      if (!p.price.ok) errs[`p${i}`] = p.price.error === "too_many_decimals" ? en.validation.amountDecimals : en.validation.amount;
      if (!p.discount.ok) errs[`x${i}`] = en.validation.amount;
      if (!Number.isInteger(p.qty) || p.qty < 1) errs[`q${i}`] = en.validation.quantity;
      if (p.price.ok && p.discount.ok && !p.tax) errs[`x${i}`] = en.validation.amount;
      if (p.price.ok && p.discount.ok && d.ok) {
        const sac = l.sac_hsn.trim();
        body.push({
          description: d.value, sac_hsn: sac, quantity: p.qty, unit_price_paise: p.price.paise, discount_paise: p.discount.paise,
          gst_rate_bp: l.rate, treatment: l.treatment, unit: sac.startsWith("99") ? "NA" : l.unit,
        });
      }
    });
    let recipient: InvoiceRecipient | null = null;
    if (business) {
      const gstin = recipientGstin.trim().toUpperCase();
      const problem = gstinProblem(gstin);
      if (problem) errs.recipientGstin = problem;
      const name = cleanText(recipientName, 200);
      if (!name.ok || name.value === "") errs.recipientName = name.ok ? en.validation.required : name.error;
      else recipient = { gstin, name: name.value };
    }
    setErrors(errs);
    if (Object.keys(errs).length > 0) return;
    // An issued invoice takes the next number and is never edited or deleted: asked first.
    confirm.ask({
      title: en.invoice.issueTitle(props.patient.name), body: en.invoice.issueBody, confirmLabel: en.invoice.issue,
      action: async () => {
        const inv = await run(() => api.createInvoice({ id: null, patient_id: props.patient.id, place_of_supply: null, lines: body, recipient, doctor_id: doctorId || null }));
        if (inv) { clear(); props.onIssued(); }
      },
    });
  };

  return (
    <form class="card invoice-editor" onSubmit={submit}>
      <h3>{en.invoice.new}</h3>
      <ErrorBanner error={error} />
      {restoredAt && <p class="notice" data-testid="bill-restored">{en.unsaved.restored(restoredAt)}</p>}
      {confirm.dialog}
      {supplierState === null ? <p class="error-text">{en.invoice.noDetails}</p> : (
        <p class="hint">
          {en.invoice.placeOfSupply}: {supplierState} – {STATES.find(([c]) => c === supplierState)?.[1] ?? supplierState}
          {" · "}{details?.gstin ? en.invoice.documents[documentKind(lines.map((l) => l.rate))] : en.invoice.documents.bill}
          {!details?.gstin && <> · {en.invoice.noGstinNoTax}</>}
        </p>
      )}
      {props.doctors.length > 0 && (
        <div class="field">
          <label for="invoice-doctor">{en.invoice.doctor}</label>
          <select id="invoice-doctor" value={doctorId} onChange={(e) => setDoctorId((e.currentTarget as HTMLSelectElement).value)}>
            <option value="">{en.invoice.noDoctor}</option>
            {props.doctors.map((d) => <option key={d.user.id} value={d.user.id}>{d.user.display_name}</option>)}
          </select>
        </div>
      )}
      <label class="row">
        <input type="checkbox" name="invoice-business" checked={business}
          onChange={(e) => setBusiness((e.currentTarget as HTMLInputElement).checked)} />
        {en.invoice.business}
      </label>
      {business && (
        <div class="row">
          <Field name="recipient-gstin" label={en.invoice.recipientGstin} value={recipientGstin} onInput={setRecipientGstin} error={errors.recipientGstin} />
          <Field name="recipient-name" label={en.invoice.recipientName} value={recipientName} onInput={setRecipientName} error={errors.recipientName} />
        </div>
      )}
      <table class="lines">
        <thead><tr>
          <th>{en.invoice.description}</th><th>{en.invoice.sacHsn}</th><th>{en.invoice.qty}</th><th>{en.invoice.unit}</th><th>{en.invoice.unitPrice}</th>
          <th>{en.invoice.discount}</th><th>{en.invoice.rate}</th><th class="num">{en.invoice.total}</th><th />
        </tr></thead>
        <tbody>
          {lines.map((l, i) => (
            <tr key={i}>
              <td><input aria-label={en.invoice.description} value={l.description} onInput={(e) => update(i, { description: (e.currentTarget as HTMLInputElement).value })} aria-invalid={!!errors[`d${i}`]} /></td>
              <td><input class="w6" aria-label={en.invoice.sacHsn} value={l.sac_hsn} onInput={(e) => update(i, { sac_hsn: (e.currentTarget as HTMLInputElement).value })} /></td>
              <td><input class="w3" aria-label={en.invoice.qty} inputMode="numeric" value={l.qty} onInput={(e) => update(i, { qty: (e.currentTarget as HTMLInputElement).value })} aria-invalid={!!errors[`q${i}`]} /></td>
              <td>
                {l.sac_hsn.trim().startsWith("99") ? <span class="muted" title={en.invoice.serviceUnit}>NA</span> : (
                  <select aria-label={en.invoice.unit} value={l.unit} onChange={(e) => update(i, { unit: (e.currentTarget as HTMLSelectElement).value })}>
                    {GOODS_UNITS.map((u) => <option key={u} value={u}>{u}</option>)}
                  </select>
                )}
              </td>
              <td><input class="w6" aria-label={en.invoice.unitPrice} inputMode="decimal" value={l.price} onInput={(e) => update(i, { price: (e.currentTarget as HTMLInputElement).value })} aria-invalid={!!errors[`p${i}`]} title={errors[`p${i}`]} /></td>
              <td><input class="w6" aria-label={en.invoice.discount} inputMode="decimal" value={l.discount} onInput={(e) => update(i, { discount: (e.currentTarget as HTMLInputElement).value })} aria-invalid={!!errors[`x${i}`]} title={errors[`x${i}`]} /></td>
              <td>
                <select aria-label={en.invoice.rate} value={taxChoice(l.treatment, l.rate)} onChange={(e) => update(i, fromTaxChoice((e.currentTarget as HTMLSelectElement).value))}>
                  {taxChoices(rates).map(([value, label]) => <option key={value} value={value}>{label}</option>)}
                </select>
              </td>
              <td class="num">{parsed[i].tax ? formatPaise(parsed[i].tax!.total_paise) : "—"}</td>
              <td>{lines.length > 1 && <button type="button" class="small subtle" onClick={() => setLines(lines.filter((_, j) => j !== i))}>{en.common.remove}</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {Object.values(errors).length > 0 && <p class="error-text">{Object.values(errors)[0]}</p>}
      <div class="row">
        <button type="button" onClick={() => setLines([...lines, blankLine()])}>{en.invoice.addLine}</button>
        {catalogue.length > 0 && (
          <select aria-label={en.catalogue.pick} data-testid="catalogue-pick" value=""
            onChange={(e) => {
              const item = catalogue.find((c) => c.id === (e.currentTarget as HTMLSelectElement).value);
              if (!item) return;
              // The untouched first line (a blank consultation) gives way to the item.
              const untouched = lines.length === 1 && lines[0].price === "" && lines[0].description === en.invoice.consultation;
              setLines(untouched ? [lineFromItem(item)] : [...lines, lineFromItem(item)]);
            }}>
            <option value="">{en.catalogue.pick}</option>
            {catalogue.map((c) => <option key={c.id} value={c.id}>{c.name} · {formatPaise(c.price_paise)}</option>)}
          </select>
        )}
      </div>
      <TotalsTable totals={totals} kind={kind} stateCode={supplierState ?? ""} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy || supplierState === null}>{en.invoice.issue}</button>
        {billDirty && (
          <button type="button" class="subtle" data-testid="invoice-clear" onClick={() => confirm.ask({
            title: en.unsaved.discardTitle, body: en.unsaved.discardBody(en.unsaved.bill), confirmLabel: en.unsaved.discard, danger: true, action: clear,
          })}>{en.invoice.clear}</button>
        )}
      </div>
    </form>
  );
}

export function TotalsTable(props: { totals: LineTax; kind: "intra_state" | "inter_state"; stateCode: string; paid?: number; credited?: number }) {
  const t = props.totals;
  return (
    <table class="totals">
      <tbody>
        <tr><th>{en.invoice.taxable}</th><td class="num">{formatPaise(t.taxable_paise)}</td></tr>
        {props.kind === "intra_state" ? (
          <>
            <tr><th>{en.invoice.cgst}</th><td class="num">{formatPaise(t.cgst_paise)}</td></tr>
            <tr><th>{stateTaxLabel(props.stateCode)}</th><td class="num">{formatPaise(t.sgst_paise)}</td></tr>
          </>
        ) : (
          <tr><th>{en.invoice.igst}</th><td class="num">{formatPaise(t.igst_paise)}</td></tr>
        )}
        <tr class="grand"><th>{en.invoice.total}</th><td class="num">{formatPaise(t.total_paise)}</td></tr>
        {props.credited ? <tr><th>{en.invoice.credited}</th><td class="num">{formatPaise(props.credited)}</td></tr> : null}
        {props.paid !== undefined && (
          <>
            <tr><th>{en.invoice.paid}</th><td class="num">{formatPaise(props.paid)}</td></tr>
            <tr><th>{en.invoice.balance}</th><td class="num">{formatPaise(t.total_paise - (props.credited ?? 0) - props.paid)}</td></tr>
          </>
        )}
      </tbody>
    </table>
  );
}

/** What credit notes already gave back of each invoice line's taxable value. */
function creditedByLine(inv: Invoice): Map<string, number> {
  const credited = new Map<string, number>();
  for (const note of inv.credit_notes) {
    for (const l of note.lines) credited.set(l.invoice_line_id, (credited.get(l.invoice_line_id) ?? 0) + l.tax.taxable_paise);
  }
  return credited;
}

/** What is still due (`Invoice::due_paise`): the total less credit notes and payments. */
export function dueOf(inv: Invoice): number {
  return inv.totals.total_paise - inv.credit_notes.reduce((t, c) => t + c.totals.total_paise, 0) - inv.paid_paise;
}

/** A credit note against some of the invoice's lines: the taxable value to give back per
 * line (at most what is left of it); the core's shared rule taxes it at the line's rate. */
function CreditNoteForm(props: { invoice: Invoice; onDone: () => void; onCancel: () => void }) {
  const inv = props.invoice;
  const credited = creditedByLine(inv);
  const open = inv.lines.filter((l) => l.tax.taxable_paise - (credited.get(l.id) ?? 0) > 0);
  const [amounts, setAmounts] = useState<Record<string, string>>({});
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { busy, error, run } = useAction();
  const confirm = useConfirm(en.common.cancel);
  const submit = (e: Event) => {
    e.preventDefault();
    const errs: Record<string, string> = {};
    const lines: { invoice_line_id: string; taxable_paise: number }[] = [];
    for (const l of open) {
      const text = (amounts[l.id] ?? "").trim();
      if (text === "") continue;
      const a = parseRupees(text);
      if (!a.ok || a.paise <= 0) errs[l.id] = en.validation.amount;
      else lines.push({ invoice_line_id: l.id, taxable_paise: a.paise });
    }
    const r = cleanText(reason, LIMITS.cancel_reason);
    if (!r.ok || r.value === "") errs.reason = r.ok ? en.validation.required : r.error;
    if (lines.length === 0 && Object.keys(errs).length === 0) errs.lines = en.invoice.creditNothing;
    setErrors(errs);
    if (Object.keys(errs).length > 0) return;
    const taxable = lines.reduce((t, l) => t + l.taxable_paise, 0);
    confirm.ask({
      title: en.invoice.issueCreditNote, body: en.invoice.confirmCreditNote(formatPaise(taxable)), confirmLabel: en.invoice.issueCreditNote,
      action: async () => {
        const ok = await run(() => api.issueCreditNote(inv.id, r.ok ? r.value : "", lines));
        if (ok) props.onDone();
      },
    });
  };
  return (
    <form class="credit-note-form" onSubmit={submit}>
      {confirm.dialog}
      <ErrorBanner error={error} />
      <table class="grid">
        <tbody>
          {open.map((l) => (
            <tr key={l.id}>
              <td>{l.description}</td><td>{l.sac_hsn}</td><td>{formatRate(l.gst_rate_bp)}</td>
              <td>
                <Field name={`credit-${l.position}`} label={en.invoice.creditAmount(formatPaise(l.tax.taxable_paise - (credited.get(l.id) ?? 0)))}
                  value={amounts[l.id] ?? ""} onInput={(v) => setAmounts({ ...amounts, [l.id]: v })} error={errors[l.id]} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {errors.lines && <p class="error-text">{errors.lines}</p>}
      <Field name="credit-reason" label={en.invoice.creditReason} value={reason} onInput={setReason} error={errors.reason} />
      <div class="actions">
        <button type="submit" class="primary" data-testid="credit-note-issue" disabled={busy}>{en.invoice.issueCreditNote}</button>
        <button type="button" onClick={props.onCancel}>{en.invoice.keep}</button>
      </div>
    </form>
  );
}

function InvoiceCard(props: { invoice: Invoice; clinic: ClinicView; patient: Patient; doctors: Member[]; onChanged: () => void }) {
  const inv = props.invoice;
  const balance = dueOf(inv);
  const [amount, setAmount] = useState(balance > 0 ? formatPaise(balance, { symbol: false }) : "");
  const [method, setMethod] = useState<PaymentMethod>("cash");
  const [reference, setReference] = useState("");
  const [amountError, setAmountError] = useState<string | undefined>();
  const { busy, error, run } = useAction();

  const pay = async (e: Event) => {
    e.preventDefault();
    const a = parseRupees(amount);
    if (!a.ok || a.paise <= 0) { setAmountError(en.validation.amount); return; }
    setAmountError(undefined);
    const ok = await run(() => api.addPayment(inv.id, { id: null, amount_paise: a.paise, method, reference: reference.trim() || null }));
    if (ok) props.onChanged();
  };
  const role = props.clinic.membership.role;
  const cancelled = inv.cancellation ?? null;
  const [refund, setRefund] = useState("");
  const [refundError, setRefundError] = useState<string | undefined>();
  const [cancelling, setCancelling] = useState(false);
  const [crediting, setCrediting] = useState(false);
  const [reason, setReason] = useState("");
  const [reasonError, setReasonError] = useState<string | undefined>();
  // A refund is a negative payment, never more than was paid (`payment_fits`).
  const giveRefund = async (e: Event) => {
    e.preventDefault();
    const a = parseRupees(refund);
    if (!a.ok || a.paise <= 0 || a.paise > inv.paid_paise) { setRefundError(en.validation.amount); return; }
    setRefundError(undefined);
    const ok = await run(() => api.addPayment(inv.id, { id: null, amount_paise: -a.paise, method, reference: reference.trim() || null }));
    if (ok) { setRefund(""); props.onChanged(); }
  };
  const cancel = async (e: Event) => {
    e.preventDefault();
    const r = cleanText(reason, LIMITS.cancel_reason);
    if (!r.ok || r.value === "") { setReasonError(r.ok ? en.validation.required : r.error); return; }
    setReasonError(undefined);
    const ok = await run(() => api.cancelInvoice(inv.id, r.value));
    if (ok) { setCancelling(false); props.onChanged(); }
  };
  const doc = { invoice: inv, patient: props.patient, clinic: props.clinic, doctor: inv.doctor_id ? prescriber(props.doctors, inv.doctor_id) : null };
  const pdf = useSavePdf();
  const title = documentTitle(inv, props.clinic);
  return (
    <article class={`card invoice-card${cancelled ? " cancelled" : ""}`}>
      <h3>{en.invoice.number} {inv.invoice_number} <span class="muted small">{formatDateTime(inv.issued_at)}</span>
        {cancelled && <> <span class="cancelled-badge" data-testid="invoice-cancelled">{en.invoice.cancelled}</span></>}</h3>
      {cancelled && <p class="muted">{en.invoice.cancelledOn(formatDateTime(cancelled.cancelled_at), cancelled.reason)}</p>}
      <TotalsTable totals={inv.totals} kind={inv.supply_kind} stateCode={inv.place_of_supply} paid={inv.paid_paise}
        credited={inv.credit_notes.reduce((t, c) => t + c.totals.total_paise, 0)} />
      {inv.credit_notes.length > 0 && (
        <ul class="credit-notes" aria-label={en.invoice.creditNotes}>
          {inv.credit_notes.map((c) => (
            <li key={c.id} data-testid="credit-note">
              {en.invoice.creditNoteLine(c.credit_note_number, formatDateTime(c.issued_at), formatPaise(c.totals.total_paise), c.reason)}
              {" "}<button class="small" onClick={() => requestPrint({ kind: "credit_note", note: c, ...doc })}>{en.invoice.printCreditNote}</button>
              {" "}<button class="small" data-testid="save-credit-note-pdf" disabled={pdf.busy} onClick={() => pdf.save({ kind: "credit_note", note: c, ...doc }, `${en.invoice.creditNote} ${c.credit_note_number}`)}>{en.print.savePdf}</button>
            </li>
          ))}
        </ul>
      )}
      <ErrorBanner error={error ?? pdf.error} />
      {pdf.saved && <div data-testid="pdf-saved" data-path={pdf.saved}><Notice>{en.print.savedPdf(pdf.saved)}</Notice></div>}
      {!cancelled && balance > 0 && (
        <form class="row" onSubmit={pay}>
          <Field name="pay-amount" label={en.invoice.amount} value={amount} onInput={setAmount} error={amountError} />
          <div class="field">
            <label for={`m-${inv.id}`}>{en.invoice.method}</label>
            <select id={`m-${inv.id}`} value={method} onChange={(e) => setMethod((e.currentTarget as HTMLSelectElement).value as PaymentMethod)}>
              {(["cash", "upi", "card", "other"] as PaymentMethod[]).map((m) => <option key={m} value={m}>{en.invoice.methods[m]}</option>)}
            </select>
          </div>
          <Field name="pay-ref" label={en.invoice.reference} value={reference} onInput={setReference} />
          <button type="submit" disabled={busy}>{en.invoice.payment}</button>
        </form>
      )}
      {inv.paid_paise > 0 && may(role, "payment", "create") && (
        <form class="row" onSubmit={giveRefund}>
          <Field name="refund-amount" label={en.invoice.refundAmount} value={refund} onInput={setRefund} error={refundError} />
          <button type="submit" disabled={busy}>{en.invoice.refund}</button>
        </form>
      )}
      {crediting && <CreditNoteForm invoice={inv} onDone={() => { setCrediting(false); props.onChanged(); }} onCancel={() => setCrediting(false)} />}
      {cancelling && (
        <form class="row" onSubmit={cancel}>
          <Field name="cancel-reason" label={en.invoice.cancelReason} value={reason} onInput={setReason} error={reasonError} autoFocus />
          <button type="submit" class="danger" disabled={busy}>{en.invoice.confirmCancel}</button>
          <button type="button" onClick={() => setCancelling(false)}>{en.invoice.keep}</button>
        </form>
      )}
      <div class="actions">
        <button onClick={() => requestPrint({ kind: "invoice", ...doc })}>{en.invoice.printA4(title)}</button>
        <button data-testid="save-invoice-pdf" disabled={pdf.busy} onClick={() => pdf.save({ kind: "invoice", ...doc }, `${title} ${inv.invoice_number}`)}>{en.invoice.savePdf(title)}</button>
        <button onClick={() => requestPrint({ kind: "receipt", ...doc })}>{en.invoice.printReceipt}</button>
        <button data-testid="save-receipt-pdf" disabled={pdf.busy} onClick={() => pdf.save({ kind: "receipt", ...doc }, `${en.invoice.receipt} ${inv.invoice_number}`)}>{en.invoice.saveReceiptPdf}</button>
        {!cancelled && !crediting && may(role, "credit_note", "create") && (
          <button class="subtle" data-testid="credit-note-open" onClick={() => setCrediting(true)}>{en.invoice.creditNote}</button>
        )}
        {!cancelled && !cancelling && may(role, "invoice", "cancel") && inv.credit_notes.length === 0 && (
          <button class="subtle" onClick={() => setCancelling(true)} disabled={inv.paid_paise !== 0}
            title={inv.paid_paise !== 0 ? en.invoice.cancelNeedsRefund : undefined}>{en.invoice.cancel}</button>
        )}
      </div>
    </article>
  );
}

/** A kept bill, if it has the editor's shape (anything else kept is ignored). */
function keptBill(data: unknown): { lines: LineForm[]; business: boolean; recipientGstin: string; recipientName: string; doctorId: string } | null {
  if (typeof data !== "object" || data === null) return null;
  const o = data as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" ? v : null);
  if (!Array.isArray(o.lines) || o.lines.length === 0) return null;
  const lines: LineForm[] = [];
  for (const l of o.lines as Array<Record<string, unknown>>) {
    const fields = [l?.description, l?.sac_hsn, l?.qty, l?.price, l?.discount, l?.treatment, l?.unit].map(text);
    if (fields.some((f) => f === null) || typeof l.rate !== "number") return null;
    const [description, sac_hsn, qty, price, discount, treatment, unit] = fields as string[];
    lines.push({ description, sac_hsn, qty, price, discount, rate: l.rate, treatment: treatment as TaxTreatment, unit });
  }
  return {
    lines, business: o.business === true, recipientGstin: text(o.recipientGstin) ?? "", recipientName: text(o.recipientName) ?? "",
    doctorId: text(o.doctorId) ?? "",
  };
}
