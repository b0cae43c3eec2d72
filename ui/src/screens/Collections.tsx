// Collections: what the clinic took per day and payment mode over a period, as the front desk
// counts it when it closes the day. The server computes it under RLS (online only); it can be
// printed or saved as CSV.

import { useState } from "preact/hooks";
import { api } from "../lib/ipc";
import { todayInIndia } from "../lib/gst";
import { formatPaise } from "../lib/money";
import type { ClinicView, CollectionsReport, GroupCollectionsReport, Gstr1Query, Gstr1Report, Member, MethodTotal, RateAmounts } from "../lib/types";
import { useClinicData } from "../lib/useClinicData";
import { en } from "../strings/en";
import { ErrorBanner, Field, Notice, useAction } from "../components/common";
import { requestPrint } from "../print/Print";

export function Collections(props: { clinic: ClinicView; branches?: number }) {
  const today = todayInIndia();
  const [from, setFrom] = useState(today);
  const [to, setTo] = useState(today);
  const [report, setReport] = useState<CollectionsReport | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const { data: doctors } = useClinicData(() => api.clinicDoctors(), [], [] as Member[]);
  const [group, setGroup] = useState<GroupCollectionsReport | null>(null);
  const showGroup = async () => {
    const r = await run(() => api.groupCollectionsReport({ from, to }));
    if (r) setGroup(r);
  };

  const show = async (e: Event) => {
    e.preventDefault();
    setNotice(null);
    const r = await run(() => api.collectionsReport({ from, to }));
    if (r) setReport(r);
  };
  const save = async () => {
    const path = await run(() => api.exportCollectionsCsv({ from, to }));
    if (path) setNotice(en.collections.saved(path));
  };

  return (
    <section class="collections">
      <h2>{en.collections.title}</h2>
      <form class="row" onSubmit={show}>
        <Field name="collections-from" label={en.collections.from} type="date" value={from} onInput={setFrom} />
        <Field name="collections-to" label={en.collections.to} type="date" value={to} onInput={setTo} />
        <button type="submit" class="primary" disabled={busy}>{en.collections.show}</button>
      </form>
      <ErrorBanner error={error} />
      {notice && <Notice>{notice}</Notice>}
      {report && <CollectionsTable report={report} />}
      {report && <DoctorTable report={report} doctors={doctors} />}
      {report && (
        <div class="actions">
          <button onClick={() => requestPrint({ kind: "collections", report, clinic: props.clinic })}>{en.collections.print}</button>
          <button onClick={save} disabled={busy}>{en.collections.exportCsv}</button>
          {(props.branches ?? 0) > 1 && <button onClick={showGroup} disabled={busy} data-testid="group-collections">{en.collections.allBranches}</button>}
        </div>
      )}
      {group && <GroupTable report={group} />}
      <Gstr1 />
    </section>
  );
}

/** A group's roll-up: each branch's total per mode, then the group's. */
export function GroupTable(props: { report: GroupCollectionsReport }) {
  const r = props.report;
  return (
    <table class="grid collections-group" data-testid="collections-by-branch">
      <thead><tr><th>{en.collections.branch}</th><th>{en.collections.method}</th><th class="num">{en.collections.payments}</th><th class="num">{en.collections.amount}</th></tr></thead>
      {r.branches.map((b) => (
        <tbody key={b.clinic_id}>
          {b.by_method.map((m) => (
            <tr key={m.method}><td>{b.clinic_name}</td><td>{en.invoice.methods[m.method]}</td><td class="num">{m.payments}</td><td class="num">{formatPaise(m.amount_paise)}</td></tr>
          ))}
          <tr class="subtotal"><th>{b.clinic_name}</th><td /><td /><td class="num">{formatPaise(b.total_paise)}</td></tr>
        </tbody>
      ))}
      <tbody><tr class="grand"><th>{en.collections.groupTotal}</th><td /><td /><td class="num">{formatPaise(r.total_paise)}</td></tr></tbody>
    </table>
  );
}

/** The period's collections per doctor billed (bills that named none together). */
export function DoctorTable(props: { report: CollectionsReport; doctors: Member[] }) {
  const rows = props.report.by_doctor ?? [];
  if (rows.length === 0) return null;
  const name = (id: string | null) =>
    id === null ? en.invoice.noDoctor : props.doctors.find((d) => d.user.id === id)?.user.display_name ?? en.collections.unknownDoctor;
  return (
    <table class="grid collections-doctors" data-testid="collections-by-doctor">
      <thead><tr><th>{en.invoice.doctor}</th><th class="num">{en.collections.payments}</th><th class="num">{en.collections.amount}</th></tr></thead>
      <tbody>
        {rows.map((d) => (
          <tr key={d.doctor_id ?? "none"}><td>{name(d.doctor_id ?? null)}</td><td class="num">{d.payments}</td><td class="num">{formatPaise(d.amount_paise)}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

/** The month before today's (India), as `YYYY-MM`: the return usually being prepared. */
function lastMonth(today: string): string {
  const [y, m] = today.split("-").map(Number);
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
}

/** GSTR-1 for a month or a quarter, computed by the server, saved for the GST offline tool. */
function Gstr1() {
  const [month, setMonth] = useState(lastMonth(todayInIndia()));
  const [quarterly, setQuarterly] = useState(false);
  const [report, setReport] = useState<Gstr1Report | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const query = (): Gstr1Query => {
    const [year, m] = month.split("-").map(Number);
    return { year, month: m, months: quarterly ? 3 : 1 };
  };
  const show = async (e: Event) => {
    e.preventDefault();
    setNotice(null);
    const r = await run(() => api.gstr1Report(query()));
    if (r) setReport(r);
  };
  const save = async () => {
    const paths = await run(() => api.exportGstr1(query()));
    if (paths) setNotice(en.gstr1.saved(paths));
  };
  return (
    <div class="gstr1">
      <h2>{en.gstr1.title}</h2>
      <form class="row" onSubmit={show}>
        <Field name="gstr1-month" label={en.gstr1.month} type="month" value={month} onInput={setMonth} />
        <label class="row">
          <input type="checkbox" name="gstr1-quarterly" checked={quarterly}
            onChange={(e) => setQuarterly((e.currentTarget as HTMLInputElement).checked)} />
          {en.gstr1.quarterly}
        </label>
        <button type="submit" class="primary" disabled={busy}>{en.gstr1.show}</button>
      </form>
      <ErrorBanner error={error} />
      {notice && <Notice>{notice}</Notice>}
      {report && <Gstr1Summary report={report} />}
      {report && (
        <div class="actions">
          <button onClick={save} disabled={busy}>{en.gstr1.export}</button>
        </div>
      )}
    </div>
  );
}

function sum(rows: RateAmounts[]): RateAmounts {
  return rows.reduce(
    (t, r) => ({
      rate_bp: 0, taxable_paise: t.taxable_paise + r.taxable_paise, igst_paise: t.igst_paise + r.igst_paise,
      cgst_paise: t.cgst_paise + r.cgst_paise, sgst_paise: t.sgst_paise + r.sgst_paise,
    }),
    { rate_bp: 0, taxable_paise: 0, igst_paise: 0, cgst_paise: 0, sgst_paise: 0 },
  );
}

function taxCells(a: RateAmounts) {
  return (
    <>
      <td class="num">{formatPaise(a.taxable_paise)}</td><td class="num">{formatPaise(a.igst_paise)}</td>
      <td class="num">{formatPaise(a.cgst_paise)}</td><td class="num">{formatPaise(a.sgst_paise)}</td>
    </>
  );
}

/** Each table's totals, as the accountant checks them before filing. */
export function Gstr1Summary(props: { report: Gstr1Report }) {
  const r = props.report;
  const exempt = r.nil.reduce((t, n) => t + n.exempt_paise, 0);
  const zero = sum([]);
  return (
    <>
      <p class="muted">{r.gstin} · {en.gstr1.period(r.from, r.to)} · {en.gstr1.summary(r.invoices)}</p>
      <table class="grid gstr1-table">
        <thead><tr>
          <th>{en.gstr1.table}</th><th class="num">{en.gstr1.taxable}</th><th class="num">{en.gstr1.igst}</th>
          <th class="num">{en.gstr1.cgst}</th><th class="num">{en.gstr1.sgst}</th>
        </tr></thead>
        <tbody>
          <tr data-table="b2b"><th>{en.gstr1.b2b(r.b2b.length)}</th>{taxCells(sum(r.b2b.flatMap((b) => b.items)))}</tr>
          <tr data-table="cdnr"><th>{en.gstr1.cdnr(r.cdnr.length)}</th>{taxCells(sum(r.cdnr.flatMap((c) => c.items)))}</tr>
          <tr data-table="b2cs"><th>{en.gstr1.b2cs}</th>{taxCells(sum(r.b2cs))}</tr>
          <tr data-table="nil"><th>{en.gstr1.nil}</th>{taxCells({ ...zero, taxable_paise: exempt })}</tr>
          <tr data-table="hsn"><th>{en.gstr1.hsn}</th>{taxCells(sum([...r.hsn_b2b, ...r.hsn_b2c]))}</tr>
          <tr class="grand" data-table="total"><th>{en.gstr1.total}</th>{taxCells(r.totals)}</tr>
          <tr data-table="credited"><th>{en.gstr1.credited(r.credit_notes)}</th>{taxCells(r.credit_totals)}</tr>
        </tbody>
      </table>
      <table class="grid gstr1-docs">
        <thead><tr><th>{en.gstr1.docs}</th><th>{en.gstr1.series}</th><th /><th /></tr></thead>
        <tbody>
          {r.documents.map((d) => (
            <tr key={d.series}><td>{en.gstr1.numbers(d.from, d.to)}</td><td>{d.series}</td><td>{en.gstr1.nature(d.nature)}</td><td>{en.gstr1.issued(d.net_issued, d.cancelled)}{d.missing > 0 && <strong class="error-text"> · {en.gstr1.missing(d.missing)}</strong>}</td></tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function methodCells(totals: MethodTotal[]) {
  return totals.map((m) => (
    <tr key={m.method}><td>{en.invoice.methods[m.method]}</td><td class="num">{m.payments}</td><td class="num">{formatPaise(m.amount_paise)}</td></tr>
  ));
}

/** The report as a table: each day's modes, then the period's total per mode. */
export function CollectionsTable(props: { report: CollectionsReport }) {
  const r = props.report;
  if (r.days.length === 0) return <p class="muted">{en.collections.none}</p>;
  return (
    <table class="grid collections-table">
      <thead><tr><th>{en.collections.method}</th><th class="num">{en.collections.payments}</th><th class="num">{en.collections.amount}</th></tr></thead>
      {r.days.map((d) => (
        <tbody key={d.date}>
          <tr class="group"><th colSpan={3}>{d.date}</th></tr>
          {methodCells(d.by_method)}
          <tr class="subtotal"><th>{en.collections.total}</th><td /><td class="num">{formatPaise(d.total_paise)}</td></tr>
        </tbody>
      ))}
      <tbody>
        <tr class="group"><th colSpan={3}>{en.collections.period(r.from, r.to)}</th></tr>
        {methodCells(r.by_method)}
        <tr class="grand"><th>{en.collections.total}</th><td /><td class="num">{formatPaise(r.total_paise)}</td></tr>
      </tbody>
    </table>
  );
}
