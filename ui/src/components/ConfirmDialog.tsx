// An in-app confirmation dialog (never the browser's `confirm()`, which a webview may block
// and which cannot say the consequence in our words). Modal: focus starts on the safe
// choice, Escape cancels, and the page behind is inert while it is open.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { forgetUnsaved, unsavedForms } from "../lib/unsaved";
import { en } from "../strings/en";

export function ConfirmDialog(props: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  cancelLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
  danger?: boolean;
}) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    cancelRef.current?.focus();
    const onKey = (e: KeyboardEvent) => { if (e.key === "Escape") props.onCancel(); };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <div class="modal-backdrop">
      <div class="modal card" role="alertdialog" aria-modal="true" aria-labelledby="confirm-title" data-testid="confirm-dialog">
        <h3 id="confirm-title">{props.title}</h3>
        <div class="modal-body">{props.children}</div>
        <div class="actions">
          <button ref={cancelRef} onClick={props.onCancel} data-testid="confirm-cancel">{props.cancelLabel}</button>
          <button class={props.danger ? "danger" : "primary"} disabled={props.busy} onClick={props.onConfirm} data-testid="confirm-ok">
            {props.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

/** What to ask before an irreversible or destructive action, and the action. */
export type Confirmation = { title: string; body: string; confirmLabel: string; danger?: boolean; action: () => void };

/** Asks before acting: `ask(...)` opens the dialog; render `dialog` once in the screen. The
 * action runs only on the dialog's confirm button. */
export function useConfirm(cancelLabel: string) {
  const [pending, setPending] = useState<Confirmation | null>(null);
  const dialog = pending && (
    <ConfirmDialog title={pending.title} confirmLabel={pending.confirmLabel} cancelLabel={cancelLabel} danger={pending.danger}
      onConfirm={() => { setPending(null); pending.action(); }} onCancel={() => setPending(null)}>
      <p>{pending.body}</p>
    </ConfirmDialog>
  );
  return { ask: setPending, dialog, open: pending !== null };
}

/** Leaving a screen, a tab, the clinic or the session: at once, or after asking when a form
 * holds unsaved input (`lib/unsaved`), naming what would be lost. */
export function useLeaveGuard() {
  const confirm = useConfirm(en.unsaved.stay);
  const leave = (action: () => void) => {
    const forms = unsavedForms();
    if (forms.length === 0) return action();
    confirm.ask({
      title: en.unsaved.title, body: en.unsaved.body(forms), confirmLabel: en.unsaved.leave, danger: true,
      action: () => { forgetUnsaved(); action(); },
    });
  };
  return { leave, dialog: confirm.dialog };
}
