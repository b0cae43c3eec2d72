// The UI checks with the shared rules, proven on the files Rust checks too:
// - shared/fixtures/validation.json (hand-written valid and invalid inputs per entity, also
//   run by `cargo test -p vaidya-shared --test validation_fixtures`);
// - shared/fixtures/validation_generated.json (seeded random inputs with the verdict the Rust
//   rules gave, written by `--test validation_generated`): the cross-tier property test.
// And the permissions the screens use come from the generated table.

import { describe, expect, it } from "vitest";
import fixtureText from "../../../shared/fixtures/validation.json?raw";
import generatedText from "../../../shared/fixtures/validation_generated.json?raw";
import { ENTITIES, validateFixture, type Entity } from "./validate";
import { GRANTS, LIMITS, may, rolesFor, STAFF_ROLES, VITAL_RANGES } from "./rules";
import { canAdmin, canBill, canPrescribe, canReadClinical, canSignNotes, canWriteNotes, screensFor } from "./roles";
import type { Role } from "./types";

interface Case { entity: Entity; input: unknown; field?: string; expect?: Record<string, unknown> }
interface GeneratedCase { entity: Entity; input: unknown; valid?: unknown; field?: string; message?: string }

const fixture = JSON.parse(fixtureText) as { today: string; cases: Case[] };
const generated = JSON.parse(generatedText) as { today: string; cases: GeneratedCase[] };

/** `"LONG_n"` stands for a text of n characters (as in shared/tests/validation_fixtures.rs). */
function expand(v: unknown): unknown {
  if (typeof v === "string") {
    const m = /^LONG_(\d+)$/.exec(v);
    return m ? "x".repeat(Number(m[1])) : v;
  }
  if (Array.isArray(v)) return v.map(expand);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expand(x)]));
  return v;
}

/** A path such as `items[0].strength` or `items.length` into a value (as `lookup` in Rust). */
function lookup(v: unknown, path: string): unknown {
  let cur: unknown = v;
  for (const part of path.split(".")) {
    if (part === "length") return Array.isArray(cur) ? cur.length : 0;
    const m = /^([^[]*)(?:\[(\d+)\])?$/.exec(part);
    const key = m ? m[1] : part;
    cur = cur && typeof cur === "object" ? ((cur as Record<string, unknown>)[key] ?? null) : null;
    if (m?.[2] !== undefined) cur = Array.isArray(cur) ? (cur[Number(m[2])] ?? null) : null;
  }
  return cur;
}

describe("shared/fixtures/validation.json: the same verdict as cargo test", () => {
  it("has cases for every entity", () => {
    expect(fixture.cases.length).toBeGreaterThanOrEqual(40);
    const seen = new Set(fixture.cases.map((c) => c.entity));
    for (const e of ["patient", "patient_patch", "appointment", "vitals", "encounter", "encounter_patch", "addendum", "prescription", "invoice", "payment"]) {
      expect(seen.has(e as Entity), e).toBe(true);
    }
    for (const e of seen) expect(ENTITIES).toContain(e);
  });

  fixture.cases.forEach((c, i) => {
    const label = `case ${i} (${c.entity}) ${c.field ? `refuses ${c.field}` : "passes"}`;
    it(label, () => {
      const v = validateFixture(c.entity, expand(c.input), fixture.today);
      if (c.field) {
        expect(v.ok, `${label}: passed`).toBe(false);
        if (!v.ok) expect(v.field, `${label}: ${v.message}`).toBe(c.field);
      } else {
        expect(v.ok ? null : v, label).toBeNull();
        if (v.ok) for (const [path, want] of Object.entries(c.expect ?? {})) expect(lookup(v.value, path), `${label}: ${path}`).toEqual(want);
      }
    });
  });
});

describe("shared/fixtures/validation_generated.json: the Rust verdict on random inputs", () => {
  it("is a real property test", () => {
    expect(generated.cases.length).toBeGreaterThanOrEqual(200);
    expect(generated.cases.filter((c) => c.field).length).toBeGreaterThanOrEqual(60);
    expect(generated.cases.filter((c) => !c.field).length).toBeGreaterThanOrEqual(60);
  });

  generated.cases.forEach((c, i) => {
    const label = `generated ${i} (${c.entity}) ${c.field ? `refuses ${c.field}` : "passes"}`;
    it(label, () => {
      const v = validateFixture(c.entity, c.input, generated.today);
      // The whole verdict: the normalised value as Rust serialises it, or field and sentence.
      expect(v).toEqual(c.field ? { ok: false, field: c.field, message: c.message } : { ok: true, value: c.valid });
    });
  });
});

describe("rule numbers come from the generated rule set", () => {
  it("limits and ranges", () => {
    expect(LIMITS.patient_name).toBe(200);
    expect(VITAL_RANGES[0]).toEqual(["pulse_bpm", 20, 300, "Pulse (beats/min)"]);
  });
});

describe("permissions from the generated table", () => {
  const roles: Role[] = ["admin", "doctor", "nurse", "front_desk"];

  it("may() answers from the table, and nobody for unlisted pairs", () => {
    expect(GRANTS.length).toBeGreaterThan(20);
    for (const g of GRANTS) for (const r of roles) expect(may(r, g.resource, g.action)).toBe(g.roles.includes(r));
    expect(rolesFor("prescription", "update")).toEqual([]);
    expect(may("admin", "prescription", "update")).toBe(false);
  });

  it("the clinic's rules, as the screens see them", () => {
    expect(roles.filter(canBill)).toEqual(["admin", "doctor", "front_desk"]);
    expect(canBill("nurse")).toBe(false);
    expect(roles.filter(canReadClinical)).toEqual(["doctor", "nurse"]);
    expect(roles.filter(canWriteNotes)).toEqual(["doctor", "nurse"]);
    expect(roles.filter(canSignNotes)).toEqual(["doctor"]);
    expect(roles.filter(canPrescribe)).toEqual(["doctor"]);
    expect(roles.filter(canAdmin)).toEqual(["admin"]);
    expect(screensFor("front_desk")).not.toContain("doctor");
    expect(screensFor("nurse")).toContain("doctor");
    expect(screensFor("nurse")).not.toContain("admin");
  });
});

describe("STAFF_ROLES", () => {
  it("offers a person every role but the clinic hub's", () => {
    expect([...STAFF_ROLES]).toEqual(["admin", "doctor", "nurse", "front_desk"]);
    expect(STAFF_ROLES).not.toContain("hub");
  });
});
