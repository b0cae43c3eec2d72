// The drug list shipped with the app (`data/drugs.json`: common Indian generics with their
// usual strengths), searched offline as the doctor types.

import drugs from "../data/drugs.json";

export interface Drug { name: string; form: string; strengths: string[]; category: string }

export const DRUGS: Drug[] = drugs as Drug[];

/** Every word of the query must start a word of the name (or the form); best first. */
export function searchDrugs(query: string, limit = 12, list: Drug[] = DRUGS): Drug[] {
  const words = query.toLowerCase().split(/[\s+,]+/).filter(Boolean);
  if (words.length === 0) return [];
  const scored: Array<[number, Drug]> = [];
  for (const d of list) {
    const hay = `${d.name} ${d.form}`.toLowerCase().split(/[\s+(),/-]+/).filter(Boolean);
    let score = 0;
    let all = true;
    for (const w of words) {
      const idx = hay.findIndex((h) => h.startsWith(w));
      if (idx < 0) { all = false; break; }
      score += idx === 0 ? 0 : 1;
    }
    if (all) scored.push([score + (d.name.includes("+") ? 0.5 : 0), d]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].name.localeCompare(b[1].name));
  return scored.slice(0, limit).map(([, d]) => d);
}

/** The strengths a pad line offers for a drug as the pad names it ("Paracetamol (Tablet)"):
 * the list's, or only the one on the line when the drug is not on the list. */
export function strengthsOf(drug: string, strength: string, list: Drug[] = DRUGS): string[] {
  const found = list.find((d) => `${d.name} (${d.form})` === drug);
  const strengths = found ? [...found.strengths] : [];
  if (strength && !strengths.includes(strength)) strengths.unshift(strength);
  return strengths.length > 0 ? strengths : [strength];
}
