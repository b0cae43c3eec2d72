// An in-app confirmation dialog (never the browser's `confirm()`, which a webview may block
// and which cannot say the consequence in our words). Modal: focus starts on the safe
// choice, Escape cancels, and the page behind is inert while it is open.

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

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
