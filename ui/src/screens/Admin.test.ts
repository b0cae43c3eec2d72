import { describe, expect, it } from "vitest";
import { fingerprintStart } from "./Admin";

describe("a hub's certificate fingerprint", () => {
  it("shows the first four groups of four hex digits, as hub status begins", () => {
    const pin = "3F2A9B1C77DE0A41" + "0".repeat(48);
    // `vaidya-server hub status` prints: "3f2a 9b1c 77de 0a41 0000 …" (all 16 groups).
    expect(fingerprintStart(pin)).toBe("3f2a 9b1c 77de 0a41 …");
  });
});
