// Forms holding input nobody saved yet (a patient being registered, a bill being written):
// leaving them (another screen, another tab, another clinic, signing out) asks first, naming
// them. Their input is kept on the PC meanwhile (`keptForm.ts`), so leaving loses nothing;
// the question keeps a half-done registration or bill from being forgotten. Notes are not
// here: they are kept as typed and come back without asking (see `keepNoteDraft`).

import { useEffect, useRef } from "preact/hooks";

const open = new Map<object, string>();

/** While `dirty`, the form named `name` holds unsaved input. */
export function useUnsaved(name: string, dirty: boolean) {
  const token = useRef({});
  useEffect(() => markUnsaved(token.current, dirty ? name : null), [name, dirty]);
  useEffect(() => () => markUnsaved(token.current, null), []);
}

/** The names of the forms with unsaved input, each once. */
export function unsavedForms(): string[] {
  return [...new Set(open.values())];
}

/** Marks a form clean again (it was saved or deliberately left). */
export function forgetUnsaved() {
  open.clear();
}

/** Marks `token`'s form as holding unsaved input named `name`, or (null) as clean. */
export function markUnsaved(token: object, name: string | null) {
  if (name === null) open.delete(token);
  else open.set(token, name);
}
