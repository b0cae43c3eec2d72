// The @page rules are valid CSS: WebKit drops an invalid `size` without a word and prints
// on the printer's default paper (a receipt on A4).
import { describe, expect, it } from "vitest";
import * as csstree from "css-tree";
import { PAGE_RULES, receiptPageRule } from "./page";

/** Every declaration of the rule's @page block that the CSS grammar rejects. */
function invalidDeclarations(rule: string): string[] {
  const ast = csstree.parse(rule);
  const errors: string[] = [];
  let declarations = 0;
  csstree.walk(ast, {
    visit: "Declaration",
    enter(decl) {
      declarations++;
      // `size` is a descriptor of @page; margins are properties that apply in its context.
      const match = decl.property === "size"
        ? csstree.lexer.matchAtruleDescriptor("page", "size", decl.value)
        : csstree.lexer.matchProperty(decl.property, decl.value);
      if (match.error) errors.push(`${decl.property}: ${csstree.generate(decl.value)}`);
    },
  });
  if (declarations === 0) errors.push("no declarations");
  return errors;
}

describe("page rules", () => {
  it("are valid for every A4 document", () => {
    for (const [kind, rule] of Object.entries(PAGE_RULES)) {
      expect(invalidDeclarations(rule), kind).toEqual([]);
    }
  });

  it("give the 80 mm roll a valid page as long as the receipt", () => {
    expect(invalidDeclarations(receiptPageRule(1200))).toEqual([]);
    // 1200 CSS px = 318 mm of receipt, plus the margins and a little slack.
    expect(receiptPageRule(1200)).toContain("size: 80mm 326mm");
    // A short receipt (or one not laid out yet) still gets a sensible page.
    expect(receiptPageRule(0)).toContain("size: 80mm 80mm");
    expect(invalidDeclarations(receiptPageRule(0))).toEqual([]);
  });

  it("would catch the old receipt rule", () => {
    expect(invalidDeclarations("@page { size: 80mm auto; margin: 3mm; }")).toEqual(["size: 80mm auto"]);
  });
});
