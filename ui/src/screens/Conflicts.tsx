// The conflict inbox: changes that could not merge silently, shown to a person.

import { api } from "../lib/ipc";
import { useClinicData } from "../lib/useClinicData";
import { formatDateTime } from "../lib/dates";
import { conflictField, conflictThing, conflictValue } from "../lib/conflicts";
import type { Conflict } from "../lib/types";
import { en } from "../strings/en";
import { ErrorBanner, useAction } from "../components/common";
import { useConfirm } from "../components/ConfirmDialog";


export function ConflictInbox() {
  const { error: actionError, run } = useAction();
  const { data: items, error: loadError, reload: load } = useClinicData(() => api.listConflicts(), [], [] as Conflict[]);
  const error = actionError ?? loadError;
  // Marking resolved keeps the server's value for good (this device's stays on record only):
  // asked first, like every irreversible act.
  const confirm = useConfirm(en.common.cancel);

  return (
    <section>
      <h2>{en.conflicts.title}</h2>
      <ErrorBanner error={error} />
      {confirm.dialog}
      {items.length === 0 && <p class="muted">{en.conflicts.empty}</p>}
      {items.map((c) => (
        <article class="card conflict" key={c.id}>
          <h3>{en.conflicts.kinds[c.kind] ?? c.kind} <span class="muted small">{conflictThing(c.entity)} · {formatDateTime(c.created_at)}</span></h3>
          <table class="grid">
            <thead><tr><th>{en.conflicts.field}</th><th>{en.conflicts.yours}</th><th>{en.conflicts.server}</th></tr></thead>
            <tbody><tr><td>{conflictField(c.field)}</td><td>{conflictValue(c.field, c.local_value)}</td><td>{conflictValue(c.field, c.server_value)}</td></tr></tbody>
          </table>
          <button onClick={() => confirm.ask({
            title: en.conflicts.resolveTitle, body: en.conflicts.resolveBody(conflictValue(c.field, c.server_value)), confirmLabel: en.conflicts.resolve,
            action: () => run(async () => { await api.resolveConflict(c.id); await load(); }),
          })}>{en.conflicts.resolve}</button>
        </article>
      ))}
    </section>
  );
}
