import { describe, expect, it } from "vitest";
import { BUNDLED_FONT_FILES, faceOf, INDIC_TEXT, indicFaces, SCRIPT_RANGES } from "./fonts";

describe("the shipped Indic fonts", () => {
  it("cover every major Indian script, regular and bold", () => {
    const faces = indicFaces();
    for (const script of Object.keys(SCRIPT_RANGES)) {
      expect(faces.filter((f) => f.script === script).map((f) => f.weight).sort()).toEqual([400, 700]);
    }
    expect(faces).toHaveLength(Object.keys(SCRIPT_RANGES).length * 2);
    // Nothing else is bundled (the packages' Latin subsets stay out).
    expect(BUNDLED_FONT_FILES).toBe(faces.length);
  });
  it("read a face from its file name", () => {
    expect(faceOf("/node_modules/@fontsource/noto-sans-tamil/files/noto-sans-tamil-tamil-700-normal.woff2")).toEqual({ script: "tamil", weight: 700 });
    expect(faceOf("noto-sans-devanagari-latin-400-normal.woff2")).toBeNull();
    expect(faceOf("noto-sans-tamil-tamil-400-normal.woff")).toBeNull();
  });
  it("tell text that needs them by the faces' own ranges", () => {
    expect(INDIC_TEXT.test("Invoice for सुनीता शर्मा")).toBe(true);
    expect(INDIC_TEXT.test("முருகன்")).toBe(true);
    expect(INDIC_TEXT.test("\uA8F2")).toBe(true); // a Devanagari extension sign
    expect(INDIC_TEXT.test("Ravi Kulkarni ₹500")).toBe(false);
  });
});
