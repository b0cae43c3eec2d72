// A newer Vaidya, announced by the clinic's server: offered (may wait until later) or
// required (this version can no longer sync; the PC's unsent work is kept either way).
// Installing sends waiting changes first, then downloads, checks the signature and restarts.

import { useEffect, useState } from "preact/hooks";
import { api, EVENTS, onEvent, readableError } from "../lib/ipc";
import { canPostpone, CHECK_EVERY_MS, downloadText, recheckAfterStatus, updateText } from "../lib/updates";
import type { SyncStatus, UpdateProgress, UpdateView } from "../lib/types";
import { en } from "../strings/en";

export function UpdateBanner(props: { signedIn: boolean }) {
  const [update, setUpdate] = useState<UpdateView | null>(null);
  const [postponed, setPostponed] = useState<string | null>(null);
  const [installing, setInstalling] = useState(false);
  const [progress, setProgress] = useState<UpdateProgress | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!props.signedIn) return;
    let lastChecked = Date.now();
    const check = () => {
      lastChecked = Date.now();
      api.checkUpdate().then(setUpdate, () => {}); // no server, no news: the banner stays as it was
    };
    check();
    const every = window.setInterval(check, CHECK_EVERY_MS);
    const unlisten = [
      onEvent<SyncStatus>(EVENTS.status, (s) => { if (recheckAfterStatus(s, lastChecked, Date.now())) check(); }),
      onEvent<UpdateProgress>(EVENTS.updateProgress, setProgress),
    ];
    return () => {
      window.clearInterval(every);
      unlisten.forEach((u) => u.then((f) => f()));
    };
  }, [props.signedIn]);

  if (!update || (postponed === update.version && canPostpone(update))) return null;
  const install = () => {
    setInstalling(true);
    setError(null);
    setProgress(null);
    // On success the app restarts; coming back here means it did not.
    api.installUpdate().catch((e) => { setError(e); setInstalling(false); });
  };
  return (
    <div class={update.required ? "banner error" : "banner ok"} role="alert" data-testid="update-banner">
      <span>{updateText(update)} </span>
      {update.notes && <span class="muted">{update.notes} </span>}
      {installing ? (
        <span data-testid="update-progress">{downloadText(progress)}</span>
      ) : update.can_install ? (
        <button onClick={install} data-testid="update-install">{en.update.install}</button>
      ) : (
        <span>{en.update.askIt(update.version)} </span>
      )}
      {!installing && canPostpone(update) && (
        <button class="link" onClick={() => setPostponed(update.version)} data-testid="update-later">{en.update.later}</button>
      )}
      {!!error && <span class="error-text"> {readableError(error)}</span>}
    </div>
  );
}
