import { describe, expect, it } from "vitest";
import { favourites, formDefaults, newLine, rememberUsual, removeFavourite, saveFavourite, type Store } from "./rxDefaults";

const memory = (): Store & { map: Map<string, string> } => {
  const map = new Map<string, string>();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => { map.set(k, v); } };
};
const pcm = "Paracetamol (tablet)";

describe("the pad's defaults", () => {
  it("start a drug with its form's usual dosing", () => {
    expect(newLine(memory(), "dr1", pcm, "500 mg", "tablet")).toEqual({ drug: pcm, strength: "500 mg", dose: "1", frequency: "1-0-1", duration: "5 days", instructions: "after food" });
    expect(formDefaults("syrup").dose).toBe("5 ml");
    expect(formDefaults("eye drops").dose).toBe("2 drops");
    expect(formDefaults("cream").dose).toBe("apply");
    expect(formDefaults("inhaler").dose).toBe("2 puffs");
  });
  it("learn each doctor's own usual from what they issue", () => {
    const s = memory();
    rememberUsual(s, "dr1", [{ drug: pcm, strength: "650 mg", dose: "1", frequency: "SOS", duration: "3 days", instructions: "for fever above 100 F" }]);
    expect(newLine(s, "dr1", pcm, "500 mg", "tablet")).toEqual({ drug: pcm, strength: "650 mg", dose: "1", frequency: "SOS", duration: "3 days", instructions: "for fever above 100 F" });
    // Another doctor on the same PC keeps the form's usual.
    expect(newLine(s, "dr2", pcm, "500 mg", "tablet").frequency).toBe("1-0-1");
  });
  it("survive a damaged store", () => {
    const s = memory();
    s.setItem("vaidya.rx.usual.dr1", "{not json");
    expect(newLine(s, "dr1", pcm, "500 mg", "tablet").frequency).toBe("1-0-1");
    s.setItem("vaidya.rx.favourites.dr1", "[");
    expect(favourites(s, "dr1")).toEqual([]);
  });
});

describe("favourites", () => {
  const fever = { name: "Viral fever", items: [{ drug: pcm, strength: "650 mg", dose: "1", frequency: "1-1-1", duration: "3 days", instructions: "" }], advice: "Fluids, rest" };
  it("are saved per doctor, replaced by name, sorted, and removed", () => {
    const s = memory();
    saveFavourite(s, "dr1", fever);
    saveFavourite(s, "dr1", { ...fever, name: "Acidity" });
    expect(favourites(s, "dr1").map((f) => f.name)).toEqual(["Acidity", "Viral fever"]);
    saveFavourite(s, "dr1", { ...fever, advice: "Plenty of fluids" });
    expect(favourites(s, "dr1").find((f) => f.name === "Viral fever")?.advice).toBe("Plenty of fluids");
    expect(favourites(s, "dr2")).toEqual([]);
    expect(removeFavourite(s, "dr1", "Acidity").map((f) => f.name)).toEqual(["Viral fever"]);
  });
  it("need a name and a line", () => {
    const s = memory();
    expect(saveFavourite(s, "dr1", { ...fever, name: "  " })).toEqual([]);
    expect(saveFavourite(s, "dr1", { ...fever, items: [] })).toEqual([]);
  });
});
