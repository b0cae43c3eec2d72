import { describe, expect, it } from "vitest";
import { forgetUnsaved, markUnsaved, unsavedForms } from "./unsaved";

describe("forms with unsaved input", () => {
  it("names each form once, and forgets the saved ones", () => {
    const a = {}, b = {}, c = {};
    markUnsaved(a, "New patient");
    markUnsaved(b, "New bill");
    markUnsaved(c, "New patient");
    expect(unsavedForms()).toEqual(["New patient", "New bill"]);
    markUnsaved(b, null);
    expect(unsavedForms()).toEqual(["New patient"]);
    forgetUnsaved();
    expect(unsavedForms()).toEqual([]);
  });
});
