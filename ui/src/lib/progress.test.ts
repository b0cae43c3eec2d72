import { describe, expect, it } from "vitest";
import { formatBytes, progressText } from "./progress";

describe("sync progress", () => {
  it("says records of the estimate, data received and time left", () => {
    expect(progressText({ done: 123456, total: 1000000, bytes: 8_760_000, eta_secs: 754 }))
      .toBe("Downloading clinic data: 1,23,456 of 10,00,000 records · 8.8 MB · about 13 min left");
  });
  it("leaves out what is not known yet", () => {
    expect(progressText({ done: 500, total: null, bytes: 35_500, eta_secs: null }))
      .toBe("Downloading clinic data: 500 records · 35.5 kB");
  });
  it("says less than a minute near the end, and hours for a long fill", () => {
    expect(progressText({ done: 9, total: 10, bytes: 1, eta_secs: 12 })).toContain("less than a minute left");
    expect(progressText({ done: 1, total: 10, bytes: 1, eta_secs: 5400 })).toContain("about 1.5 h left");
  });
  it("formats sizes", () => {
    expect(formatBytes(999)).toBe("1.0 kB");
    expect(formatBytes(42_600_000)).toBe("42.6 MB");
  });
});
