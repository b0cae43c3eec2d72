// Collections: what the clinic took per day and payment mode over a period, as the front desk
// counts it when it closes the day. The server computes it under RLS (online only); it can be
// printed or saved as CSV.

import { useState } from "preact/hooks";
import { api } from "../lib/ipc";
import { todayInIndia } from "../lib/gst";
import { formatPaise } from "../lib/money";
import type { ClinicView, CollectionsReport, MethodTotal } from "../lib/types";
import { en } from "../strings/en";
import { ErrorBanner, Field, Notice, useAction } from "../components/common";
import { requestPrint } from "../print/Print";

export function Collections(props: { clinic: ClinicView }) {
  const today = todayInIndia();
  const [from, setFrom] = useState(today);
  const [to, setTo] = useState(today);
  const [report, setReport] = useState<CollectionsReport | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const { busy, error, run } = useAction();

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
      {report && (
        <div class="actions">
          <button onClick={() => requestPrint({ kind: "collections", report, clinic: props.clinic })}>{en.collections.print}</button>
          <button onClick={save} disabled={busy}>{en.collections.exportCsv}</button>
        </div>
      )}
    </section>
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
