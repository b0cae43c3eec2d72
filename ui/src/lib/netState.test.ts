import { describe, expect, it } from "vitest";
import { netStateText } from "./netState";

describe("the status bar's network state", () => {
  it("says online with the group server, and offline", () => {
    expect(netStateText({ online: true })).toBe("Online");
    expect(netStateText({ online: false, via_hub: true })).toBe("Offline");
  });
  it("says the clinic hub stands in, and since when the group server is unreachable (IST)", () => {
    expect(netStateText({ online: true, via_hub: true, group_server_unreachable_since: "2026-12-07T05:12:00Z" }))
      .toBe("Synced with the clinic hub · group server unreachable since 10:42");
    expect(netStateText({ online: true, via_hub: true, group_server_unreachable_since: null }))
      .toBe("Synced with the clinic hub");
  });
});
