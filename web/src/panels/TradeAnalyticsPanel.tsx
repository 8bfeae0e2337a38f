import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import type { ChartConfiguration } from "chart.js";
import { get, type Bin, type Breakdown, type Day, type EquityPoint, type Excursion, type Filters, type Group, type Page, type Position, type Summary } from "../api";
import { formatMoney, formatNumber, formatPercent, formatTime, tone } from "../format";
import { Calendar } from "../components/Calendar";
import { ChartJs, EquityChart, chartDefaults, themeColor } from "../components/charts";
import { TradeTable } from "../components/TradeTable";
import { TradeDetail } from "../components/TradeDetail";
import { tradingDayBounds } from "../days";

const BREAKDOWNS: { by: Breakdown; label: string }[] = [
  { by: "instrument", label: "Instrument" },
  { by: "strategy", label: "Strategy" },
  { by: "exit_reason", label: "Exit reason" },
  { by: "hour", label: "Hour of entry" },
  { by: "weekday", label: "Weekday of entry" },
  { by: "account", label: "Account" },
  { by: "variant", label: "Variant" },
];
const WEEKDAY_NAMES: Record<string, string> = { "1": "Mon", "2": "Tue", "3": "Wed", "4": "Thu", "5": "Fri", "6": "Sat", "7": "Sun" };
const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

export function Figure({ name, label, value, shown, hint }: { name: string; label: string; value: string | number | null; shown: string; hint?: string }) {
  return (
    <div className="figure" data-figure={name} data-value={value ?? ""} title={hint}>
      <span className="label">{label}</span>
      <span className={`value ${name.includes("pnl") || name === "expectancy" ? tone(value) : ""}`}>{shown}</span>
    </div>
  );
}

function histogram(bins: Bin[], label: string): ChartConfiguration {
  return {
    type: "bar",
    data: {
      labels: bins.map((b) => `${formatNumber(b.low)} … ${formatNumber(b.high)}`),
      datasets: [{ label, data: bins.map((b) => b.trades), backgroundColor: bins.map((b) => (Number(b.high) <= 0 ? themeColor("loss") : Number(b.low) >= 0 ? themeColor("gain") : themeColor("muted"))) }],
    },
    options: { ...chartDefaults(), plugins: { legend: { display: false } } } as ChartConfiguration["options"],
  };
}

export function TradeAnalyticsPanel({ filters, setFilters, theme }: { filters: Filters; setFilters: (f: Filters) => void; theme: string }) {
  const [opened, setOpened] = useState<string | null>(null);
  const [by, setBy] = useState<Breakdown>("instrument");
  const [day, setDay] = useState<string | null>(null);
  const tradeFilters = useMemo(() => (day ? { ...filters, ...tradingDayBounds(day) } : filters), [filters, day]);

  const summary = useQuery({ queryKey: ["summary", tradeFilters], queryFn: () => get<Summary>("/api/summary", { ...tradeFilters }) });
  const equity = useQuery({ queryKey: ["equity", tradeFilters], queryFn: () => get<Page<EquityPoint>>("/api/equity", { ...tradeFilters, points: 2000 }) });
  const daily = useQuery({ queryKey: ["daily", filters], queryFn: () => get<Page<Day>>("/api/daily", { ...filters }) });
  const pnl = useQuery({ queryKey: ["distribution", tradeFilters, "net_pnl"], queryFn: () => get<Page<Bin>>("/api/distribution", { ...tradeFilters, field: "net_pnl", bins: 30 }) });
  const r = useQuery({ queryKey: ["distribution", tradeFilters, "r_multiple"], queryFn: () => get<Page<Bin>>("/api/distribution", { ...tradeFilters, field: "r_multiple", bins: 30 }) });
  const excursions = useQuery({ queryKey: ["excursions", tradeFilters], queryFn: () => get<Page<Excursion>>("/api/excursions", { ...tradeFilters, limit: 2000 }) });
  const groups = useQuery({ queryKey: ["breakdown", tradeFilters, by], queryFn: () => get<Page<Group>>("/api/breakdown", { ...tradeFilters, by, tz: TZ }) });
  const positions = useQuery({
    queryKey: ["positions", filters.account, filters.instrument, filters.strategy],
    queryFn: () => get<Page<Position>>("/api/positions", { account: filters.account, instrument: filters.instrument, strategy: filters.strategy, limit: 1000 }),
  });

  const s = summary.data;
  const pnlChart = useMemo(() => histogram(pnl.data?.items ?? [], "trades by net P&L"), [pnl.data, theme]);
  const rChart = useMemo(() => histogram(r.data?.items ?? [], "trades by R"), [r.data, theme]);
  const scatter = useMemo<ChartConfiguration>(() => {
    const points = excursions.data?.items ?? [];
    return {
      type: "scatter",
      data: {
        datasets: [
          { label: "winners", data: points.filter((p) => Number(p.net_pnl) > 0).map((p) => ({ x: Number(p.mae), y: Number(p.mfe) })), backgroundColor: themeColor("gain") },
          { label: "losers", data: points.filter((p) => Number(p.net_pnl) <= 0).map((p) => ({ x: Number(p.mae), y: Number(p.mfe) })), backgroundColor: themeColor("loss") },
        ],
      },
      options: { ...chartDefaults(), scales: { x: { title: { display: true, text: "MAE", color: themeColor("text") }, ticks: { color: themeColor("text") } }, y: { title: { display: true, text: "MFE", color: themeColor("text") }, ticks: { color: themeColor("text") } } } } as ChartConfiguration["options"],
    };
  }, [excursions.data, theme]);
  const bars = useMemo<ChartConfiguration>(() => {
    const items = groups.data?.items ?? [];
    const name = (k: string) => (by === "weekday" ? WEEKDAY_NAMES[k] ?? k : k || "(none)");
    return {
      type: "bar",
      data: {
        labels: items.map((g) => name(g.key)),
        datasets: [{ label: "net P&L", data: items.map((g) => Number(g.net_pnl)), backgroundColor: items.map((g) => (Number(g.net_pnl) >= 0 ? themeColor("gain") : themeColor("loss"))) }],
      },
      options: { ...chartDefaults(), indexAxis: "y", plugins: { legend: { display: false } } } as ChartConfiguration["options"],
    };
  }, [groups.data, by, theme]);

  return (
    <div className="panel" data-testid="trade-analytics">
      {summary.error && <p role="alert" className="error">{summary.error.message}</p>}
      {day && (
        <p className="chip">
          Trading day {day}{" "}
          <button type="button" onClick={() => setDay(null)}>
            Show every day
          </button>
        </p>
      )}
      <section aria-label="Totals" className="figures">
        <Figure name="trades" label="Trades" value={s?.trades ?? null} shown={s ? String(s.trades) : "…"} />
        <Figure name="net_pnl" label="Net P&L" value={s?.net_pnl ?? null} shown={formatMoney(s?.net_pnl)} />
        <Figure name="win_rate" label="Win rate" value={s?.win_rate ?? null} shown={formatPercent(s?.win_rate)} hint="wins / (wins + losses)" />
        <Figure name="profit_factor" label="Profit factor" value={s?.profit_factor ?? null} shown={formatNumber(s?.profit_factor)} hint="gross profit / |gross loss|" />
        <Figure name="expectancy" label="Expectancy" value={s?.expectancy ?? null} shown={formatMoney(s?.expectancy)} hint="net P&L / trades" />
        <Figure name="max_drawdown" label="Max drawdown" value={s?.max_drawdown ?? null} shown={formatMoney(s?.max_drawdown)} hint="the largest fall from a running peak" />
        <Figure name="costs" label="Costs" value={s?.costs ?? null} shown={formatMoney(s?.costs)} hint="commission and fees" />
        <Figure name="avg_r" label="Average R" value={s?.avg_r ?? null} shown={formatNumber(s?.avg_r, 3)} />
      </section>

      <div className="grid">
        <section className="card wide" aria-labelledby="equity-title">
          <h3 id="equity-title">Equity and drawdown</h3>
          <EquityChart points={equity.data?.items ?? []} theme={theme} />
        </section>
        <section className="card" aria-labelledby="calendar-title">
          <h3 id="calendar-title">Net P&amp;L by trading day</h3>
          <Calendar days={daily.data?.items ?? []} selected={day} onSelect={setDay} />
        </section>
        <section className="card" aria-labelledby="positions-title">
          <h3 id="positions-title">Open positions</h3>
          <table data-testid="positions">
            <thead>
              <tr><th scope="col">Account</th><th scope="col">Instrument</th><th scope="col">Strategy</th><th scope="col" className="num">Qty</th><th scope="col" className="num">Average</th><th scope="col" className="num">Last</th><th scope="col" className="num">Unrealized</th></tr>
            </thead>
            <tbody>
              {(positions.data?.items ?? []).map((p) => (
                <tr key={`${p.account}|${p.strategy}|${p.instrument}`}>
                  <td>{p.account}</td>
                  <td>{p.instrument}</td>
                  <td>{p.strategy ?? "–"}</td>
                  <td className="num">{p.quantity}</td>
                  <td className="num">{p.average_price}</td>
                  <td className="num">{p.last_price ?? "–"}</td>
                  <td className={`num ${tone(p.unrealized_pnl)}`} data-value={p.unrealized_pnl ?? ""}>{formatMoney(p.unrealized_pnl)}</td>
                </tr>
              ))}
              {positions.data?.items.length === 0 && (
                <tr><td colSpan={7} className="muted">Flat: no open position.</td></tr>
              )}
            </tbody>
          </table>
          {positions.data?.items[0]?.marked_at && <p className="muted">Marked at {formatTime(positions.data.items[0].marked_at)}</p>}
        </section>
        <section className="card" aria-labelledby="pnl-dist-title">
          <h3 id="pnl-dist-title">Distribution of net P&amp;L</h3>
          <ChartJs config={pnlChart} label={`Histogram of net P&L: ${(pnl.data?.items ?? []).map((b) => b.trades).join(", ")} trades per bin`} testId="pnl-distribution" />
        </section>
        <section className="card" aria-labelledby="r-dist-title">
          <h3 id="r-dist-title">Distribution of R</h3>
          {r.data?.items.length ? <ChartJs config={rChart} label="Histogram of R multiples" /> : <p className="muted">No trade has an initial risk to give an R.</p>}
        </section>
        <section className="card" aria-labelledby="mae-title">
          <h3 id="mae-title">MAE against MFE</h3>
          {excursions.data?.items.length ? <ChartJs config={scatter} label="Scatter of the newest trades' MAE against MFE" /> : <p className="muted">No trade has excursions yet (they need price bars).</p>}
        </section>
        <section className="card" aria-labelledby="by-title">
          <header className="card-head">
            <h3 id="by-title">Net P&amp;L by</h3>
            <label>
              <span className="sr-only">Group by</span>
              <select value={by} onChange={(e) => setBy(e.target.value as Breakdown)}>
                {BREAKDOWNS.map((b) => (
                  <option key={b.by} value={b.by}>{b.label}</option>
                ))}
              </select>
            </label>
          </header>
          <ChartJs config={bars} label={`Net P&L by ${by}`} testId="breakdown" />
          <table className="compact" data-testid="breakdown-table">
            <thead><tr><th scope="col">{BREAKDOWNS.find((b) => b.by === by)?.label}</th><th scope="col" className="num">Trades</th><th scope="col" className="num">Win / loss</th><th scope="col" className="num">Net P&amp;L</th></tr></thead>
            <tbody>
              {(groups.data?.items ?? []).map((g) => (
                <tr key={g.key} data-key={g.key}>
                  <th scope="row">{by === "weekday" ? WEEKDAY_NAMES[g.key] ?? g.key : g.key || "(none)"}</th>
                  <td className="num">{g.trades}</td>
                  <td className="num">{g.wins} / {g.losses}</td>
                  <td className={`num ${tone(g.net_pnl)}`} data-value={g.net_pnl}>{formatMoney(g.net_pnl)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <TradeTable filters={tradeFilters} total={s?.trades} onOpen={setOpened} />
      </div>
      <TradeDetail tradeId={opened} theme={theme} onClose={() => setOpened(null)} />
      <button type="button" className="sr-only" onClick={() => setFilters({})}>Clear the filters</button>
    </div>
  );
}
