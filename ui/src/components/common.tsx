// Small building blocks shared by the screens: labelled fields, the error banner, buttons.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { readableError } from "../lib/ipc";
import { en } from "../strings/en";
import { SHORTCUTS, shortcutOf, type ShortcutId } from "../lib/shortcuts";

/**
 * Focuses the element once, when it mounts. Not the `autofocus` attribute: WebKit applies
 * that at a later rendering update, and on a busy PC it landed mid-typing in another field
 * (keys typed into the date of birth went on into the patient search).
 */
export function useFocusOnMount<T extends HTMLElement>(enabled: boolean | undefined) {
  const ref = useRef<T>(null);
  useEffect(() => {
    if (enabled) ref.current?.focus();
  }, []);
  return ref;
}

export function Field(props: {
  label: string; value: string; onInput: (v: string) => void; error?: string; type?: string;
  placeholder?: string; name?: string; autoFocus?: boolean; multiline?: boolean; hint?: string; required?: boolean;
}) {
  const id = `f-${props.name ?? props.label.replace(/\W+/g, "-").toLowerCase()}`;
  const focusRef = useFocusOnMount<HTMLInputElement & HTMLTextAreaElement>(props.autoFocus);
  const common = {
    id, name: props.name, value: props.value, placeholder: props.placeholder, ref: focusRef,
    "aria-invalid": props.error ? true : undefined, required: props.required,
    onInput: (e: Event) => props.onInput((e.currentTarget as HTMLInputElement).value),
  };
  return (
    <div class={`field${props.error ? " has-error" : ""}`}>
      <label for={id}>{props.label}</label>
      {props.multiline ? <textarea rows={4} {...common} /> : <input type={props.type ?? "text"} {...common} />}
      {props.hint && !props.error && <small class="hint">{props.hint}</small>}
      {props.error && <small class="error-text" role="alert">{props.error}</small>}
    </div>
  );
}

export function Select<T extends string>(props: {
  label: string; value: T; options: Array<[T, string]>; onChange: (v: T) => void; name?: string;
}) {
  const id = `s-${props.name ?? props.label.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} name={props.name} value={props.value} onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value as T)}>
        {props.options.map(([v, label]) => <option value={v} key={v}>{label}</option>)}
      </select>
    </div>
  );
}

export function ErrorBanner(props: { error: unknown; onDismiss?: () => void }) {
  if (!props.error) return null;
  return (
    <div class="banner error" role="alert">
      <strong>{en.errors.title}: </strong>
      {readableError(props.error)}
      {props.onDismiss && <button class="link" onClick={props.onDismiss}>{en.common.dismiss}</button>}
    </div>
  );
}

export function Notice(props: { children: ComponentChildren }) {
  return <div class="banner ok" role="status">{props.children}</div>;
}

/** Runs an async action, tracking busy state and the last error. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // One action at a time, decided synchronously: a second Enter or click that lands before
  // the re-render that disables the button must not book, issue or advance twice.
  const inFlight = useRef(false);
  const run = async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    if (inFlight.current) return undefined;
    inFlight.current = true;
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** Debounces a changing value (search as you type). */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** Focus an input when `/` is pressed anywhere outside a text field. */
export function useSlashFocus() {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName)) {
        e.preventDefault();
        ref.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return ref;
}

/** Runs `handler` on the shortcut's keys (`lib/shortcuts.ts`), wherever the focus is. */
export function useShortcut(id: ShortcutId, handler: () => void, enabled = true) {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    if (!enabled) return;
    const onKey = (e: KeyboardEvent) => {
      // A question on screen is answered first: the page behind it takes no shortcuts.
      if (shortcutOf(e) !== id || document.querySelector("[data-testid=confirm-dialog]")) return;
      e.preventDefault();
      latest.current();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [id, enabled]);
}

/** A button's or tab's shortcut: announced to assistive technology (`aria-keyshortcuts`)
 * and shown after its label by the style sheet (`[data-kbd]::after`), outside its text. */
export function kbd(id: ShortcutId) {
  return { "aria-keyshortcuts": SHORTCUTS[id].label, "data-kbd": SHORTCUTS[id].label };
}
