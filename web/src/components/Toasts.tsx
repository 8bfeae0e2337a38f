import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from "react";

export interface Toast {
  id: number;
  title: string;
  body: string;
  severity: "info" | "warning" | "critical";
}

type Notify = (toast: Omit<Toast, "id">) => void;

const ToastContext = createContext<Notify>(() => undefined);
const SHOWN_MS = 10_000;

/** Toasts in a live region: critical ones are announced at once (role="alert"). */
export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setToasts((all) => all.filter((t) => t.id !== id)), []);
  const notify = useCallback<Notify>(
    (toast) => {
      const id = next.current++;
      setToasts((all) => [...all.slice(-4), { ...toast, id }]);
      window.setTimeout(() => dismiss(id), SHOWN_MS);
    },
    [dismiss],
  );
  return (
    <ToastContext.Provider value={notify}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.severity}`} role={t.severity === "critical" ? "alert" : "status"} data-testid="toast">
            <strong>{t.title}</strong>
            <span>{t.body}</span>
            <button type="button" className="ghost" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

export function useToast(): Notify {
  return useContext(ToastContext);
}

/** Browser notifications, once the user allowed them (a click, as browsers require). */
export function useBrowserNotifications(): [NotificationPermission | "unsupported", () => void] {
  const supported = typeof window !== "undefined" && "Notification" in window;
  const [permission, setPermission] = useState<NotificationPermission | "unsupported">(
    supported ? Notification.permission : "unsupported",
  );
  useEffect(() => {
    if (supported) setPermission(Notification.permission);
  }, [supported]);
  const ask = useCallback(() => {
    if (!supported) return;
    void Notification.requestPermission().then(setPermission);
  }, [supported]);
  return [permission, ask];
}
