// The doctor's day: today's patients, the chart, notes (draft → signed, then addenda only)
// and prescriptions from the drug list shipped with the app. All offline-capable.

import { useEffect, useRef, useState } from "preact/hooks";
import { useClinicData } from "../lib/useClinicData";
import { api } from "../lib/ipc";
import { dayRange, formatDateTime, formatTime, isoDate } from "../lib/dates";
import { canPrescribe, canSignNotes } from "../lib/roles";
import { doctorName, prescriber, useDoctors } from "../lib/doctors";
import { searchDrugs, strengthsOf, type Drug } from "../lib/drugs";
import { favourites, newLine, rememberUsual, saveFavourite } from "../lib/rxDefaults";
import { cleanText } from "../lib/validate";
import { adultFlags, adultRangesApply, ageYears, bmiBand, bmiTenths } from "../lib/vitals";
import type { VitalName } from "../lib/rules";
import type { AllergyWarning, AppointmentRow, ClinicView, Encounter, NewPrescription, NewPrescriptionItem, Patient, Prescription, PatientChart, SessionView, Vitals } from "../lib/types";
import { en } from "../strings/en";
import { ErrorBanner, Field, Notice, useAction, useDebounced } from "../components/common";
import { PatientSearch } from "../components/PatientSearch";
import { PatientCard } from "./FrontDesk";
import { requestPrint, useSavePdf, type PrintDoc } from "../print/Print";
import { AllergyList, AllergyWarnings } from "../components/Allergies";
import { ConfirmDialog, useConfirm } from "../components/ConfirmDialog";

export function DoctorScreen(props: { clinic: ClinicView; session: SessionView }) {
  const [patientId, setPatientId] = useState<string | null>(null);
  const { data: today, error } = useClinicData(() => {
    const { from, to } = dayRange(isoDate(new Date()));
    const mine = props.clinic.membership.role === "doctor" ? props.session.user.id : null;
    return api.listAppointments(from, to, mine);
  }, [], [] as AppointmentRow[]);

  return (
    <div class="split doctor">
      <aside>
        <h2>{en.doctor.title}</h2>
        <ErrorBanner error={error} />
        <ul class="today">
          {today.filter((r) => r.appointment.status !== "cancelled").map((r) => (
            <li key={r.appointment.id} class={r.appointment.patient_id === patientId ? "active" : ""}>
              <button class="linkish" onClick={() => setPatientId(r.appointment.patient_id)}>
                <span class="time">{formatTime(r.appointment.starts_at)}</span> {r.patient_name ?? "—"}
                <span class={`status s-${r.appointment.status}`}>{en.queue.status[r.appointment.status]}</span>
              </button>
            </li>
          ))}
        </ul>
        <PatientSearch onChoose={(p) => setPatientId(p.id)} compact />
      </aside>
      <section>{patientId && <Chart key={patientId} patientId={patientId} clinic={props.clinic} session={props.session} />}</section>
    </div>
  );
}

function Chart(props: { patientId: string; clinic: ClinicView; session: SessionView }) {
  const [notice, setNotice] = useState<string | null>(null);
  // Bumped on every save so the editor starts afresh after a note is signed.
  const [saves, setSaves] = useState(0);
  const doctors = useDoctors(props.clinic, props.session);
  const { data: chart, error, reload: load } = useClinicData<PatientChart | null>(
    () => api.patientChart(props.patientId), [props.patientId], null,
  );
  const pdf = useSavePdf();
  if (!chart) return <ErrorBanner error={error} />;
  const drafts = chart.encounters.filter((e) => !e.signed_at);
  const rxDoc = (rx: Prescription): PrintDoc => ({
    kind: "prescription", prescription: rx, patient: chart.patient, clinic: props.clinic,
    doctor: prescriber(doctors, rx.doctor_id), diagnosis: chart.encounters.find((e) => e.id === rx.encounter_id)?.diagnosis ?? "",
  });
  return (
    <div class="chart">
      <PatientCard patient={chart.patient} allergies={chart.allergies} />
      <AllergyList patientId={chart.patient.id} role={props.clinic.membership.role} allergies={chart.allergies} onChanged={load} />
      <ErrorBanner error={error ?? pdf.error} />
      {notice && <Notice>{notice}</Notice>}
      {pdf.saved && <Notice>{en.print.savedPdf(pdf.saved)}</Notice>}
      <LastVisit encounter={latest(chart.encounters.filter((e) => e.signed_at), (e) => e.created_at)} age={ageYears(chart.patient.date_of_birth)} />
      <NoteEditor key={`${drafts[0]?.id ?? "new"}-${saves}`} patient={chart.patient} draft={drafts[0] ?? null} canSign={canSignNotes(props.clinic.membership.role)} onSaved={(m) => { setNotice(m); setSaves((n) => n + 1); load(); }} />
      {canPrescribe(props.clinic.membership.role) && (
        <PrescriptionEditor doctorId={props.session.user.id} patient={chart.patient} encounterId={chart.encounters[0]?.id ?? null} last={latest(chart.prescriptions, (rx) => rx.issued_at)}
          onIssued={() => { setNotice(en.doctor.issued); load(); }} />
      )}
      <h3>{en.doctor.history}</h3>
      {chart.encounters.length === 0 && <p class="muted">{en.doctor.noEncounters}</p>}
      {chart.encounters.filter((e) => e.signed_at).map((e) => <SignedNote key={e.id} encounter={e} signer={e.signed_by ? doctorName(doctors, e.signed_by) : ""} age={ageYears(chart.patient.date_of_birth)} onChanged={load} />)}
      <h3>{en.doctor.prescription}</h3>
      {chart.prescriptions.length === 0 && <p class="muted">{en.doctor.noPrescriptions}</p>}
      {chart.prescriptions.map((rx) => (
        <article class="card" key={rx.id}>
          <h4>{formatDateTime(rx.issued_at)}</h4>
          <ol>{rx.items.map((i) => <li key={i.id}>{i.drug} {i.strength} — {i.dose} {i.frequency} × {i.duration} {i.instructions}</li>)}</ol>
          {rx.notes && <p>{rx.notes}</p>}
          <button onClick={() => requestPrint(rxDoc(rx))}>{en.doctor.printRx}</button>
          <button disabled={pdf.busy} onClick={() => pdf.save(rxDoc(rx), `${en.doctor.prescription} ${chart.patient.name} ${rx.issued_at.slice(0, 10)}`)}>{en.print.savePdf}</button>
        </article>
      ))}
    </div>
  );
}

/** The newest of `items` by `at` (ISO times compare as text). */
export function latest<T>(items: T[], at: (t: T) => string): T | null {
  return items.reduce<T | null>((best, t) => (best === null || at(t) > at(best) ? t : best), null);
}

/** The last signed visit beside the editor: when, why, what was found, and its vitals. */
function LastVisit(props: { encounter: Encounter | null; age: number | null }) {
  const e = props.encounter;
  if (!e) return null;
  return (
    <aside class="card last-visit" data-testid="last-visit">
      <h4>{en.doctor.lastVisit(formatDateTime(e.created_at))}</h4>
      <p>{e.chief_complaint}{e.diagnosis && <> · <strong>{e.diagnosis}</strong></>}</p>
      <VitalsReading vitals={e.vitals} age={props.age} />
    </aside>
  );
}

const vitalFields: Array<[keyof Vitals, string, number]> = [
  ["pulse_bpm", en.doctor.pulse, 1], ["systolic_mmhg", en.doctor.systolic, 1], ["diastolic_mmhg", en.doctor.diastolic, 1],
  ["temperature_dc", en.doctor.temp, 10], ["spo2_percent", en.doctor.spo2, 1], ["respiratory_rate", en.doctor.rr, 1],
  ["weight_g", en.doctor.weight, 1000], ["height_mm", en.doctor.height, 10],
];

/** The vitals form after typing `text` into `k`'s field. Blood pressure is written "120/80"
 * in every clinic: typed so into either BP field, it fills both. */
export function withVital(vitals: Record<string, string>, k: keyof Vitals, text: string): Record<string, string> {
  const bp = /^\s*(\d{2,3})\s*\/\s*(\d{2,3})\s*$/.exec(text);
  if (bp && (k === "systolic_mmhg" || k === "diastolic_mmhg")) {
    return { ...vitals, systolic_mmhg: bp[1], diastolic_mmhg: bp[2] };
  }
  return { ...vitals, [k]: text };
}

/** The vitals typed so far, as numbers (what does not parse yet is left out). */
function typedVitals(vitals: Record<string, string>): Partial<Vitals> {
  const out: Record<string, number> = {};
  for (const [k, , s] of vitalFields) {
    const x = parseVital(vitals[k] ?? "", s);
    if (typeof x === "number") out[k] = x;
  }
  return out as Partial<Vitals>;
}

/** Vitals are integers in small units (tenths of °C, grams, mm); people type °C, kg, cm. */
export function parseVital(text: string, scale: number): number | null | "invalid" {
  if (text.trim() === "") return null;
  if (!/^\d+(\.\d{1,3})?$/.test(text.trim())) return "invalid";
  const [w, f = ""] = text.trim().split(".");
  const digits = Math.round(Math.log10(scale));
  if (f.length > digits) return "invalid";
  return Number(w) * scale + (f ? Number(f.padEnd(digits, "0")) : 0);
}

/** The editor's fields as kept by `keepNoteDraft`; anything else kept is ignored. */
export function keptForm(data: unknown): { chief_complaint: string; notes: string; diagnosis: string; vitals: Record<string, string> } | null {
  if (typeof data !== "object" || data === null) return null;
  const o = data as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  const vitals: Record<string, string> = {};
  if (typeof o.vitals === "object" && o.vitals !== null) {
    for (const [k] of vitalFields) {
      const v = (o.vitals as Record<string, unknown>)[k];
      if (typeof v === "string") vitals[k] = v;
    }
  }
  return { chief_complaint: text(o.chief_complaint), notes: text(o.notes), diagnosis: text(o.diagnosis), vitals };
}

function NoteEditor(props: { patient: Patient; draft: Encounter | null; canSign: boolean; onSaved: (msg: string) => void }) {
  const d = props.draft;
  const [cc, setCc] = useState(d?.chief_complaint ?? "");
  const [notes, setNotes] = useState(d?.notes ?? "");
  const [dx, setDx] = useState(d?.diagnosis ?? "");
  const [vitals, setVitals] = useState<Record<string, string>>(() =>
    Object.fromEntries(vitalFields.map(([k, , s]) => [k, d?.vitals[k] != null ? String(d.vitals[k]! / s) : ""])));
  const [err, setErr] = useState<string | null>(null);
  // What is typed is kept on this PC as it is typed (the clinical store), so a crash, a
  // restart or a sign-out loses nothing; a kept note newer than the saved draft comes back.
  const [keptAt, setKeptAt] = useState<string | null>(null);
  const [restored, setRestored] = useState<string | null>(null);
  const typed = useRef(false);
  useEffect(() => {
    api.noteDraft(props.patient.id).then((k) => {
      const form = k ? keptForm(k.data) : null;
      if (!k || !form || (d && k.saved_at <= d.updated_at) || typed.current) return;
      setCc(form.chief_complaint); setNotes(form.notes); setDx(form.diagnosis);
      setVitals({ ...vitals, ...form.vitals });
      setRestored(formatDateTime(k.saved_at));
    }, () => {});
  }, []);
  const kept = useDebounced(JSON.stringify({ encounter_id: d?.id ?? null, chief_complaint: cc, notes, diagnosis: dx, vitals }), 600);
  useEffect(() => {
    if (!typed.current) return;
    api.keepNoteDraft(props.patient.id, JSON.parse(kept)).then(() => setKeptAt(formatTime(new Date().toISOString())), () => {});
  }, [kept]);
  const edit = <T,>(set: (v: T) => void) => (v: T) => { typed.current = true; set(v); };
  // The vital that could not be read, highlighted beside the message.
  const [badVital, setBadVital] = useState<keyof Vitals | null>(null);
  // Signing is irreversible: it waits for the in-app confirmation (never the webview's own
  // confirm(), which WebKit titles "JavaScript - tauri://localhost").
  const [confirmSign, setConfirmSign] = useState(false);
  const { busy, error, run } = useAction();

  const save = async (sign: boolean, confirmed = false) => {
    const v: Vitals = {};
    for (const [k, label, s] of vitalFields) {
      const parsed = parseVital(vitals[k] ?? "", s);
      if (parsed === "invalid") { setBadVital(k); setErr(en.validation.vital(label)); return; }
      v[k] = parsed;
    }
    setBadVital(null);
    const texts = [cleanText(cc, 500), cleanText(notes, 20000), cleanText(dx, 1000)];
    const bad = texts.find((t) => !t.ok);
    if (bad && !bad.ok) { setErr(bad.error); return; }
    setErr(null);
    if (sign && !confirmed) { setConfirmSign(true); return; }
    setConfirmSign(false);
    const [c, n, x] = texts.map((t) => (t.ok ? t.value : ""));
    const saved = await run(async () => {
      const e = await api.saveEncounter({ id: d?.id ?? null, patient_id: props.patient.id, appointment_id: d?.appointment_id ?? null, chief_complaint: c, notes: n, diagnosis: x, vitals: v });
      return sign ? api.signEncounter(e.id) : e;
    });
    if (saved) {
      // Saved by the rules: what was kept while typing is no longer needed.
      typed.current = false;
      await api.dropNoteDraft(props.patient.id).catch(() => {});
      props.onSaved(sign ? en.doctor.signed(en.doctor.newNote, formatDateTime(saved.signed_at ?? saved.updated_at)) : en.common.saved);
    }
  };

  return (
    <form class="card note-editor" onSubmit={(e) => { e.preventDefault(); save(false); }}>
      <h3>{d ? en.doctor.draft : en.doctor.newNote}</h3>
      <ErrorBanner error={error} />
      {restored && <p class="notice" data-testid="note-restored">{en.doctor.restored(restored)}</p>}
      {err && <p class="error-text">{err}</p>}
      <Field name="cc" label={en.doctor.chiefComplaint} value={cc} onInput={edit(setCc)} />
      <fieldset class="vitals"><legend>{en.doctor.vitals}</legend>
        {vitalFields.map(([k, label]) => (
          <label key={k}>{label}<input inputMode="decimal" value={vitals[k]} aria-invalid={badVital === k}
            onInput={(e) => { typed.current = true; setVitals(withVital(vitals, k, (e.currentTarget as HTMLInputElement).value)); }} /></label>
        ))}
        <VitalsReading vitals={typedVitals(vitals)} age={ageYears(props.patient.date_of_birth)} />
      </fieldset>
      <Field name="notes" label={en.doctor.notes} value={notes} onInput={edit(setNotes)} multiline />
      <Field name="dx" label={en.doctor.diagnosis} value={dx} onInput={edit(setDx)} />
      {keptAt && <p class="muted small" data-testid="note-kept">{en.doctor.kept(keptAt)}</p>}
      <div class="actions">
        <button type="submit" disabled={busy}>{en.doctor.saveDraft}</button>
        {props.canSign && <button type="button" class="primary" disabled={busy} onClick={() => save(true)}>{en.doctor.sign}</button>}
      </div>
      {confirmSign && (
        <ConfirmDialog title={en.doctor.signTitle} confirmLabel={en.doctor.sign} cancelLabel={en.common.cancel}
          busy={busy} onConfirm={() => save(true, true)} onCancel={() => setConfirmSign(false)}>
          <p>{en.doctor.signConfirm}</p>
        </ConfirmDialog>
      )}
    </form>
  );
}

/**
 * The vitals as a clinician reads them: values in everyday units, those outside an adult's
 * usual range marked (not for children), and the BMI with its band.
 */
export function VitalsReading(props: { vitals: Partial<Vitals>; age: number | null }) {
  const v = props.vitals as Partial<Record<VitalName, number | null>>;
  const adult = adultRangesApply(props.age);
  const flags = new Map(adult ? adultFlags(v) : []);
  const shown: Array<[string, string, string | undefined]> = [];
  const mark = (k: VitalName) => { const f = flags.get(k); return f ? (f === "low" ? en.doctor.low : en.doctor.high) : undefined; };
  const one = (k: VitalName, scale: number) => {
    const x = v[k];
    if (x == null) return;
    const [label, unit] = en.doctor.vitalUnits[k];
    shown.push([label, `${x / scale} ${unit}`, mark(k)]);
  };
  one("pulse_bpm", 1);
  if (v.systolic_mmhg != null || v.diastolic_mmhg != null) {
    const bp = `${v.systolic_mmhg ?? "–"}/${v.diastolic_mmhg ?? "–"} mmHg`;
    shown.push([en.doctor.vitalUnits.systolic_mmhg[0], bp, mark("systolic_mmhg") ?? mark("diastolic_mmhg")]);
  }
  one("temperature_dc", 10); one("spo2_percent", 1); one("respiratory_rate", 1);
  one("weight_g", 1000); one("height_mm", 10);
  const bmi = bmiTenths(v);
  if (bmi !== null) {
    const band = bmiBand(bmi);
    shown.push([en.doctor.bmi, `${(bmi / 10).toFixed(1)} (${en.doctor.bmiBands[band]})`, adult && band !== 1 ? en.doctor.bmiBands[band] : undefined]);
  }
  if (shown.length === 0) return null;
  return (
    <p class="vitals-reading" data-testid="vitals-reading">
      {shown.map(([label, value, flag], i) => (
        <span key={label} class={flag ? "vital flagged" : "vital"} data-flag={flag ?? ""}>
          {i > 0 && " · "}<strong>{label}</strong> {value}{flag && label !== en.doctor.bmi ? ` (${flag})` : ""}
        </span>
      ))}
      {!adult && <span class="muted small"> · {en.doctor.childRanges}</span>}
    </p>
  );
}

function SignedNote(props: { encounter: Encounter; signer: string; age: number | null; onChanged: () => void }) {
  const e = props.encounter;
  const [text, setText] = useState("");
  const { busy, error, run } = useAction();
  const add = async (ev: Event) => {
    ev.preventDefault();
    const t = cleanText(text, 5000);
    if (!t.ok || t.value === "") return;
    if (await run(() => api.addAddendum(e.id, t.value))) { setText(""); props.onChanged(); }
  };
  return (
    <article class="card signed-note">
      <h4>{formatDateTime(e.created_at)} · {e.chief_complaint}</h4>
      <p class="muted small">{en.doctor.signed(props.signer, formatDateTime(e.signed_at))}</p>
      <VitalsReading vitals={e.vitals} age={props.age} />
      <p class="pre">{e.notes}</p>
      {e.diagnosis && <p><strong>{en.doctor.diagnosis}:</strong> {e.diagnosis}</p>}
      {e.addenda.map((a) => <p key={a.id} class="addendum"><strong>{en.doctor.addendum} {formatDateTime(a.created_at)}:</strong> {a.text}</p>)}
      <ErrorBanner error={error} />
      <form class="row" onSubmit={add}>
        <input aria-label={en.doctor.addAddendum} placeholder={en.doctor.addAddendum} value={text} onInput={(ev) => setText((ev.currentTarget as HTMLInputElement).value)} />
        <button type="submit" disabled={busy}>{en.doctor.addAddendum}</button>
      </form>
    </article>
  );
}

function PrescriptionEditor(props: { doctorId: string; patient: Patient; encounterId: string | null; last: Prescription | null; onIssued: () => void }) {
  const [query, setQuery] = useState("");
  const [items, setItems] = useState<Array<NewPrescriptionItem & { strengths: string[] }>>([]);
  // A drug starts with this doctor's usual dosing for it, else its form's (lib/rxDefaults).
  const addDrug = (d: Drug) => {
    setItems([...items, { ...newLine(localStorage, props.doctorId, `${d.name} (${d.form})`, d.strengths[0], d.form), strengths: d.strengths }]);
    setQuery("");
  };
  const addLines = (lines: NewPrescriptionItem[]) =>
    setItems([...items, ...lines.map((i) => ({ ...i, strengths: strengthsOf(i.drug, i.strength) }))]);
  const [favs, setFavs] = useState(() => favourites(localStorage, props.doctorId));
  const [favName, setFavName] = useState<string | null>(null);
  const [advice, setAdvice] = useState("");
  const q = useDebounced(query, 80);
  const hits = searchDrugs(q, 10);
  // The highlighted hit (arrows move it, Enter adds it), back to the first on each new query.
  const [active, setActive] = useState(0);
  useEffect(() => setActive(0), [q]);
  const { busy, error, run } = useAction();
  const set = (i: number, patch: Partial<NewPrescriptionItem>) => setItems(items.map((it, j) => (j === i ? { ...it, ...patch } : it)));
  // Allergy warnings for the drugs on the pad, from the client core's shared rule; each must
  // be acknowledged (ticked) before the pad issues, and the acknowledgement is stored.
  const [warnings, setWarnings] = useState<AllergyWarning[]>([]);
  const [acknowledged, setAcknowledged] = useState<string[]>([]);
  const draft = (): NewPrescription => ({
    id: null, patient_id: props.patient.id, encounter_id: props.encounterId, notes: advice.trim(),
    items: items.map(({ strengths: _s, ...it }) => it), acknowledged_allergies: acknowledged,
  });
  useEffect(() => {
    if (items.length === 0) { setWarnings([]); return; }
    api.prescriptionWarnings(draft()).then(setWarnings, () => setWarnings([]));
  }, [items.map((i) => i.drug).join("\n")]);
  const unacknowledged = warnings.some((w) => !acknowledged.includes(w.allergy_id));

  // A signed prescription is a legal document, never edited: asked first.
  const confirm = useConfirm(en.common.cancel);
  const issue = async () => {
    if (items.length === 0 || unacknowledged) return;
    const rx = await run(() => api.issuePrescription(draft()));
    if (rx) {
      rememberUsual(localStorage, props.doctorId, draft().items);
      setItems([]); setAdvice(""); setAcknowledged([]); props.onIssued();
    }
  };

  return (
    <div class="card rx-editor">
      <h3>{en.doctor.newPrescription}</h3>
      <ErrorBanner error={error} />
      {props.last && items.length === 0 && (
        <button class="small" data-testid="repeat-prescription" onClick={() => {
          const last = props.last!;
          addLines(last.items.map((i) => ({
            drug: i.drug, strength: i.strength, dose: i.dose, frequency: i.frequency, duration: i.duration, instructions: i.instructions,
          })));
          if (!advice) setAdvice(last.notes);
        }}>{en.doctor.repeatLast(formatDateTime(props.last.issued_at))}</button>
      )}
      <div class="row rx-favourites">
        {favs.length > 0 && (
          <select aria-label={en.doctor.favourites} data-testid="rx-favourite" value=""
            onChange={(e) => {
              const fav = favs.find((f) => f.name === (e.currentTarget as HTMLSelectElement).value);
              if (!fav) return;
              addLines(fav.items);
              if (!advice) setAdvice(fav.advice);
            }}>
            <option value="">{en.doctor.addFavourite}</option>
            {favs.map((f) => <option key={f.name} value={f.name}>{f.name}</option>)}
          </select>
        )}
        {items.length > 0 && favName === null && (
          <button type="button" class="small subtle" data-testid="rx-save-favourite" onClick={() => setFavName("")}>{en.doctor.saveFavourite}</button>
        )}
        {favName !== null && (
          <form class="row" onSubmit={(e) => {
            e.preventDefault();
            setFavs(saveFavourite(localStorage, props.doctorId, { name: favName, items: draft().items, advice: advice.trim() }));
            setFavName(null);
          }}>
            <input aria-label={en.doctor.favouriteName} placeholder={en.doctor.favouriteName} value={favName} ref={(el) => el?.focus()}
              onInput={(e) => setFavName((e.currentTarget as HTMLInputElement).value)}
              onKeyDown={(e) => { if (e.key === "Escape") { e.stopPropagation(); setFavName(null); } }} />
            <button type="submit" class="small" disabled={!favName.trim()}>{en.common.save}</button>
            <button type="button" class="small subtle" onClick={() => setFavName(null)}>{en.common.cancel}</button>
          </form>
        )}
      </div>
      <input type="search" placeholder={en.doctor.drugSearch} value={query} onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown" && hits.length > 0) { e.preventDefault(); setActive(Math.min(active + 1, hits.length - 1)); return; }
          if (e.key === "ArrowUp" && hits.length > 0) { e.preventDefault(); setActive(Math.max(active - 1, 0)); return; }
          if (e.key === "Escape") { setQuery(""); return; }
          if (e.key !== "Enter") return;
          // The highlighted hit of the list on screen; right after typing (the list not yet
          // caught up), the typed text's first match.
          const pick = q === query ? hits[active] : searchDrugs(query, 1)[0];
          if (pick) { e.preventDefault(); addDrug(pick); }
        }} />
      {hits.length > 0 && (
        <ul class="results">
          {hits.map((d, i) => (
            <li key={`${d.name}-${d.form}`} class={i === active ? "active" : undefined} onClick={() => addDrug(d)}>
              <span class="pname">{d.name}</span> <span class="muted">{d.form} · {d.strengths.join(", ")}</span>
            </li>
          ))}
        </ul>
      )}
      {items.length > 0 && (
        <table class="lines">
          <thead><tr><th>{en.doctor.drug}</th><th>{en.doctor.strength}</th><th>{en.doctor.dose}</th><th>{en.doctor.frequency}</th><th>{en.doctor.duration}</th><th>{en.doctor.instructions}</th><th /></tr></thead>
          <tbody>
            {items.map((it, i) => (
              <tr key={i}>
                <td>{it.drug}</td>
                <td><select value={it.strength} onChange={(e) => set(i, { strength: (e.currentTarget as HTMLSelectElement).value })}>{it.strengths.map((s) => <option key={s}>{s}</option>)}</select></td>
                <td><input class="w3" value={it.dose} onInput={(e) => set(i, { dose: (e.currentTarget as HTMLInputElement).value })} /></td>
                <td><select value={it.frequency} onChange={(e) => set(i, { frequency: (e.currentTarget as HTMLSelectElement).value })}>{en.doctor.frequencies.map((f) => <option key={f}>{f}</option>)}</select></td>
                <td><input class="w6" value={it.duration} onInput={(e) => set(i, { duration: (e.currentTarget as HTMLInputElement).value })} /></td>
                <td><input value={it.instructions} onInput={(e) => set(i, { instructions: (e.currentTarget as HTMLInputElement).value })} /></td>
                <td><button class="small subtle" onClick={() => setItems(items.filter((_, j) => j !== i))}>{en.common.remove}</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <AllergyWarnings warnings={warnings} acknowledged={acknowledged}
        onToggle={(id) => setAcknowledged(acknowledged.includes(id) ? acknowledged.filter((a) => a !== id) : [...acknowledged, id])} />
      <Field name="advice" label={en.doctor.advice} value={advice} onInput={setAdvice} multiline />
      <div class="actions"><button class="primary" disabled={busy || items.length === 0 || unacknowledged}
        onClick={() => confirm.ask({ title: en.doctor.issueTitle(props.patient.name), body: en.doctor.issueBody, confirmLabel: en.doctor.issue, action: issue })}>{en.doctor.issue}</button></div>
      {confirm.dialog}
    </div>
  );
}
