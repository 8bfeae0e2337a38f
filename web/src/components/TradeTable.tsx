import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { get, url, type Filters, type Page, type Trade, type TradeColumn, type TradeSort } from "../api";
import { formatMoney, formatNumber, formatSeconds, formatTime, tone } from "../format";

type Kind = "money" | "time" | "text" | "number" | "ratio" | "seconds";

export const COLUMNS: { key: TradeColumn; label: string; kind: Kind; shown: boolean }[] = [
  { key: "exit_time", label: "Exit", kind: "time", shown: true },
  { key: "account", label: "Account", kind: "text", shown: true },
  { key: "instrument", label: "Instrument", kind: "text", shown: true },
  { key: "strategy", label: "Strategy", kind: "text", shown: true },
  { key: "variant", label: "Variant", kind: "text", shown: false },
  { key: "direction", label: "Side", kind: "text", shown: true },
  { key: "quantity", label: "Qty", kind: "number", shown: true },
  { key: "entry_price", label: "Entry", kind: "number", shown: true },
  { key: "exit_price", label: "Exit price", kind: "number", shown: true },
  { key: "net_pnl", label: "Net P&L", kind: "money", shown: true },
  { key: "gross_pnl", label: "Gross P&L", kind: "money", shown: false },
  { key: "commission", label: "Commission", kind: "money", shown: false },
  { key: "fees", label: "Fees", kind: "money", shown: false },
  { key: "r_multiple", label: "R", kind: "ratio", shown: true },
  { key: "mae", label: "MAE", kind: "money", shown: false },
  { key: "mfe", label: "MFE", kind: "money", shown: false },
  { key: "duration", label: "Held", kind: "seconds", shown: true },
  { key: "exit_reason", label: "Exit reason", kind: "text", shown: true },
  { key: "entry_time", label: "Entry time", kind: "time", shown: false },
  { key: "source", label: "Source", kind: "text", shown: false },
  { key: "trade_id", label: "Trade id", kind: "text", shown: false },
];

/** The columns the API sorts by (never null); the compiler holds them to its `sort` enum. */
export const SORTABLE: readonly TradeSort[] = [
  "exit_time", "entry_time", "account", "instrument", "direction", "quantity", "entry_price",
  "exit_price", "net_pnl", "gross_pnl", "commission", "fees", "source", "trade_id",
];

/** Each column's width (rem), the same in the header and every row, so they line up. */
const WIDTHS: Record<string, number> = {
  time: 13, money: 8, number: 7, seconds: 7, text: 8, trade_id: 17, account: 9, instrument: 8,
  strategy: 9, exit_reason: 8, direction: 5, quantity: 4, r_multiple: 5,
};

const PAGE = 500;
const ROW_HEIGHT = 34;
const STORED = "fillstream.columns";

function cell(trade: Trade, key: TradeColumn, kind: Kind): string {
  const value = trade[key] as string | number | null | string[];
  if (Array.isArray(value)) return value.join(" ");
  switch (kind) {
    case "money":
      return formatMoney(value as string | null);
    case "time":
      return formatTime(value as string | null);
    case "seconds":
      return formatSeconds(value as string | null);
    case "number":
      return formatNumber(value as string | null, 6);
    case "ratio":
      return formatNumber(value as string | null, 3);
    default:
      return value === null || value === undefined ? "–" : String(value);
  }
}

function storedColumns(): TradeColumn[] {
  try {
    const stored = JSON.parse(localStorage.getItem(STORED) ?? "null") as TradeColumn[] | null;
    if (Array.isArray(stored) && stored.every((k) => COLUMNS.some((c) => c.key === k))) return stored;
  } catch {
    /* the defaults */
  }
  return COLUMNS.filter((c) => c.shown).map((c) => c.key);
}

export function TradeTable({ filters, total, onOpen }: { filters: Filters; total: number | undefined; onOpen: (tradeId: string) => void }) {
  const [sort, setSort] = useState<TradeSort>("exit_time");
  const [direction, setDirection] = useState<"desc" | "asc">("desc");
  const [shown, setShown] = useState<TradeColumn[]>(storedColumns);
  useEffect(() => localStorage.setItem(STORED, JSON.stringify(shown)), [shown]);
  const columns = COLUMNS.filter((c) => shown.includes(c.key));

  const query = useInfiniteQuery({
    queryKey: ["trades", filters, sort, direction],
    queryFn: ({ pageParam }) => get<Page<Trade>>("/api/trades", { ...filters, sort, direction, limit: PAGE, cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next ?? undefined,
  });
  const rows = useMemo(() => query.data?.pages.flatMap((p) => p.items) ?? [], [query.data]);
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length + (query.hasNextPage ? 1 : 0),
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 15,
  });
  const items = virtual.getVirtualItems();
  const lastIndex = items[items.length - 1]?.index ?? 0;
  useEffect(() => {
    if (lastIndex >= rows.length - 1 && query.hasNextPage && !query.isFetchingNextPage) void query.fetchNextPage();
  }, [lastIndex, rows.length, query]);

  const order = (key: TradeColumn) => {
    if (!SORTABLE.includes(key as TradeSort)) return;
    if (sort === key) setDirection(direction === "desc" ? "asc" : "desc");
    else {
      setSort(key as TradeSort);
      setDirection("desc");
    }
  };
  const move = (event: KeyboardEvent<HTMLDivElement>, index: number) => {
    const to = event.key === "ArrowDown" ? index + 1 : event.key === "ArrowUp" ? index - 1 : null;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      const trade = rows[index];
      if (trade) onOpen(trade.trade_id);
    }
    if (to === null || to < 0 || to >= rows.length) return;
    event.preventDefault();
    virtual.scrollToIndex(to);
    window.requestAnimationFrame(() => scroller.current?.querySelector<HTMLElement>(`[data-index="${to}"]`)?.focus());
  };
  const widths = columns.map((c) => WIDTHS[c.key] ?? WIDTHS[c.kind] ?? 7);
  const template = widths.map((w) => `${w}rem`).join(" ");
  const rowWidth = `max(100%, ${widths.reduce((a, b) => a + b, 0)}rem)`;
  const csv = url("/api/trades.csv", { ...filters, sort, direction, columns: shown.join(",") });

  return (
    <section aria-labelledby="trades-title" className="card wide has-menu">
      <header className="card-head">
        <h3 id="trades-title">Trades</h3>
        <span className="muted" data-testid="trades-loaded">
          {rows.length}
          {total !== undefined ? ` of ${total}` : ""} loaded
        </span>
        <details className="menu">
          <summary>Columns</summary>
          <fieldset>
            <legend className="sr-only">Columns shown</legend>
            {COLUMNS.map((c) => (
              <label key={c.key}>
                <input
                  type="checkbox"
                  checked={shown.includes(c.key)}
                  onChange={(e) => setShown(e.target.checked ? COLUMNS.filter((k) => k.key === c.key || shown.includes(k.key)).map((k) => k.key) : shown.filter((k) => k !== c.key))}
                />
                {c.label}
              </label>
            ))}
          </fieldset>
        </details>
        <a className="button" href={csv} download="trades.csv">
          Export CSV
        </a>
      </header>
      {query.error && <p role="alert" className="error">{query.error.message}</p>}
      <div className="table" role="table" aria-label="Trades, newest first" aria-rowcount={total !== undefined ? total + 1 : -1} data-testid="trade-table">
        <div className="thead" role="rowgroup">
          <div className="tr" role="row" style={{ gridTemplateColumns: template, width: rowWidth }}>
            {columns.map((c) => {
              const sortable = SORTABLE.includes(c.key as TradeSort);
              const sorted = sort === c.key ? (direction === "desc" ? "descending" : "ascending") : "none";
              return (
                <div key={c.key} role="columnheader" aria-sort={sortable ? sorted : undefined} className={c.kind === "money" || c.kind === "number" || c.kind === "ratio" ? "num" : ""}>
                  {sortable ? (
                    <button type="button" className="ghost" onClick={() => order(c.key)}>
                      {c.label}
                      {sort === c.key ? (direction === "desc" ? " ↓" : " ↑") : ""}
                    </button>
                  ) : (
                    c.label
                  )}
                </div>
              );
            })}
          </div>
        </div>
        <div ref={scroller} className="tbody" role="rowgroup" style={{ height: "min(60vh, 32rem)", width: rowWidth }}>
          <div style={{ height: virtual.getTotalSize(), position: "relative", width: rowWidth }}>
            {items.map((item) => {
              const trade = rows[item.index];
              if (!trade) {
                return (
                  <div key="more" className="tr muted" role="row" style={{ position: "absolute", top: item.start, height: ROW_HEIGHT }}>
                    <div role="cell">Loading…</div>
                  </div>
                );
              }
              return (
                <div
                  key={trade.trade_id}
                  data-index={item.index}
                  data-trade-id={trade.trade_id}
                  className="tr"
                  role="row"
                  aria-rowindex={item.index + 2}
                  tabIndex={0}
                  onClick={() => onOpen(trade.trade_id)}
                  onKeyDown={(e) => move(e, item.index)}
                  style={{ position: "absolute", top: item.start, height: ROW_HEIGHT, gridTemplateColumns: template, width: rowWidth }}
                >
                  {columns.map((c) => (
                    <div key={c.key} role="cell" data-column={c.key} className={`${c.kind === "money" || c.kind === "number" || c.kind === "ratio" ? "num" : ""} ${c.kind === "money" ? tone(trade[c.key] as string) : ""}`}>
                      {cell(trade, c.key, c.kind)}
                    </div>
                  ))}
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </section>
  );
}
