// Always visible: online/offline, changes waiting for the server and changes it rejected
// (counted apart; rejected links to the Unsent changes screen), last sync, the initial
// sync's progress and the conflict inbox. Fed by `sync://status` events from Rust.

import { useEffect, useState } from "preact/hooks";
import { api, EVENTS, onEvent, readableError } from "../lib/ipc";
import { formatDateTime, pcZoneDiffers } from "../lib/dates";
import { netStateText } from "../lib/netState";
import { isSynced, statusCounts, waitingBy } from "../lib/unsent";
import { progressText } from "../lib/progress";
import type { SyncStatus } from "../lib/types";
import { en } from "../strings/en";

const EMPTY: SyncStatus = { online: false, syncing: false, pending: 0, rejected: 0, conflicts: 0, last_synced_at: null, progress: null, error: null };

export function StatusBar(props: { onOpenConflicts?: () => void; onOpenUnsent?: () => void; onSignInAgain?: () => void; active: boolean }) {
  const [status, setStatus] = useState<SyncStatus>(EMPTY);
  useEffect(() => {
    let unlisten: (() => void) | undefined;
    onEvent<SyncStatus>(EVENTS.status, setStatus).then((u) => (unlisten = u));
    if (props.active) api.syncStatus().then(setStatus, () => {});
    return () => unlisten?.();
  }, [props.active]);

  const relayed = status.relayed ?? 0;
  const synced = isSynced(status);
  const counts = statusCounts({ pending: status.pending, rejected: status.rejected ?? 0 });
  // A shared PC: whose changes they are, so nobody signs out on a colleague's unsent work.
  const whose = synced || status.syncing ? null : waitingBy(status.waiting);
  // Before a clinic is open there is nothing to sync: no claim about the network or changes.
  if (!props.active) return <footer class="status-bar" role="status" aria-live="polite" />;
  return (
    <footer class="status-bar" role="status" aria-live="polite">
      <span class={`dot ${status.online ? "online" : "offline"}`} data-testid="net-state">
        {netStateText(status)}
      </span>
      <span data-testid="pending">
        {status.syncing ? en.status.syncing : synced ? en.status.synced : relayed > 0 && status.pending === 0 ? "" : counts.waiting ?? ""}
      </span>
      {whose && <span class="muted" data-testid="waiting-by">{en.status.waitingBy(whose)}</span>}
      {relayed > 0 && !status.syncing && (
        <span class="muted" data-testid="relayed" title={en.status.relayedHint}>{en.status.relayed(relayed)}</span>
      )}
      {counts.rejected && (
        <button class="link warn" onClick={props.onOpenUnsent} data-testid="rejected">{counts.rejected}</button>
      )}
      <span>{status.last_synced_at ? en.status.lastSync(formatDateTime(status.last_synced_at)) : en.status.never}</span>
      {status.progress && (
        <span class="progress">
          <progress value={status.progress.done} max={status.progress.total ?? undefined} />
          <span data-testid="sync-progress">{progressText(status.progress)}</span>
        </span>
      )}
      {status.error && <span class="error-text">{readableError(status.error)}</span>}
      {/* Times here are the clinic's (IST); other programs on a PC set to another zone
          show other times, so say which. */}
      {pcZoneDiffers() && <span class="warn-text" data-testid="pc-zone" title={en.status.pcZoneHint}>{en.status.pcZone}</span>}
      {status.clock_off_minutes != null && (
        <span class="warn-text" data-testid="pc-clock" title={en.status.pcClockHint}>{en.status.pcClock(status.clock_off_minutes)}</span>
      )}
      {/* After an offline sign-in the server wants the password once before sending the work
          waiting here (it stays on this PC meanwhile). */}
      {status.error?.code === "unauthenticated" && props.onSignInAgain && (
        <button class="link warn" onClick={props.onSignInAgain} data-testid="sign-in-again">{en.status.signInAgain}</button>
      )}
      <span class="spacer" />
      <button class={`link ${status.conflicts > 0 ? "warn" : ""}`} onClick={props.onOpenConflicts}>
        {en.status.conflicts(status.conflicts)}
      </button>
      <button class="link" onClick={() => api.syncNow().catch(() => {})}>{en.status.syncNow}</button>
    </footer>
  );
}
