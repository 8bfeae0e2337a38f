// The live feed (/api/events): each event updates what the page holds. Trades, performance
// rows and health checks make their queries read again; positions are replaced in place; an
// alert raised becomes a toast and, where the user allowed it, a browser notification.
import type { QueryClient } from "@tanstack/react-query";
import type { ActiveAlert, Page, Position } from "./api";

export type LiveKind = "trade" | "position" | "performance" | "alert" | "health" | "resync";

export interface RaisedAlert {
  rule: string;
  key: string;
  severity: string | null;
  summary: string | null;
}

/** The queries each kind of event makes stale. */
export const STALE: Record<LiveKind, string[]> = {
  trade: ["trades", "summary", "equity", "daily", "distribution", "breakdown", "excursions", "calibration", "paper", "regime-performance"],
  position: [],
  performance: ["performance"],
  alert: ["alerts", "alerts-active"],
  health: ["services", "uptime"],
  resync: [],
};

type PositionClosed = { account: string; strategy: string | null; instrument: string; closed: true };

function sameBook(a: { account: string; strategy: string | null; instrument: string }, b: typeof a): boolean {
  return a.account === b.account && a.strategy === b.strategy && a.instrument === b.instrument;
}

/** The open positions after a ``position`` event. */
export function applyPosition(
  page: Page<Position> | undefined,
  changed: Position | PositionClosed,
): Page<Position> | undefined {
  if (!page) return page;
  const others = page.items.filter((p) => !sameBook(p, changed));
  if ("closed" in changed && changed.closed) return { ...page, items: others };
  return { ...page, items: [changed as Position, ...others] };
}

export interface LiveOptions {
  onAlert: (alert: RaisedAlert) => void;
  onState: (state: "live" | "reconnecting") => void;
  onEvent?: (kind: LiveKind, data: unknown) => void;
}

/** Follows /api/events until the returned function is called. The browser reconnects on its
 * own, with Last-Event-ID; a ``resync`` makes every query read again. */
export function follow(client: QueryClient, options: LiveOptions): () => void {
  const source = new EventSource("/api/events", { withCredentials: true });
  const pending = new Set<string>();
  let timer: number | undefined;
  const invalidate = (keys: string[]) => {
    keys.forEach((k) => pending.add(k));
    if (timer !== undefined) return;
    timer = window.setTimeout(() => {
      timer = undefined;
      const keys = [...pending];
      pending.clear();
      for (const key of keys) void client.invalidateQueries({ queryKey: [key] });
    }, 50);
  };
  const on = (kind: LiveKind, handle: (data: unknown) => void) =>
    source.addEventListener(kind, (event) => {
      const data: unknown = JSON.parse((event as MessageEvent<string>).data);
      handle(data);
      options.onEvent?.(kind, data);
    });
  on("trade", () => invalidate(STALE.trade));
  on("performance", () => invalidate(STALE.performance));
  on("health", () => invalidate(STALE.health));
  on("resync", () => void client.invalidateQueries());
  on("position", (data) => {
    client.setQueriesData<Page<Position>>({ queryKey: ["positions"] }, (page) =>
      applyPosition(page, data as Position | PositionClosed),
    );
  });
  on("alert", (data) => {
    invalidate(STALE.alert);
    const alert = data as ActiveAlert & { state: string };
    if (alert.state === "raised") options.onAlert(alert);
  });
  source.onopen = () => options.onState("live");
  source.onerror = () => options.onState("reconnecting");
  return () => {
    source.close();
    if (timer !== undefined) window.clearTimeout(timer);
  };
}
