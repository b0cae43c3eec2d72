// Search as you type over the local encrypted cache (FTS in the client core), with arrow
// keys and Enter to choose. Works offline. No debounce: a local search takes a few
// milliseconds, so every keystroke searches and an answer to an older query is dropped.

import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../lib/ipc";
import { subscribeClinicChanges } from "../lib/useClinicData";
import { formatDate } from "../lib/dates";
import { formatPhone } from "../lib/phone";
import type { Patient } from "../lib/types";
import { en } from "../strings/en";
import { patientNumberLabel } from "../lib/ids";
import { ErrorBanner, useSlashFocus } from "./common";

/** Rows shown: more than fit the list without scrolling, few enough to paint within a frame. */
const RESULTS = 15;

export function PatientSearch(props: { onChoose: (p: Patient) => void; compact?: boolean; onRegister?: (typed: string) => void }) {
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<Patient[]>([]);
  const [active, setActive] = useState(0);
  // The query the shown results answer (tests and the desktop benchmark wait for it).
  const [answered, setAnswered] = useState("");
  const [error, setError] = useState<unknown>(null);
  const inputRef = useSlashFocus();
  // The full search (the front desk's) takes the focus when it appears; see useFocusOnMount.
  useEffect(() => {
    if (!props.compact) inputRef.current?.focus();
  }, []);

  // Each search gets a number; only the answer to the latest one is shown.
  const latest = useRef(0);
  const search = (q: string) => {
    const ticket = ++latest.current;
    if (q.trim() === "") {
      setResults([]);
      setAnswered("");
      return;
    }
    api.searchPatients(q, RESULTS).then(
      (r) => { if (ticket === latest.current) { setResults(r); setActive(0); setError(null); setAnswered(q); } },
      (e) => { if (ticket === latest.current) setError(e); },
    );
  };
  // Searching straight from the input handler, not from an effect (which Preact runs only
  // after the next paint), keeps a frame out of every keystroke's latency.
  const onInput = (q: string) => { setQuery(q); search(q); };
  // Rows changed (a save, a sync): ask again, through the data layer's one subscription.
  // Not `useClinicData`: its loader runs from an effect, after the next paint, and typing
  // must search straight from the input handler (see above).
  const queryRef = useRef(query);
  queryRef.current = query;
  useEffect(() => subscribeClinicChanges(() => search(queryRef.current)), []);

  const choose = (p: Patient) => { props.onChoose(p); if (props.compact) onInput(""); };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "ArrowDown") { setActive((a) => Math.min(a + 1, results.length - 1)); e.preventDefault(); }
    if (e.key === "ArrowUp") { setActive((a) => Math.max(a - 1, 0)); e.preventDefault(); }
    if (e.key === "Enter" && results[active]) { choose(results[active]); e.preventDefault(); }
    // Nobody found: Enter registers the name typed (the front desk's walk-in, by keyboard).
    else if (e.key === "Enter" && props.onRegister && query.trim() !== "" && answered === query && results.length === 0) {
      props.onRegister(query.trim()); onInput(""); e.preventDefault();
    }
    if (e.key === "Escape") onInput("");
  };

  return (
    <div class="patient-search" data-answered={answered}>
      <input
        ref={inputRef} type="search" class="search-input" name="patient-search"
        placeholder={en.patient.searchPlaceholder} value={query} aria-label={en.common.search}
        onInput={(e) => onInput((e.currentTarget as HTMLInputElement).value)} onKeyDown={onKey}
      />
      <ErrorBanner error={error} />
      {query.trim() !== "" && answered === query && results.length === 0 && !error && (
        props.onRegister
          ? <p class="muted">{en.patient.noResults} <button class="link" data-testid="register-typed" onClick={() => { props.onRegister!(query.trim()); onInput(""); }}>{en.patient.registerTyped(query.trim())}</button></p>
          : <p class="muted">{en.patient.noResults}</p>
      )}
      {results.length > 0 && (
        <ul class="results" role="listbox">
          {results.map((p, i) => (
            <li key={p.id} role="option" aria-selected={i === active} class={i === active ? "active" : ""}
              onMouseEnter={() => setActive(i)} onClick={() => choose(p)}>
              <span class="pname">{p.name}</span>
              <span class="muted">{patientNumberLabel(p.patient_number, en.patient.numberPending)}</span>
              <span>{en.patient.sexes[p.sex]}{p.date_of_birth ? ` · ${formatDate(p.date_of_birth)}` : ""}</span>
              <span>{formatPhone(p.phone)}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
