// Charts from well-kept libraries: TradingView's lightweight-charts for time series (equity and
// drawdown, price bars), Chart.js for the rest (histograms, scatter, bars). Colours come from
// the theme's CSS variables, read when a chart is drawn.
import { useEffect, useMemo, useRef } from "react";
import {
  AreaSeries,
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  LineSeries,
  type IChartApi,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  ScatterController,
  Tooltip,
  Legend,
  type ChartConfiguration,
} from "chart.js";
import type { EquityPoint, Schemas } from "../api";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, ScatterController, Tooltip, Legend);

export function themeColor(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim() || "#888";
}

function seconds(iso: string): UTCTimestamp {
  return Math.floor(Date.parse(iso) / 1000) as UTCTimestamp;
}

/** One point per second, as lightweight-charts needs: the last equity, the deepest drawdown. */
export function perSecond(points: EquityPoint[]): { time: UTCTimestamp; equity: number; drawdown: number }[] {
  const out: { time: UTCTimestamp; equity: number; drawdown: number }[] = [];
  for (const p of points) {
    const time = seconds(p.time);
    const last = out[out.length - 1];
    if (last && last.time >= time) {
      last.equity = Number(p.equity);
      last.drawdown = Math.max(last.drawdown, Number(p.drawdown));
    } else {
      out.push({ time, equity: Number(p.equity), drawdown: Number(p.drawdown) });
    }
  }
  return out;
}

function baseOptions(theme: string) {
  void theme;
  return {
    autoSize: true,
    layout: {
      background: { type: ColorType.Solid, color: themeColor("surface") },
      textColor: themeColor("text"),
      attributionLogo: false,
    },
    grid: { vertLines: { color: themeColor("grid") }, horzLines: { color: themeColor("grid") } },
    timeScale: { timeVisible: true, secondsVisible: false },
    rightPriceScale: { borderColor: themeColor("grid") },
  };
}

export function EquityChart({ points, theme }: { points: EquityPoint[]; theme: string }) {
  const box = useRef<HTMLDivElement>(null);
  const data = useMemo(() => perSecond(points), [points]);
  useEffect(() => {
    if (!box.current) return;
    const chart: IChartApi = createChart(box.current, baseOptions(theme));
    const equity = chart.addSeries(LineSeries, { color: themeColor("accent"), lineWidth: 2, title: "equity" });
    const drawdown = chart.addSeries(
      AreaSeries,
      { lineColor: themeColor("loss"), topColor: themeColor("loss-soft"), bottomColor: themeColor("loss"), title: "drawdown" },
      1,
    );
    equity.setData(data.map((p) => ({ time: p.time, value: p.equity })));
    drawdown.setData(data.map((p) => ({ time: p.time, value: -p.drawdown })));
    chart.timeScale().fitContent();
    return () => chart.remove();
  }, [data, theme]);
  const last = points[points.length - 1];
  return (
    <div
      ref={box}
      className="chart tall"
      role="img"
      aria-label={`Equity curve and drawdown below it, ${points.length} points${last ? `, ending at ${last.equity}` : ""}`}
      data-testid="equity-chart"
      data-points={points.length}
    />
  );
}

export function BarsChart({
  bars,
  entry,
  exit,
  theme,
}: {
  bars: Schemas["MarketBarsRow"][];
  entry: { time: string; price: string; long: boolean };
  exit: { time: string; price: string };
  theme: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current || bars.length === 0) return;
    const chart = createChart(box.current, baseOptions(theme));
    const series = chart.addSeries(CandlestickSeries, {
      upColor: themeColor("gain"),
      downColor: themeColor("loss"),
      wickUpColor: themeColor("gain"),
      wickDownColor: themeColor("loss"),
      borderVisible: false,
    });
    const data = bars.map((b) => ({ time: seconds(b.close_time), open: Number(b.open), high: Number(b.high), low: Number(b.low), close: Number(b.close) }));
    series.setData(data);
    const at = (iso: string): Time => {
      const t = seconds(iso);
      return (data.find((d) => d.time >= t) ?? data[data.length - 1])!.time;
    };
    const markers: SeriesMarker<Time>[] = [
      { time: at(entry.time), position: entry.long ? "belowBar" : "aboveBar", color: themeColor("accent"), shape: entry.long ? "arrowUp" : "arrowDown", text: `entry ${entry.price}` },
      { time: at(exit.time), position: entry.long ? "aboveBar" : "belowBar", color: themeColor("text"), shape: "circle", text: `exit ${exit.price}` },
    ];
    createSeriesMarkers(series, markers.sort((a, b) => Number(a.time) - Number(b.time)));
    chart.timeScale().fitContent();
    return () => chart.remove();
  }, [bars, entry, exit, theme]);
  if (bars.length === 0) return <p className="muted">No price bars around this trade.</p>;
  return <div ref={box} className="chart" role="img" aria-label={`Price bars around the trade, ${bars.length} bars, entry and exit marked`} />;
}

/** A Chart.js chart; ``config`` should be memoized by the caller. */
export function ChartJs({ config, label, testId }: { config: ChartConfiguration; label: string; testId?: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, config);
    return () => chart.destroy();
  }, [config]);
  return (
    <div className="chart" data-testid={testId}>
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}

export function chartDefaults(): Partial<ChartConfiguration["options"]> {
  const text = themeColor("text");
  const grid = themeColor("grid");
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { labels: { color: text } } },
    scales: {
      x: { ticks: { color: text }, grid: { color: grid } },
      y: { ticks: { color: text }, grid: { color: grid } },
    },
  };
}
