// A form's input kept on this PC as it is typed (the clinic file, encrypted, per member):
// a patient being registered or edited, a bill being written. A crash, a restart or a
// sign-out loses none of it; opening the same form again brings it back, with when it was
// kept. Saving or throwing the form away forgets it. Notes have their own (`keepNoteDraft`).

import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./ipc";
import { formatDateTime } from "./dates";
import { useDebounced } from "../components/common";

/** Each form's writes, one after the other: a keep still on its way never lands after the
 * drop that followed it (a saved form would come back as "restored"). */
const writes = new Map<string, Promise<unknown>>();
function inOrder(form: string, write: () => Promise<unknown>) {
  const next = (writes.get(form) ?? Promise.resolve()).catch(() => {}).then(write);
  writes.set(form, next);
  next.catch(() => {}); // a full disk only loses the copy
}

/** Keeps `value` under `form` while `dirty`, restores what was kept when the form opens
 * untouched (`restore` gets the kept JSON; `null` from it ignores what it cannot read), and
 * returns when it was restored and `forget` for a save or a discard. */
export function useKeptForm<T>(form: string, value: T, dirty: boolean, restore: (kept: unknown) => boolean) {
  const [restoredAt, setRestoredAt] = useState<string | null>(null);
  const touched = useRef(false);
  if (dirty) touched.current = true;
  useEffect(() => {
    api.formDraft(form).then((k) => {
      if (!k || touched.current) return;
      if (restore(k.data)) setRestoredAt(formatDateTime(k.saved_at));
    }, () => {});
  }, [form]);
  const kept = useDebounced(JSON.stringify(value), 500);
  useEffect(() => {
    if (!touched.current) return;
    inOrder(form, () => api.keepFormDraft(form, JSON.parse(kept)));
  }, [kept]);
  const forget = () => {
    touched.current = false;
    setRestoredAt(null);
    inOrder(form, () => api.dropFormDraft(form));
  };
  return { restoredAt, forget };
}
