import { useEffect, useRef, useState, type ReactNode } from "react";

export interface ConfirmRequest {
  title: string;
  body: ReactNode;
  action: string;
  /** Made when the user confirms; its error is shown in the dialog. */
  run: (reason: string) => Promise<unknown>;
  /** Ask for a reason, recorded with the change. */
  reason?: boolean;
}

/** The confirmation step every change goes through: a modal dialog that names what will be
 * recorded, with an optional reason. */
export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest | null; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (request && !d.open) {
      setReason("");
      setError(null);
      d.showModal();
    }
    if (!request && d.open) d.close();
  }, [request]);
  if (!request) return <dialog ref={dialog} aria-label="Confirm" />;
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await request.run(reason);
      onClose();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" onClose={onClose} className="confirm">
      <h2 id="confirm-title">{request.title}</h2>
      <div>{request.body}</div>
      {request.reason && (
        <label>
          Reason (recorded with the change)
          <input value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} />
        </label>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div className="actions">
        <button type="button" onClick={onClose} disabled={busy}>
          Cancel
        </button>
        <button type="button" className="danger" onClick={() => void confirm()} disabled={busy} data-testid="confirm">
          {request.action}
        </button>
      </div>
    </dialog>
  );
}
