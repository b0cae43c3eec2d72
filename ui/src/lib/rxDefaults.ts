// What a new line on the prescription pad starts with, and a doctor's favourites.
//
// A drug added to the pad takes the dose this doctor gave it last time (their own usual,
// learned from each prescription they issue), else the usual for its form (a tablet twice a
// day for five days, a syrup 5 ml three times a day, a cream applied twice a day for a week).
// Favourites are named sets of lines (and advice) a doctor saves from the pad and adds back
// in one step. Both are kept on this PC, per doctor: they are the doctor's habits, not the
// patient's record, so they need no sync and no audit (ARCHITECTURE, "Decisions").

import type { NewPrescriptionItem } from "./types";

export type Dosing = Pick<NewPrescriptionItem, "dose" | "frequency" | "duration" | "instructions">;

/** The usual dosing of a drug form, as an Indian OPD writes it. */
export function formDefaults(form: string): Dosing {
  const f = form.toLowerCase();
  if (/syrup|suspension/.test(f)) return { dose: "5 ml", frequency: "1-1-1", duration: "5 days", instructions: "after food" };
  if (/eye drops|ear drops|nasal drops|^drops/.test(f)) return { dose: "2 drops", frequency: "1-1-1", duration: "5 days", instructions: "" };
  if (/cream|gel|ointment|lotion|mouth paint/.test(f)) return { dose: "apply", frequency: "1-0-1", duration: "7 days", instructions: "thin layer on the affected area" };
  if (/inhaler|rotacap|respules|nasal spray/.test(f)) return { dose: "2 puffs", frequency: "1-0-1", duration: "30 days", instructions: "" };
  if (/sachet|powder/.test(f)) return { dose: "1 sachet", frequency: "1-0-1", duration: "3 days", instructions: "dissolved in water" };
  if (/gargle|mouthwash/.test(f)) return { dose: "10 ml", frequency: "1-1-1", duration: "5 days", instructions: "gargle, do not swallow" };
  if (/shampoo/.test(f)) return { dose: "apply", frequency: "Once a week", duration: "4 weeks", instructions: "leave 5 minutes, rinse" };
  if (/injection/.test(f)) return { dose: "1", frequency: "1-0-0", duration: "1 day", instructions: "" };
  return { dose: "1", frequency: "1-0-1", duration: "5 days", instructions: "after food" };
}

/** A named set of pad lines a doctor adds back in one step. */
export interface RxFavourite { name: string; items: NewPrescriptionItem[]; advice: string }

/** Where the habits are kept: `localStorage` in the app, a map in tests. */
export interface Store { getItem(key: string): string | null; setItem(key: string, value: string): void }

const usualKey = (doctor: string) => `vaidya.rx.usual.${doctor}`;
const favouritesKey = (doctor: string) => `vaidya.rx.favourites.${doctor}`;
/** Drugs remembered per doctor (the oldest forgotten first). */
export const MAX_USUAL = 300;
export const MAX_FAVOURITES = 50;

function read<T>(store: Store, key: string, fallback: T): T {
  try {
    const raw = store.getItem(key);
    return raw ? (JSON.parse(raw) as T) : fallback;
  } catch {
    return fallback; // a damaged entry only loses the habit
  }
}

function write(store: Store, key: string, value: unknown) {
  try { store.setItem(key, JSON.stringify(value)); } catch { /* a full store only loses the habit */ }
}

/** The line a drug starts with on this doctor's pad. */
export function newLine(store: Store, doctor: string, drug: string, strength: string, form: string): NewPrescriptionItem {
  const usual = read<Record<string, Dosing & { strength?: string }>>(store, usualKey(doctor), {})[drug];
  const dosing = usual ? { dose: usual.dose, frequency: usual.frequency, duration: usual.duration, instructions: usual.instructions } : formDefaults(form);
  return { drug, strength: usual?.strength ?? strength, ...dosing };
}

/** Learns the doctor's usual dosing from a prescription they issued. */
export function rememberUsual(store: Store, doctor: string, items: NewPrescriptionItem[]) {
  const usual = read<Record<string, Dosing & { strength: string }>>(store, usualKey(doctor), {});
  for (const it of items) {
    delete usual[it.drug]; // re-inserted last: the most recent at the end
    usual[it.drug] = { strength: it.strength, dose: it.dose, frequency: it.frequency, duration: it.duration, instructions: it.instructions };
  }
  const kept = Object.entries(usual).slice(-MAX_USUAL);
  write(store, usualKey(doctor), Object.fromEntries(kept));
}

export function favourites(store: Store, doctor: string): RxFavourite[] {
  return read<RxFavourite[]>(store, favouritesKey(doctor), []);
}

/** Saves (or replaces, by name) a favourite; returns the list. */
export function saveFavourite(store: Store, doctor: string, fav: RxFavourite): RxFavourite[] {
  const name = fav.name.trim();
  if (!name || fav.items.length === 0) return favourites(store, doctor);
  const list = [...favourites(store, doctor).filter((f) => f.name !== name), { ...fav, name }]
    .sort((a, b) => a.name.localeCompare(b.name))
    .slice(0, MAX_FAVOURITES);
  write(store, favouritesKey(doctor), list);
  return list;
}

export function removeFavourite(store: Store, doctor: string, name: string): RxFavourite[] {
  const list = favourites(store, doctor).filter((f) => f.name !== name);
  write(store, favouritesKey(doctor), list);
  return list;
}
