import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain Node script without type declarations
import { manifest, platformKeys } from "../scripts/release-manifest.mjs";

describe("the release's latest.json", () => {
  it("names each installer by the updater's platform keys", () => {
    expect(platformKeys("Vaidya_0.2.0_x64_en-US.msi")).toEqual(["windows-x86_64-msi"]);
    expect(platformKeys("Vaidya.app.tar.gz")).toEqual(["darwin-aarch64-app", "darwin-x86_64-app"]);
    expect(platformKeys("Vaidya_0.2.0_amd64.AppImage")).toEqual(["linux-x86_64-appimage"]);
    expect(platformKeys("Vaidya_0.2.0_amd64.deb")).toEqual(["linux-x86_64-deb"]);
    expect(platformKeys("Vaidya_0.2.0_universal.dmg")).toEqual([]);
  });
  it("has what the server announces", () => {
    const m = manifest({
      version: "0.2.0",
      files: [{ name: "Vaidya_0.2.0_x64_en-US.msi", signature: "c2ln\n" }],
      baseUrl: "https://updates.clinic.example/desktop/",
      minimumVersion: "0.1.0",
      notes: null,
      pubDate: "2026-12-07T00:00:00Z",
    });
    expect(m).toEqual({
      version: "0.2.0",
      notes: null,
      pub_date: "2026-12-07T00:00:00Z",
      minimum_version: "0.1.0",
      platforms: { "windows-x86_64-msi": { url: "https://updates.clinic.example/desktop/Vaidya_0.2.0_x64_en-US.msi", signature: "c2ln" } },
    });
  });
  it("refuses a release with no signed installer", () => {
    expect(() => manifest({ version: "0.2.0", files: [], baseUrl: "https://x", pubDate: "" })).toThrow(/signed/);
  });
});
