// What the status bar says about the network: online with the group server, synced through
// the clinic's hub while the internet line is down (issue 11), or offline.

import type { SyncStatus } from "./types";
import { formatTime } from "./dates";
import { en } from "../strings/en";

export function netStateText(status: Pick<SyncStatus, "online" | "via_hub" | "group_server_unreachable_since">): string {
  if (!status.online) return en.status.offline;
  if (status.via_hub) {
    const since = status.group_server_unreachable_since;
    return en.status.viaHub(since ? formatTime(since) : null);
  }
  return en.status.online;
}
