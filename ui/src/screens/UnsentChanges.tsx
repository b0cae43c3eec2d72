// Unsent changes: what the server refused from this PC, why, and what to do about it —
// correct the values and send again, or discard (after an in-app confirmation that says
// what discarding does). Also lists device invoice numbers cancelled by discarding.

import { useState } from "preact/hooks";
import { api, AppError } from "../lib/ipc";
import { formatDateTime } from "../lib/dates";
import { doctorName, useDoctors } from "../lib/doctors";
import { clinicDataChanged, useClinicData } from "../lib/useClinicData";
import { authorLabel, corrections, describeChange, discardConsequence, fieldLabel, reasonText, toInput } from "../lib/unsent";
import type { ClinicView, SessionView, UnsentChange, UnsentView } from "../lib/types";
import { en } from "../strings/en";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ErrorBanner, Field, Notice, useAction } from "../components/common";

const EMPTY: UnsentView = { changes: [], voided: [] };

export function UnsentChanges(props: { clinic: ClinicView; session: SessionView }) {
  const doctors = useDoctors(props.clinic, props.session);
  const { data, error, reload } = useClinicData(() => api.unsentChanges(), [], EMPTY);
  const [notice, setNotice] = useState<string | null>(null);
  const done = (text: string) => { setNotice(text); reload(); clinicDataChanged(); };
  return (
    <section class="unsent">
      <h2>{en.unsent.title}</h2>
      <p class="muted">{en.unsent.intro}</p>
      <ErrorBanner error={error} />
      {notice && <Notice>{notice}</Notice>}
      {data.changes.length === 0 && <p class="muted" data-testid="unsent-empty">{en.unsent.empty}</p>}
      {data.changes.map((c) => (
        <UnsentCard key={c.mutation_id} change={c} describe={(c) => describeChange(c, (id) => doctorName(doctors, id))} onDone={done} />
      ))}
      {data.voided.length > 0 && (
        <article class="card" data-testid="voided-numbers">
          <h3>{en.unsent.voidedTitle}</h3>
          <p class="muted">{en.unsent.voidedIntro}</p>
          <table class="grid">
            <thead><tr><th>{en.invoice.number}</th><th>{en.invoice.date}</th><th>{en.unsent.reason}</th></tr></thead>
            <tbody>
              {data.voided.map((v) => (
                <tr key={v.invoice_number}><td>{v.invoice_number}</td><td>{formatDateTime(v.voided_at)}</td><td>{v.reason ?? "—"}</td></tr>
              ))}
            </tbody>
          </table>
        </article>
      )}
    </section>
  );
}

function UnsentCard(props: { change: UnsentChange; describe: (c: UnsentChange) => string; onDone: (notice: string) => void }) {
  const c = props.change;
  const [editing, setEditing] = useState(false);
  const [typed, setTyped] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run, setError } = useAction();

  const startEditing = () => {
    setTyped(Object.fromEntries(c.editable.map((f) => [f.name, toInput(f)])));
    setErrors({});
    setEditing(true);
  };
  const resend = () => {
    const parsed = corrections(c.editable, typed);
    if (!parsed.ok) { setErrors(parsed.errors); return; }
    run(async () => {
      try {
        await api.resendChange(c.mutation_id, parsed.values);
        props.onDone(en.unsent.resent);
      } catch (e) {
        // The core's rules (phone, ABHA, lengths) name the field to fix.
        if (e instanceof AppError && e.field && c.editable.some((f) => f.name === e.field)) {
          setErrors({ [e.field]: e.message.replace(/^[a-z_]+: /, "") });
          setError(null);
          return;
        }
        throw e;
      }
    });
  };
  const discard = () =>
    run(async () => {
      const voided = await api.discardChange(c.mutation_id);
      setConfirming(false);
      props.onDone(voided ? `${en.unsent.discarded} ${en.unsent.voidedNote(voided)}` : en.unsent.discarded);
    });

  return (
    <article class="card unsent-change" data-testid="unsent-change" data-entity={c.entity}>
      <h3>{props.describe(c)}</h3>
      <p class="muted small" data-testid="unsent-author">
        {c.author_id || c.author_name
          ? en.unsent.madeBy(authorLabel(c.author_id, c.author_name), formatDateTime(c.made_at))
          : en.unsent.madeAt(formatDateTime(c.made_at))}
      </p>
      <p class="unsent-reason"><strong>{en.unsent.reason}: </strong><span data-testid="unsent-reason">{reasonText(c)}</span></p>
      {c.field && <p class="small">{en.unsent.field(fieldLabel(c.field))}</p>}
      {!c.may_change && <p class="muted">{en.unsent.clinicalHidden}</p>}
      <ErrorBanner error={error} />
      {editing && (
        <div class="unsent-form">
          {c.editable.length === 0 && <p class="muted">{en.unsent.noFields}</p>}
          {c.editable.map((f) => (
            <Field key={f.name} name={`unsent-${f.name}`} label={fieldLabel(f.name)} value={typed[f.name] ?? ""}
              error={errors[f.name]} onInput={(v) => setTyped({ ...typed, [f.name]: v })} />
          ))}
          <div class="actions">
            <button class="primary" disabled={busy} onClick={resend} data-testid="unsent-send">
              {c.editable.length === 0 ? en.unsent.resend : en.unsent.sendCorrected}
            </button>
            <button onClick={() => setEditing(false)}>{en.common.cancel}</button>
          </div>
        </div>
      )}
      {c.may_change && !editing && (
        <div class="actions">
          <button onClick={startEditing} data-testid="unsent-correct">
            {c.editable.length === 0 ? en.unsent.resend : en.unsent.correct}
          </button>
          <button class="subtle" onClick={() => setConfirming(true)} data-testid="unsent-discard">{en.unsent.discard}</button>
        </div>
      )}
      {confirming && (
        <ConfirmDialog
          title={en.unsent.discardTitle} confirmLabel={en.unsent.discardConfirm} cancelLabel={en.unsent.keep}
          busy={busy} danger onConfirm={discard} onCancel={() => setConfirming(false)}
        >
          <p><strong>{props.describe(c)}</strong></p>
          {discardConsequence(c).map((line) => <p key={line}>{line}</p>)}
        </ConfirmDialog>
      )}
    </article>
  );
}
