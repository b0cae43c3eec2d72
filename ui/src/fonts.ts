// Fonts for the Indian scripts, shipped with the app: Noto Sans for Devanagari, Bengali,
// Gurmukhi, Gujarati, Odia, Tamil, Telugu, Kannada and Malayalam (SIL Open Font License, from
// the @fontsource packages), regular and bold. A front-desk PC often has no font for these
// scripts, and a name would show, and print, as boxes.
//
// They form one family, "Vaidya Indic", one face per script and weight, each limited to its
// script's characters: the font stacks name it after the Latin fonts, so Latin text keeps
// the system font, an Indic character takes the shipped font on every PC (the same on screen
// and on paper), and a face is downloaded from the app bundle only when its script is shown.

export const INDIC_FAMILY = "Vaidya Indic";

/** The characters each script's face covers: its Unicode block, plus the joiners and the
 * dotted circle its shaping uses (Devanagari also its extension blocks). */
export const SCRIPT_RANGES: Record<string, string> = {
  devanagari: "U+0900-097F, U+1CD0-1CF9, U+A8E0-A8FF",
  bengali: "U+0980-09FF",
  gurmukhi: "U+0A00-0A7F",
  gujarati: "U+0A80-0AFF",
  oriya: "U+0B00-0B7F",
  tamil: "U+0B80-0BFF",
  telugu: "U+0C00-0C7F",
  kannada: "U+0C80-0CFF",
  malayalam: "U+0D00-0D7F",
};
const SHAPING = "U+200C-200D, U+25CC";

/** Any character of the scripts above (the faces' own ranges, read once). */
export const INDIC_TEXT = new RegExp(
  `[${Object.values(SCRIPT_RANGES).join(",").split(",").map((range) => {
    const [from, to] = range.trim().replace(/^U\+/, "").split("-");
    return `\\u{${from}}-\\u{${to ?? from}}`;
  }).join("")}]`,
  "u",
);

// Only each package's own script (its Latin subsets would be bundled for nothing: the
// Latin text keeps the system font).
const FILES = import.meta.glob(
  "/node_modules/@fontsource/noto-sans-*/files/noto-sans-*-{devanagari,bengali,gurmukhi,gujarati,oriya,tamil,telugu,kannada,malayalam}-{400,700}-normal.woff2",
  { query: "?url", import: "default", eager: true },
) as Record<string, string>;

/** How many font files the app bundles (each one a face). */
export const BUNDLED_FONT_FILES = Object.keys(FILES).length;

/** The script and weight of a shipped font file, by its name
 * (`noto-sans-tamil-tamil-700-normal.woff2`); `null` for anything else. */
export function faceOf(path: string): { script: string; weight: 400 | 700 } | null {
  const m = /noto-sans-([a-z]+)-\1-(400|700)-normal\.woff2$/.exec(path);
  if (!m || !(m[1] in SCRIPT_RANGES)) return null;
  return { script: m[1], weight: m[2] === "700" ? 700 : 400 };
}

/** The shipped faces: script, weight and the bundled file's address. */
export function indicFaces(): Array<{ script: string; weight: 400 | 700; url: string }> {
  return Object.entries(FILES).flatMap(([path, url]) => {
    const face = faceOf(path);
    return face ? [{ ...face, url }] : [];
  });
}

/** Adds the faces to the document (each loads when its script is first laid out). */
export function registerIndicFonts() {
  if (typeof FontFace === "undefined" || !document.fonts) return;
  for (const { script, weight, url } of indicFaces()) {
    const face = new FontFace(INDIC_FAMILY, `url("${url}") format("woff2")`, {
      weight: String(weight), unicodeRange: `${SCRIPT_RANGES[script]}, ${SHAPING}`, display: "swap",
    });
    document.fonts.add(face);
  }
}

/** Loads the faces `text` needs, regular and bold, before it is printed: a print lays out a
 * part of the page the screen never showed, and must not fall back to boxes meanwhile. */
export async function loadFontsFor(text: string) {
  if (!document.fonts || !INDIC_TEXT.test(text)) return;
  await Promise.all([400, 700].map((w) => document.fonts.load(`${w} 12px "${INDIC_FAMILY}"`, text))).catch(() => {});
}
