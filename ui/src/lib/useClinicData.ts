// The one way screens load clinic data: `useClinicData(loader, deps)` runs the loader when
// the deps change and again whenever the clinic's data changes — a pull or push of the
// background sync (`sync://changed`, and `sync://conflicts` when the inbox count moves) or a
// local write announced with `clinicDataChanged()`. The Tauri events are subscribed ONCE for
// the whole app; every hook registers a listener with that one subscription, so no screen
// misses an update or leaks a Tauri listener.

import { useEffect, useRef, useState } from "preact/hooks";
import { EVENTS, onEvent } from "./ipc";

type Listener = () => void;

const listeners = new Set<Listener>();
let subscribed: Promise<unknown> | null = null;

/** Calls every registered loader again (exported for local writes and for tests). */
export function clinicDataChanged(): void {
  for (const l of [...listeners]) l();
}

/** Registers a listener; the first one subscribes to the Tauri event, for good. */
export function subscribeClinicChanges(listener: Listener): () => void {
  listeners.add(listener);
  if (!subscribed) {
    subscribed = Promise.all([onEvent(EVENTS.changed, clinicDataChanged), onEvent(EVENTS.conflicts, clinicDataChanged)]);
  }
  return () => { listeners.delete(listener); };
}

export interface ClinicData<T> {
  data: T;
  error: unknown;
  loading: boolean;
  /** Loads again now (after a save on this screen). */
  reload: () => void;
}

/**
 * Loads clinic data and keeps it fresh. Only the answer to the latest load is kept, so a
 * slow answer to an older load never overwrites a newer one.
 */
export function useClinicData<T>(loader: () => Promise<T>, deps: unknown[], initial: T): ClinicData<T> {
  const [data, setData] = useState<T>(initial);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const latest = useRef(0);
  // The newest loader (it closes over the current props and state).
  const loaderRef = useRef(loader);
  loaderRef.current = loader;

  const reload = () => {
    const ticket = ++latest.current;
    setLoading(true);
    loaderRef.current().then(
      (d) => { if (ticket === latest.current) { setData(d); setError(null); setLoading(false); } },
      (e) => { if (ticket === latest.current) { setError(e); setLoading(false); } },
    );
  };
  useEffect(reload, deps);
  useEffect(() => subscribeClinicChanges(reload), []);
  return { data, error, loading, reload };
}
