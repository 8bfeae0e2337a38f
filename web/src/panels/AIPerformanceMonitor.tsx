import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { get, post, type ActiveAlert, type Alert, type Page, type Pipeline, type Service, type Silence, type Uptime, type UptimeMonth } from "../api";
import { formatNumber, formatPercent, formatTime } from "../format";
import type { ConfirmRequest } from "../components/Confirm";

const TARGET = 0.995;
const CHECK_SECONDS = 30_000;
const DURATIONS: { seconds: number; label: string }[] = [
  { seconds: 3600, label: "1 hour" },
  { seconds: 4 * 3600, label: "4 hours" },
  { seconds: 86_400, label: "1 day" },
  { seconds: 7 * 86_400, label: "1 week" },
];

function health(s: Service): { text: string; tone: "gain" | "loss" | "flat" } {
  if (s.checks["running"] === false) return { text: "stopped", tone: "flat" };
  if (s.silent) return { text: "silent", tone: "loss" };
  return s.healthy ? { text: "healthy", tone: "gain" } : { text: "unhealthy", tone: "loss" };
}

const ERRORS: Record<string, string> = {
  bridge: "bridge: events rejected",
  worker: "worker: dead letters",
  projector: "projector: dead letters",
  notifier: "notifier: failed deliveries",
  api: "read API: answers 503",
};

/** What a process's health figure counts, in words. */
export function figureName(service: string, name: string): string {
  if (name === "errors_total") return ERRORS[service] ?? `${service}: errors`;
  if (name === "spool_records") return `${service}: records in the spool`;
  const [figure, connection] = name.split("|");
  if (figure === "feed_age_seconds") return `${service}: seconds since ${connection ?? "the feed"} last sent`;
  return `${service}: ${name.replaceAll("_", " ")}`;
}

/** The checks that fail, by name, or that all of them pass. */
export function checksText(checks: Record<string, unknown>): string {
  const entries = Object.entries(checks);
  const failing = entries.filter(([, v]) => v === false).map(([k]) => k);
  if (failing.length === 0) return `all ${entries.length} pass`;
  return `${failing.length} of ${entries.length} fail: ${failing.join(", ")}`;
}

function Availability({ value }: { value: string | null }) {
  if (value === null) return <>–</>;
  const ok = Number(value) >= TARGET;
  return <span className={ok ? "gain" : "loss"} data-value={value}>{formatPercent(value, 3)}{ok ? "" : " (below 99.5 %)"}</span>;
}

export function AIPerformanceMonitor({ confirm }: { confirm: (r: ConfirmRequest) => void }) {
  const client = useQueryClient();
  const services = useQuery({ queryKey: ["services"], queryFn: () => get<{ items: Service[] }>("/api/services"), refetchInterval: CHECK_SECONDS });
  const daily = useQuery({ queryKey: ["uptime", "daily"], queryFn: () => get<Page<Uptime>>("/api/uptime_daily", { limit: 200 }), refetchInterval: CHECK_SECONDS });
  const monthly = useQuery({ queryKey: ["uptime", "monthly"], queryFn: () => get<Page<UptimeMonth>>("/api/uptime_monthly", { limit: 100 }), refetchInterval: CHECK_SECONDS });
  const pipeline = useQuery({ queryKey: ["pipeline"], queryFn: () => get<Pipeline>("/api/pipeline"), refetchInterval: 10_000 });
  const active = useQuery({ queryKey: ["alerts-active"], queryFn: () => get<Page<ActiveAlert>>("/api/alerts_active", { limit: 200 }) });
  const recent = useQuery({ queryKey: ["alerts"], queryFn: () => get<Page<Alert>>("/api/alerts", { limit: 50 }) });
  const silences = useQuery({ queryKey: ["silences"], queryFn: () => get<{ items: Silence[] }>("/api/silences"), refetchInterval: 30_000 });
  const [duration, setDuration] = useState(3600);

  const latestDay = daily.data?.items[0]?.day;
  const today = (daily.data?.items ?? []).filter((u) => u.day === latestDay);
  const latestMonth = monthly.data?.items[0]?.month;
  const month = (monthly.data?.items ?? []).filter((u) => u.month === latestMonth);
  const pipelineMonth = month.length ? month.reduce((low, u) => (u.availability !== null && Number(u.availability) < Number(low) ? u.availability : low), "1") : null;
  const figures = (services.data?.items ?? []).flatMap((s) => Object.entries(s.figures).map(([k, v]) => ({ service: s.service, instance: s.instance, name: k, value: v })));
  const spool = figures.filter((f) => f.service === "bridge");

  const silence = (a: ActiveAlert) => {
    const matchers = { rule: a.rule, ...((a.labels ?? {}) as Record<string, string>) };
    confirm({
      title: `Silence ${a.rule}?`,
      body: (
        <>
          <p>Alerts matching {Object.entries(matchers).map(([k, v]) => `${k}=${v}`).join(" ")} are held back for {DURATIONS.find((d) => d.seconds === duration)?.label}.</p>
          <p>Recorded as <code>fillstream alerts silence</code> records it, by <strong>dashboard</strong>.</p>
        </>
      ),
      action: "Silence",
      reason: true,
      run: (comment) =>
        post("/api/silences", { matchers, seconds: duration, comment }).then(() => client.invalidateQueries({ queryKey: ["silences"] })),
    });
  };
  const unsilence = (s: Silence) =>
    confirm({
      title: `End silence ${s.id}?`,
      body: <p>Alerts matching it are delivered again.</p>,
      action: "End it",
      run: () => post(`/api/silences/${encodeURIComponent(s.id)}/end`, {}).then(() => client.invalidateQueries({ queryKey: ["silences"] })),
    });

  return (
    <div className="panel" data-testid="monitor">
      <div className="grid">
        <section className="card wide" aria-labelledby="services-title">
          <h3 id="services-title">Services</h3>
          {services.error && <p role="alert" className="error">{services.error.message}</p>}
          <table data-testid="services">
            <thead><tr><th scope="col">Service</th><th scope="col">Instance</th><th scope="col">State</th><th scope="col">Checks</th><th scope="col">Last check</th><th scope="col">Up since</th></tr></thead>
            <tbody>
              {(services.data?.items ?? []).map((s) => {
                const h = health(s);
                return (
                  <tr key={`${s.service}|${s.instance}`} data-service={s.service}>
                    <th scope="row">{s.service}</th>
                    <td>{s.instance}</td>
                    <td className={h.tone}>{h.text}</td>
                    <td>{checksText(s.checks)}</td>
                    <td>{formatTime(s.ts_event)}</td>
                    <td>{formatTime(s.started_at)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
        <section className="card" aria-labelledby="uptime-title">
          <h3 id="uptime-title">Uptime against 99.5 %</h3>
          <p data-testid="pipeline-uptime">
            The pipeline this month (its least available process): <Availability value={pipelineMonth} />
          </p>
          <table>
            <thead><tr><th scope="col">Service</th><th scope="col" className="num">Today ({latestDay ?? "–"})</th><th scope="col" className="num">Month ({latestMonth?.slice(0, 7) ?? "–"})</th></tr></thead>
            <tbody>
              {month.map((m) => (
                <tr key={`${m.service}|${m.instance}`}>
                  <th scope="row">{m.service} <span className="muted">{m.instance}</span></th>
                  <td className="num"><Availability value={today.find((d) => d.service === m.service && d.instance === m.instance)?.availability ?? null} /></td>
                  <td className="num"><Availability value={m.availability} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="card" aria-labelledby="lag-title">
          <h3 id="lag-title">Consumer lag per stage</h3>
          <table data-testid="lag">
            <thead><tr><th scope="col">Group</th><th scope="col">State</th><th scope="col" className="num">Members</th><th scope="col" className="num">Lag</th></tr></thead>
            <tbody>
              {(pipeline.data?.groups ?? []).map((g) => (
                <tr key={g.group}><th scope="row">{g.group}</th><td>{g.state}</td><td className="num">{g.members}</td><td className={`num ${g.lag > 0 ? "loss" : ""}`}>{g.lag}</td></tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="card" aria-labelledby="latency-title">
          <h3 id="latency-title">Event to projection</h3>
          <table>
            <caption className="sr-only">From the bridge recording an event to its row committed, per projection (upper bounds of the histogram's buckets)</caption>
            <thead><tr><th scope="col">Projection</th><th scope="col" className="num">Rows</th><th scope="col" className="num">p50 ≤</th><th scope="col" className="num">p99 ≤</th></tr></thead>
            <tbody>
              {(pipeline.data?.latency ?? []).map((l) => (
                <tr key={l.projection}><th scope="row">{l.projection}</th><td className="num">{l.count}</td><td className="num">{l.p50} s</td><td className="num">{l.p99} s</td></tr>
              ))}
            </tbody>
          </table>
          {pipeline.data?.latency.length === 0 && <p className="muted">The projector has projected nothing since it started.</p>}
        </section>
        <section className="card" aria-labelledby="bridge-title">
          <h3 id="bridge-title">Spool, dead letters and errors</h3>
          <dl className="facts" data-testid="errors">
            {spool.map((f) => (
              <div key={`${f.instance}|${f.name}`}><dt>{figureName(f.service, f.name)}</dt><dd>{formatNumber(f.value as number)}</dd></div>
            ))}
            {figures.filter((f) => f.name === "errors_total" && f.service !== "bridge").map((f) => (
              <div key={`${f.service}|${f.instance}`}><dt>{figureName(f.service, f.name)}</dt><dd>{formatNumber(f.value as number)}</dd></div>
            ))}
          </dl>
        </section>
        <section className="card wide" aria-labelledby="alerts-title">
          <header className="card-head">
            <h3 id="alerts-title">Alerts</h3>
            <label>
              Silence for{" "}
              <select value={duration} onChange={(e) => setDuration(Number(e.target.value))}>
                {DURATIONS.map((d) => <option key={d.seconds} value={d.seconds}>{d.label}</option>)}
              </select>
            </label>
          </header>
          <table data-testid="alerts-active">
            <caption>Active</caption>
            <thead><tr><th scope="col">Rule</th><th scope="col">Key</th><th scope="col">Severity</th><th scope="col">Raised</th><th scope="col">Summary</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {(active.data?.items ?? []).map((a) => (
                <tr key={`${a.rule}|${a.key}`} data-rule={a.rule}>
                  <th scope="row">{a.rule}</th><td>{a.key}</td><td className={a.severity === "critical" ? "loss" : ""}>{a.severity ?? "–"}</td><td>{formatTime(a.raised_at)}</td><td>{a.summary}</td>
                  <td><button type="button" onClick={() => silence(a)} aria-label={`Silence ${a.rule} ${a.key}`}>Silence</button></td>
                </tr>
              ))}
              {active.data?.items.length === 0 && <tr><td colSpan={6} className="muted">No alert holds.</td></tr>}
            </tbody>
          </table>
          <table data-testid="silences">
            <caption>Silences in force</caption>
            <thead><tr><th scope="col">Id</th><th scope="col">Matches</th><th scope="col">Until</th><th scope="col">By</th><th scope="col">Comment</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {(silences.data?.items ?? []).map((s) => (
                <tr key={s.id} data-silence={s.id}>
                  <th scope="row">{s.id}</th><td>{Object.entries(s.matchers).map(([k, v]) => `${k}=${v}`).join(" ")}</td><td>{formatTime(s.ends_at)}</td><td>{s.created_by}</td><td>{s.comment}</td>
                  <td><button type="button" onClick={() => unsilence(s)} aria-label={`End silence ${s.id}`}>End</button></td>
                </tr>
              ))}
            </tbody>
          </table>
          <table className="compact">
            <caption>Recent</caption>
            <thead><tr><th scope="col">When</th><th scope="col">Rule</th><th scope="col">State</th><th scope="col">Summary</th></tr></thead>
            <tbody>
              {(recent.data?.items ?? []).map((a) => (
                <tr key={a.event_id}><td>{formatTime(a.ts_event)}</td><th scope="row">{a.rule}</th><td className={a.state === "raised" ? "loss" : "gain"}>{a.state}</td><td>{a.summary}</td></tr>
              ))}
            </tbody>
          </table>
        </section>
        <section className="card" aria-labelledby="success-title">
          <h3 id="success-title">Success metrics</h3>
          <ul>
            <li>System uptime &gt; 99.5 %: <Availability value={pipelineMonth} /></li>
            <li>Zero critical failures: {(active.data?.items ?? []).filter((a) => a.severity === "critical").length} critical alerts hold now</li>
            <li className="muted">Alert response, data accuracy and the trading metrics against a baseline come with the reports.</li>
          </ul>
        </section>
      </div>
    </div>
  );
}
