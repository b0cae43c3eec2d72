import { describe, expect, it } from "vitest";
import { canPostpone, downloadText, recheckAfterStatus, updateText } from "./updates";
import type { SyncStatus, UpdateView } from "./types";

const offered: UpdateView = { current_version: "0.1.0", version: "0.2.0", notes: null, required: false, can_install: true };
const required: UpdateView = { ...offered, required: true };
const status = (code: string | null): SyncStatus => ({
  online: true, syncing: false, pending: 0, rejected: 0, conflicts: 0, last_synced_at: null, progress: null,
  error: code ? { code, message: "" } : null,
});

describe("update banner", () => {
  it("offers a newer version and lets it wait", () => {
    expect(updateText(offered)).toContain("0.2.0");
    expect(canPostpone(offered)).toBe(true);
  });
  it("says a required update keeps the PC's work, and cannot be put off", () => {
    expect(updateText(required)).toMatch(/kept/);
    expect(updateText(required)).toContain("0.1.0");
    expect(canPostpone(required)).toBe(false);
  });
  it("shows the download, then the install", () => {
    expect(downloadText({ received: 1_500_000, total: 80_000_000 })).toBe("Downloading the update: 1.5 MB of 80.0 MB…");
    expect(downloadText({ received: 2_000_000, total: null })).toBe("Downloading the update: 2.0 MB…");
    expect(downloadText({ received: 80_000_000, total: 80_000_000 })).toMatch(/Installing/);
    expect(downloadText(null)).toMatch(/Sending/);
  });
  it("asks again when the server refuses this version, at most once a minute", () => {
    expect(recheckAfterStatus(status("upgrade_required"), 0, 60_000)).toBe(true);
    expect(recheckAfterStatus(status("upgrade_required"), 30_000, 60_000)).toBe(false);
    expect(recheckAfterStatus(status("network"), 0, 60_000)).toBe(false);
    expect(recheckAfterStatus(status(null), 0, 60_000)).toBe(false);
  });
});
