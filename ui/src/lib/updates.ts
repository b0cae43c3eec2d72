// What the update banner says, and when to ask the server again. The server announces a
// newer version (`check_update`); "required" means this version can no longer sync.

import type { SyncStatus, UpdateProgress, UpdateView } from "./types";
import { formatBytes } from "./progress";
import { en } from "../strings/en";

/** How often a running app asks for updates. */
export const CHECK_EVERY_MS = 6 * 3600 * 1000;
/** A server that refuses this version (`upgrade_required`) is asked again at most this often. */
export const RECHECK_AFTER_MS = 60 * 1000;

/** The banner's sentence for an announced update. */
export function updateText(u: UpdateView): string {
  if (u.required) return en.update.required(u.current_version, u.version);
  return en.update.available(u.version, u.current_version);
}

/** Whether the banner may be put away until the next start ("Later"). */
export function canPostpone(u: UpdateView): boolean {
  return !u.required;
}

/** The download's progress as the banner shows it. */
export function downloadText(p: UpdateProgress | null): string {
  if (!p) return en.update.sending;
  if (p.total && p.received >= p.total) return en.update.installing;
  return en.update.downloading(formatBytes(p.received), p.total ? formatBytes(p.total) : null);
}

/** A sync refused for this version's age is a reason to ask about updates now. */
export function recheckAfterStatus(status: SyncStatus, lastCheckedMs: number, nowMs: number): boolean {
  return status.error?.code === "upgrade_required" && nowMs - lastCheckedMs >= RECHECK_AFTER_MS;
}
