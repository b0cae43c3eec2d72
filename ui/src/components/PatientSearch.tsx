// Search as you type over the local encrypted cache (FTS in the client core), with arrow
// keys and Enter to choose. Works offline.

import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/ipc";
import { formatDate } from "../lib/dates";
import { formatPhone } from "../lib/phone";
import type { Patient } from "../lib/types";
import { en } from "../strings/en";
import { ErrorBanner, useDebounced, useSlashFocus } from "./common";

export function PatientSearch(props: { onChoose: (p: Patient) => void; refreshKey?: number; compact?: boolean }) {
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<Patient[]>([]);
  const [active, setActive] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const debounced = useDebounced(query, 120);
  const inputRef = useSlashFocus();

  useEffect(() => {
    let stale = false;
    if (debounced.trim() === "") {
      setResults([]);
      return;
    }
    api.searchPatients(debounced, 30).then(
      (r) => { if (!stale) { setResults(r); setActive(0); setError(null); } },
      (e) => { if (!stale) setError(e); },
    );
    return () => { stale = true; };
  }, [debounced, props.refreshKey]);

  const choose = (p: Patient) => { props.onChoose(p); if (props.compact) setQuery(""); };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "ArrowDown") { setActive((a) => Math.min(a + 1, results.length - 1)); e.preventDefault(); }
    if (e.key === "ArrowUp") { setActive((a) => Math.max(a - 1, 0)); e.preventDefault(); }
    if (e.key === "Enter" && results[active]) { choose(results[active]); e.preventDefault(); }
    if (e.key === "Escape") setQuery("");
  };

  return (
    <div class="patient-search">
      <input
        ref={inputRef} type="search" class="search-input" name="patient-search" autoFocus={!props.compact}
        placeholder={en.patient.searchPlaceholder} value={query} aria-label={en.common.search}
        onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)} onKeyDown={onKey}
      />
      <ErrorBanner error={error} />
      {debounced.trim() !== "" && results.length === 0 && !error && <p class="muted">{en.patient.noResults}</p>}
      {results.length > 0 && (
        <ul class="results" role="listbox">
          {results.map((p, i) => (
            <li key={p.id} role="option" aria-selected={i === active} class={i === active ? "active" : ""}
              onMouseEnter={() => setActive(i)} onClick={() => choose(p)}>
              <span class="pname">{p.name}</span>
              <span class="muted">#{p.patient_number > 0 ? p.patient_number : en.patient.pendingNumber}</span>
              <span>{en.patient.sexes[p.sex]}{p.date_of_birth ? ` · ${formatDate(p.date_of_birth)}` : ""}</span>
              <span>{formatPhone(p.phone)}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
