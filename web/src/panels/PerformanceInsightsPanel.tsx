import { useMemo, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import type { ChartConfiguration } from "chart.js";
import { get, post, type Calibration, type Definitions, type Filters, type Page, type PaperRow, type PerformanceRow, type RegimePerformance, type RegimeRow } from "../api";
import { formatMoney, formatNumber, formatPercent, formatTime, tone } from "../format";
import { ChartJs, chartDefaults, themeColor } from "../components/charts";
import type { ConfirmRequest } from "../components/Confirm";
import { Gate } from "./Gate";

type Figure = { key: keyof PerformanceRow; label: string; shown: (v: unknown) => string };
const money = (v: unknown) => formatMoney(v as string | null);
const ratio = (v: unknown) => formatNumber(v as number | null, 2);
const share = (v: unknown) => formatPercent(v as number | null);
const FIGURES: Figure[] = [
  { key: "trades", label: "Trades", shown: (v) => String(v) },
  { key: "net_profit", label: "Net profit", shown: money },
  { key: "win_rate", label: "Win rate", shown: share },
  { key: "profit_factor", label: "Profit factor", shown: ratio },
  { key: "expectancy", label: "Expectancy", shown: money },
  { key: "payoff_ratio", label: "Payoff", shown: ratio },
  { key: "max_drawdown", label: "Max drawdown", shown: money },
  { key: "sharpe", label: "Sharpe", shown: ratio },
  { key: "sortino", label: "Sortino", shown: ratio },
  { key: "sqn", label: "SQN", shown: ratio },
  { key: "avg_r", label: "Avg R", shown: ratio },
  { key: "longest_loss_streak", label: "Worst streak", shown: (v) => (v === null ? "–" : String(v)) },
];

interface ExperimentListed {
  id: string;
  strategy: string;
  control: string;
  treatment: string;
  ramp: number[];
  status: string;
  step: number;
  treatment_percent: number;
  kill_switch: boolean;
  changed_by: string;
  reason: string;
}

interface Interval {
  [name: string]: unknown;
}

interface ExperimentReport {
  experiment: ExperimentListed;
  control: { variant: string; assigned: number; trades: number; wins: number; losses: number; win_rate: string | null; net_profit: string; mean_net_pnl: string | null };
  treatment: ExperimentReport["control"];
  welch: Interval | null;
  bootstrap: Interval | null;
  sample_ratio: { chi_square: number; df: number; p_value: number; mismatch: boolean } | null;
  rollout: { metrics: { name: string; control: number | null; treatment: number | null; difference: number | null; ci_low: number | null; ci_high: number | null; better: string; note: string }[] };
  next_step: { decision: string; reason: string };
  kill_switch: boolean;
  history: { at: string; action: string; step: number; by: string; reason: string }[];
}

function Experiments({ confirm }: { confirm: (r: ConfirmRequest) => void }) {
  const client = useQueryClient();
  const listed = useQuery({ queryKey: ["experiments"], queryFn: () => get<{ items: ExperimentListed[] }>("/api/experiments"), refetchInterval: 15_000 });
  const [chosen, setChosen] = useState<string | null>(null);
  const id = chosen ?? listed.data?.items[0]?.id ?? null;
  const report = useQuery({ queryKey: ["experiments", id], queryFn: () => get<ExperimentReport>(`/api/experiments/${encodeURIComponent(id ?? "")}`), enabled: id !== null });
  const killed = listed.data?.items[0]?.kill_switch ?? report.data?.kill_switch ?? false;
  const changed = () => void client.invalidateQueries({ queryKey: ["experiments"] });
  const act = (action: string, what: string) =>
    confirm({
      title: `${what} ${id}?`,
      body: <p>This is recorded on the log as the CLI records it (<code>fillstream experiments {action}</code>), by <strong>dashboard</strong>.</p>,
      action: what,
      reason: true,
      run: (reason) => post(`/api/experiments/${encodeURIComponent(id ?? "")}/${action}`, { reason }).then(changed),
    });
  const toggleKill = () =>
    confirm({
      title: killed ? "Lift the kill switch?" : "Pull the kill switch?",
      body: killed ? <p>The experiments split signals again.</p> : <p>Every new signal runs control, in every experiment, until revived.</p>,
      action: killed ? "Revive" : "Kill",
      reason: true,
      run: (reason) => post(`/api/kill-switch/${killed ? "revive" : "kill"}`, { reason }).then(changed),
    });
  const r = report.data;
  return (
    <section className="card wide" aria-labelledby="experiments-title" data-testid="experiments">
      <header className="card-head">
        <h3 id="experiments-title">Experiments</h3>
        <button type="button" className={killed ? "" : "danger"} onClick={toggleKill} data-testid="kill-switch">
          {killed ? "Revive (kill switch is on)" : "Kill switch"}
        </button>
      </header>
      {listed.error && <p role="alert" className="error">{listed.error.message}</p>}
      {listed.data?.items.length === 0 && <p className="muted">No experiment yet: <code>fillstream experiments create --config FILE</code>.</p>}
      {(listed.data?.items.length ?? 0) > 0 && (
        <label>
          Experiment{" "}
          <select value={id ?? ""} onChange={(e) => setChosen(e.target.value)}>
            {listed.data?.items.map((e) => (
              <option key={e.id} value={e.id}>{e.id} ({e.status}, {e.treatment_percent} %)</option>
            ))}
          </select>
        </label>
      )}
      {r && (
        <>
          <p>
            {r.experiment.strategy}: {r.experiment.control} (control) against {r.experiment.treatment} (treatment); step {r.experiment.step + 1} of {r.experiment.ramp.length} ({r.experiment.ramp.join(" → ")} %), now{" "}
            <strong>{r.experiment.treatment_percent} %</strong>, {r.experiment.status}.
          </p>
          <table>
            <caption className="sr-only">Each arm's figures</caption>
            <thead><tr><th scope="col">Arm</th><th scope="col">Variant</th><th scope="col" className="num">Assigned</th><th scope="col" className="num">Trades</th><th scope="col" className="num">Win rate</th><th scope="col" className="num">Net</th><th scope="col" className="num">Mean</th></tr></thead>
            <tbody>
              {(["control", "treatment"] as const).map((arm) => (
                <tr key={arm}>
                  <th scope="row">{arm}</th>
                  <td>{r[arm].variant}</td>
                  <td className="num">{r[arm].assigned}</td>
                  <td className="num">{r[arm].trades}</td>
                  <td className="num">{formatPercent(r[arm].win_rate)}</td>
                  <td className={`num ${tone(r[arm].net_profit)}`}>{formatMoney(r[arm].net_profit)}</td>
                  <td className="num">{formatMoney(r[arm].mean_net_pnl)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <table>
            <caption>Treatment against control, with intervals</caption>
            <thead><tr><th scope="col">Metric</th><th scope="col" className="num">Control</th><th scope="col" className="num">Treatment</th><th scope="col" className="num">Change</th><th scope="col">Interval</th></tr></thead>
            <tbody>
              {r.rollout.metrics.map((m) => (
                <tr key={m.name}>
                  <th scope="row">{m.name} <span className="muted">({m.better} is better)</span></th>
                  <td className="num">{formatNumber(m.control, 3)}</td>
                  <td className="num">{formatNumber(m.treatment, 3)}</td>
                  <td className="num">{formatNumber(m.difference, 3)}</td>
                  <td>{m.ci_low !== null && m.ci_high !== null ? `[${formatNumber(m.ci_low, 3)}, ${formatNumber(m.ci_high, 3)}]` : `not yet (${m.note})`}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            Sample ratio:{" "}
            {r.sample_ratio ? (
              <span className={r.sample_ratio.mismatch ? "loss" : "gain"}>
                χ² {formatNumber(r.sample_ratio.chi_square, 2)}, p = {formatNumber(r.sample_ratio.p_value, 4)}{r.sample_ratio.mismatch ? ": mismatch, the split is not what was asked" : ": as asked"}
              </span>
            ) : (
              "not enough assignments yet"
            )}
          </p>
          <p data-testid="next-step">
            Next step: <strong>{r.next_step.decision}</strong> ({r.next_step.reason})
          </p>
          <div className="actions">
            {r.experiment.status === "paused" ? (
              <button type="button" onClick={() => act("resume", "Resume")}>Resume</button>
            ) : (
              <button type="button" onClick={() => act("pause", "Pause")}>Pause</button>
            )}
            <button type="button" onClick={() => act("promote", "Promote")}>Promote</button>
            <button type="button" className="danger" onClick={() => act("rollback", "Roll back")}>Roll back</button>
          </div>
          <h4>History</h4>
          <ol className="history">
            {r.history.map((h, i) => (
              <li key={i}>
                {formatTime(h.at)}: {h.action} by {h.by}
                {h.reason ? `: ${h.reason}` : ""}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

export function PerformanceInsightsPanel({ filters, theme, confirm }: { filters: Filters; theme: string; confirm: (r: ConfirmRequest) => void }) {
  const [scope, setScope] = useState("account");
  const [window, setWindow] = useState("all_time");
  const definitions = useQuery({ queryKey: ["definitions"], queryFn: () => get<Definitions>("/api/definitions"), staleTime: Infinity });
  const performance = useQuery({
    queryKey: ["performance", scope, window, filters.account, filters.strategy],
    queryFn: () => get<{ items: PerformanceRow[] }>("/api/performance", { scope, time_window: window, account: filters.account, strategy: filters.strategy, limit: 1000 }),
  });
  const regimes = useQuery({ queryKey: ["regimes"], queryFn: () => get<Page<RegimeRow>>("/api/regimes", { limit: 500 }) });
  const byRegime = useQuery({ queryKey: ["regime-performance", filters.account, filters.strategy], queryFn: () => get<Page<RegimePerformance>>("/api/performance_by_regime", { account: filters.account, strategy: filters.strategy, limit: 1000 }) });
  const paper = useQuery({ queryKey: ["paper", filters], queryFn: () => get<Page<PaperRow>>("/api/paper_comparison", { account: filters.account, instrument: filters.instrument, strategy: filters.strategy, variant: filters.variant, from: filters.from, to: filters.to, limit: 1000 }) });
  const calibration = useQuery({ queryKey: ["calibration", filters], queryFn: () => get<Calibration>("/api/calibration", { ...filters }) });

  const current = useMemo(() => {
    const seen = new Map<string, RegimeRow>();
    for (const row of regimes.data?.items ?? []) if (!seen.has(row.instrument) && row.ends_at === null) seen.set(row.instrument, row);
    return [...seen.values()];
  }, [regimes.data]);
  const slippage = useMemo(() => {
    const rows = (paper.data?.items ?? []).filter((p) => p.slippage_value !== null);
    const total = rows.reduce((sum, p) => sum + Number(p.slippage_value), 0);
    return { count: rows.length, total, mean: rows.length ? total / rows.length : null };
  }, [paper.data]);
  const calibrationChart = useMemo<ChartConfiguration>(() => {
    const bins = calibration.data?.bins ?? [];
    return {
      type: "line",
      data: {
        labels: bins.map((b) => `${b.low.toFixed(1)}–${b.high.toFixed(1)}`),
        datasets: [
          { label: "share won", data: bins.map((b) => b.win_rate), borderColor: themeColor("accent"), backgroundColor: themeColor("accent") },
          { label: "mean confidence", data: bins.map((b) => b.mean_confidence), borderColor: themeColor("muted"), borderDash: [4, 4], backgroundColor: themeColor("muted") },
        ],
      },
      options: { ...chartDefaults(), scales: { y: { min: 0, max: 1, ticks: { color: themeColor("text") } }, x: { ticks: { color: themeColor("text") } } } } as ChartConfiguration["options"],
    };
  }, [calibration.data, theme]);
  const defined = definitions.data?.figures ?? {};

  return (
    <div className="panel" data-testid="performance-insights">
      <section className="card wide" aria-labelledby="figures-title">
        <header className="card-head">
          <h3 id="figures-title">Performance figures</h3>
          <label>
            Scope{" "}
            <select value={scope} onChange={(e) => setScope(e.target.value)}>
              {["account", "strategy", "variant", "instrument", "regime"].map((s) => <option key={s}>{s}</option>)}
            </select>
          </label>
          <label>
            Window{" "}
            <select value={window} onChange={(e) => setWindow(e.target.value)}>
              {["all_time", "trading_day", "last_trades"].map((w) => <option key={w}>{w}</option>)}
            </select>
          </label>
        </header>
        {performance.error && <p role="alert" className="error">{performance.error.message}</p>}
        <div className="scroll">
          <table data-testid="performance-table">
            <caption className="sr-only">The performance view's figures per {scope}, window {window}; hover or focus a heading for its definition</caption>
            <thead>
              <tr>
                <th scope="col">{scope}</th>
                <th scope="col">Window</th>
                {FIGURES.map((f) => (
                  <th key={f.key} scope="col" className="num">
                    <abbr title={`${defined[f.key] ?? ""} (definitions v${definitions.data?.version ?? "?"})`} tabIndex={0}>{f.label}</abbr>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {(performance.data?.items ?? []).map((row) => (
                <tr key={`${row.scope_key}|${row.window_key}|${row.definitions_version}`} data-scope-key={row.scope_key}>
                  <th scope="row">{row.scope_key}</th>
                  <td>{row.window_key || row.time_window}</td>
                  {FIGURES.map((f) => (
                    <td key={f.key} className="num" data-figure={f.key} data-value={String(row[f.key] ?? "")}>{f.shown(row[f.key])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {performance.data?.items.length === 0 && <p className="muted">No figures for this scope and window yet.</p>}
      </section>

      <div className="grid">
        <section className="card" aria-labelledby="regime-now-title">
          <h3 id="regime-now-title">Current regime</h3>
          <table>
            <thead><tr><th scope="col">Instrument</th><th scope="col">Regime</th><th scope="col">Since</th><th scope="col" className="num">ATR pct.</th></tr></thead>
            <tbody>
              {current.map((r) => (
                <tr key={r.instrument}><th scope="row">{r.instrument}</th><td>{r.label}</td><td>{formatTime(r.starts_at)}</td><td className="num">{formatNumber(r.atr_percentile)}</td></tr>
              ))}
            </tbody>
          </table>
          {current.length === 0 && <p className="muted">No regime labelled yet (labels need bars).</p>}
        </section>
        <section className="card" aria-labelledby="by-regime-title">
          <h3 id="by-regime-title">Performance by regime</h3>
          <table data-testid="by-regime">
            <thead><tr><th scope="col">Account</th><th scope="col">Strategy</th><th scope="col">Regime</th><th scope="col" className="num">Trades</th><th scope="col" className="num">Win rate</th><th scope="col" className="num">Net</th><th scope="col" className="num">Expectancy</th></tr></thead>
            <tbody>
              {(byRegime.data?.items ?? []).map((r) => (
                <tr key={`${r.account}|${r.strategy}|${r.regime}`}>
                  <td>{r.account}</td><td>{r.strategy ?? "–"}</td><th scope="row">{r.regime}</th>
                  <td className="num">{r.trades}</td><td className="num">{formatPercent(r.win_rate)}</td>
                  <td className={`num ${tone(r.net_profit)}`}>{formatMoney(r.net_profit)}</td><td className="num">{formatMoney(r.expectancy)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="card" aria-labelledby="paper-title">
          <h3 id="paper-title">Paper against live</h3>
          <p data-testid="slippage">
            {slippage.count
              ? <>Slippage over {slippage.count} signals: {formatMoney(String(slippage.total))} in all, {formatMoney(String(slippage.mean))} a signal (positive costs).</>
              : "No signal traded both live and on paper yet."}
          </p>
          <table className="compact">
            <thead><tr><th scope="col">Signal</th><th scope="col">Instrument</th><th scope="col" className="num">Entry slip</th><th scope="col" className="num">Exit slip</th><th scope="col" className="num">Value</th></tr></thead>
            <tbody>
              {(paper.data?.items ?? []).slice(0, 20).map((p) => (
                <tr key={`${p.account}|${p.signal_id}`}><th scope="row">{p.signal_id}</th><td>{p.instrument}</td><td className="num">{p.entry_slippage ?? "–"}</td><td className="num">{p.exit_slippage ?? "–"}</td><td className={`num ${tone(p.slippage_value === null ? null : -Number(p.slippage_value))}`}>{formatMoney(p.slippage_value)}</td></tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="card" aria-labelledby="calibration-title">
          <h3 id="calibration-title">Confidence calibration</h3>
          <p data-testid="brier" data-value={calibration.data?.brier ?? ""}>
            Brier score {formatNumber(calibration.data?.brier ?? null, 4)} over {calibration.data?.trades ?? 0} trades (lower is better; 0.25 is a coin).
          </p>
          {calibration.data?.bins.length ? <ChartJs config={calibrationChart} label="Share of trades won against the signals' mean confidence, per bin of 0.2" /> : <p className="muted">No signal gave a confidence yet.</p>}
        </section>
        <Gate filters={filters} />
        <Experiments confirm={confirm} />
      </div>
    </div>
  );
}
