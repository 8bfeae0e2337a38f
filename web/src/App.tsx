import { useCallback, useEffect, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { get, Unauthorized, type Filters, type Group, type Page } from "./api";
import { follow } from "./live";
import { ConfirmDialog, type ConfirmRequest } from "./components/Confirm";
import { useBrowserNotifications, useToast } from "./components/Toasts";
import { TradeAnalyticsPanel } from "./panels/TradeAnalyticsPanel";
import { PerformanceInsightsPanel } from "./panels/PerformanceInsightsPanel";
import { AIPerformanceMonitor } from "./panels/AIPerformanceMonitor";
import { ReportsPanel } from "./panels/ReportsPanel";

type Panel = "trades" | "performance" | "monitor" | "reports";
const PANELS: { id: Panel; label: string; name: string }[] = [
  { id: "trades", label: "Trades", name: "TradeAnalyticsPanel" },
  { id: "performance", label: "Performance", name: "PerformanceInsightsPanel" },
  { id: "monitor", label: "Monitor", name: "AIPerformanceMonitor" },
  { id: "reports", label: "Reports", name: "ReportsPanel" },
];

function panelFromPath(): Panel {
  const path = window.location.pathname.replace(/^\//, "");
  return (PANELS.find((p) => p.id === path)?.id ?? "trades") as Panel;
}

export function initialTheme(): "dark" | "light" {
  const stored = localStorage.getItem("fillstream.theme");
  if (stored === "dark" || stored === "light") return stored;
  return window.matchMedia?.("(prefers-color-scheme: light)").matches ? "light" : "dark";
}

function Choice({ label, value, options, onChange }: { label: string; value: string | undefined; options: string[]; onChange: (v: string | undefined) => void }) {
  return (
    <label>
      {label}
      <select value={value ?? ""} onChange={(e) => onChange(e.target.value || undefined)}>
        <option value="">all</option>
        {options.map((o) => (
          <option key={o} value={o}>{o || "(none)"}</option>
        ))}
      </select>
    </label>
  );
}

function FilterBar({ filters, setFilters }: { filters: Filters; setFilters: (f: Filters) => void }) {
  const keys = (by: string) => ({ queryKey: ["breakdown", {}, by], queryFn: () => get<Page<Group>>("/api/breakdown", { by }), staleTime: 60_000 });
  const accounts = useQuery(keys("account"));
  const instruments = useQuery(keys("instrument"));
  const strategies = useQuery(keys("strategy"));
  const sources = useQuery(keys("source"));
  const set = (name: keyof Filters) => (value: string | undefined) => setFilters({ ...filters, [name]: value });
  const day = (iso?: string) => (iso ? iso.slice(0, 10) : "");
  return (
    <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
      <Choice label="Account" value={filters.account} options={(accounts.data?.items ?? []).map((g) => g.key)} onChange={set("account")} />
      <Choice label="Instrument" value={filters.instrument} options={(instruments.data?.items ?? []).map((g) => g.key)} onChange={set("instrument")} />
      <Choice label="Strategy" value={filters.strategy} options={(strategies.data?.items ?? []).map((g) => g.key).filter(Boolean)} onChange={set("strategy")} />
      <Choice label="Source" value={filters.source} options={(sources.data?.items ?? []).map((g) => g.key)} onChange={set("source")} />
      <label>
        From
        <input type="date" value={day(filters.from)} onChange={(e) => set("from")(e.target.value ? `${e.target.value}T00:00:00Z` : undefined)} />
      </label>
      <label>
        To
        <input type="date" value={day(filters.to)} onChange={(e) => set("to")(e.target.value ? `${e.target.value}T00:00:00Z` : undefined)} />
      </label>
      {Object.values(filters).some(Boolean) && (
        <button type="button" onClick={() => setFilters({})}>
          Clear
        </button>
      )}
    </form>
  );
}

export function App() {
  const client = useQueryClient();
  const notify = useToast();
  const [panel, setPanel] = useState<Panel>(panelFromPath);
  const [theme, setTheme] = useState<"dark" | "light">(initialTheme);
  const [filters, setFilters] = useState<Filters>({});
  const [live, setLive] = useState<"connecting" | "live" | "reconnecting">("connecting");
  const [confirming, setConfirming] = useState<ConfirmRequest | null>(null);
  const [permission, askPermission] = useBrowserNotifications();
  const [signedOut, setSignedOut] = useState(false);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("fillstream.theme", theme);
  }, [theme]);
  useEffect(() => {
    const back = () => setPanel(panelFromPath());
    window.addEventListener("popstate", back);
    return () => window.removeEventListener("popstate", back);
  }, []);
  useEffect(
    () =>
      client.getQueryCache().subscribe((event) => {
        if (event.query.state.error instanceof Unauthorized) setSignedOut(true);
      }),
    [client],
  );
  const onAlert = useCallback(
    (alert: { rule: string; key: string; severity: string | null; summary: string | null }) => {
      const severity = alert.severity === "critical" ? "critical" : alert.severity === "warning" ? "warning" : "info";
      notify({ title: `Alert: ${alert.rule}`, body: alert.summary ?? alert.key, severity });
      if ("Notification" in window && Notification.permission === "granted") {
        new Notification(`fillstream: ${alert.rule}`, { body: alert.summary ?? alert.key, tag: `${alert.rule}|${alert.key}` });
      }
    },
    [notify],
  );
  useEffect(() => follow(client, { onAlert, onState: setLive }), [client, onAlert]);

  const go = (to: Panel) => {
    setPanel(to);
    window.history.pushState(null, "", `/${to}`);
  };
  if (signedOut) {
    return (
      <main className="signin">
        <h1>fillstream</h1>
        <p>You are not signed in. Open the login URL that <code>fillstream dashboard</code> prints (it carries the token, once).</p>
      </main>
    );
  }
  return (
    <>
      <a href="#main" className="skip">Skip to the panel</a>
      <header className="top">
        <h1>fillstream</h1>
        <nav aria-label="Panels" role="tablist">
          {PANELS.map((p) => (
            <button
              key={p.id}
              type="button"
              role="tab"
              id={`tab-${p.id}`}
              aria-selected={panel === p.id}
              aria-controls="main"
              data-panel={p.name}
              onClick={() => go(p.id)}
              onKeyDown={(e) => {
                const i = PANELS.findIndex((x) => x.id === p.id);
                const next = e.key === "ArrowRight" ? PANELS[(i + 1) % PANELS.length] : e.key === "ArrowLeft" ? PANELS[(i + PANELS.length - 1) % PANELS.length] : undefined;
                if (next) {
                  go(next.id);
                  document.getElementById(`tab-${next.id}`)?.focus();
                }
              }}
              tabIndex={panel === p.id ? 0 : -1}
            >
              {p.label}
            </button>
          ))}
        </nav>
        <span className={`live ${live}`} role="status" data-testid="live">
          {live === "live" ? "● live" : live === "connecting" ? "connecting…" : "reconnecting…"}
        </span>
        {permission !== "unsupported" && permission !== "granted" && (
          <button type="button" onClick={askPermission} disabled={permission === "denied"}>
            {permission === "denied" ? "Notifications blocked" : "Notify me"}
          </button>
        )}
        <button type="button" onClick={() => setTheme(theme === "dark" ? "light" : "dark")} aria-label={`Switch to the ${theme === "dark" ? "light" : "dark"} theme`} data-testid="theme">
          {theme === "dark" ? "☀ Light" : "☾ Dark"}
        </button>
      </header>
      {panel !== "reports" && <FilterBar filters={filters} setFilters={setFilters} />}
      <main id="main" role="tabpanel" aria-labelledby={`tab-${panel}`} tabIndex={-1}>
        <h2 className="sr-only">{PANELS.find((p) => p.id === panel)?.name}</h2>
        {panel === "trades" && <TradeAnalyticsPanel filters={filters} setFilters={setFilters} theme={theme} />}
        {panel === "performance" && <PerformanceInsightsPanel filters={filters} theme={theme} confirm={setConfirming} />}
        {panel === "monitor" && <AIPerformanceMonitor confirm={setConfirming} />}
        {panel === "reports" && <ReportsPanel />}
      </main>
      <ConfirmDialog request={confirming} onClose={() => setConfirming(null)} />
    </>
  );
}
