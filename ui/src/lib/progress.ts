// What the status bar says about a running sync: records so far (of the server's estimate),
// data received and the time left at the pace so far. A first fill cut off by a dropped line
// counts on from where it stopped.

import type { SyncProgress } from "./types";
import { en } from "../strings/en";

/** 1,23,456: counts as Indian readers group them. */
export const formatCount = (n: number) => Math.round(n).toLocaleString("en-IN");

/** Bytes as kB or MB, one decimal. */
export function formatBytes(bytes: number): string {
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

export function progressText(p: SyncProgress): string {
  const left = p.eta_secs == null ? null : en.status.timeLeft(p.eta_secs);
  return en.status.initialSync(formatCount(p.done), p.total ? formatCount(p.total) : null, formatBytes(p.bytes), left);
}
