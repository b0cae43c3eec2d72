// Always visible: online/offline, changes waiting for the server, last sync, the initial
// sync's progress and the conflict inbox. Fed by `sync://status` events from Rust.

import { useEffect, useState } from "preact/hooks";
import { api, EVENTS, onEvent, readableError } from "../lib/ipc";
import { formatDateTime } from "../lib/dates";
import type { SyncStatus } from "../lib/types";
import { en } from "../strings/en";

const EMPTY: SyncStatus = { online: false, syncing: false, pending: 0, conflicts: 0, last_synced_at: null, progress: null, error: null };

export function StatusBar(props: { onOpenConflicts?: () => void; active: boolean }) {
  const [status, setStatus] = useState<SyncStatus>(EMPTY);
  useEffect(() => {
    let unlisten: (() => void) | undefined;
    onEvent<SyncStatus>(EVENTS.status, setStatus).then((u) => (unlisten = u));
    if (props.active) api.syncStatus().then(setStatus, () => {});
    return () => unlisten?.();
  }, [props.active]);

  const synced = status.online && status.pending === 0 && !status.syncing;
  // Before a clinic is open there is nothing to sync: no claim about the network or changes.
  if (!props.active) return <footer class="status-bar" role="status" aria-live="polite" />;
  return (
    <footer class="status-bar" role="status" aria-live="polite">
      <span class={`dot ${status.online ? "online" : "offline"}`} data-testid="net-state">
        {status.online ? en.status.online : en.status.offline}
      </span>
      <span data-testid="pending">{status.syncing ? en.status.syncing : synced ? en.status.synced : en.status.pending(status.pending)}</span>
      <span>{status.last_synced_at ? en.status.lastSync(formatDateTime(status.last_synced_at)) : en.status.never}</span>
      {status.progress && (
        <span class="progress">
          <progress value={status.progress.done} max={status.progress.total ?? undefined} />
          {en.status.initialSync(status.progress.done, status.progress.total)}
        </span>
      )}
      {status.error && <span class="error-text">{readableError(status.error)}</span>}
      <span class="spacer" />
      <button class={`link ${status.conflicts > 0 ? "warn" : ""}`} onClick={props.onOpenConflicts}>
        {en.status.conflicts(status.conflicts)}
      </button>
      <button class="link" onClick={() => api.syncNow().catch(() => {})}>{en.status.syncNow}</button>
    </footer>
  );
}
