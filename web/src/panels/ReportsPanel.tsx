// The scheduled reports: each daily summary and weekly review the notifier made, with its
// headline figures as it sent them, how each channel's delivery went, and the report itself
// (the page the notifier rendered, from the same figures the CLI's reports have).
import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { get, type Schemas } from "../api";
import { formatTime } from "../format";

export type Report = Schemas["Report"];
type Delivery = Report["deliveries"][number];
type Kind = "" | "daily" | "weekly";

const HEADLINE = ["Trades", "Net P&L", "Win rate", "Alerts"];

/** How a delivery went, in words and tone. */
export function deliveryText(d: Delivery): { text: string; tone: "gain" | "loss" | "flat" } {
  switch (d.outcome) {
    case "delivered":
      return { text: d.late ? "delivered late" : "delivered", tone: d.late ? "flat" : "gain" };
    case "failed":
      return { text: "failed, retried", tone: "loss" };
    case "skipped":
      return { text: "skipped (too old)", tone: "flat" };
    default:
      return { text: "sending", tone: "flat" };
  }
}

export function ReportsPanel() {
  const [kind, setKind] = useState<Kind>("");
  const [open, setOpen] = useState<Report | null>(null);
  const reports = useQuery({
    queryKey: ["reports", kind],
    queryFn: () => get<{ items: Report[] }>("/api/reports", { kind: kind || undefined, limit: 120 }),
    refetchInterval: 60_000,
  });
  const items = reports.data?.items ?? [];
  return (
    <div className="panel" data-testid="reports">
      <div className="grid">
        <section className="card wide" aria-labelledby="reports-title">
          <div className="card-head">
            <h3 id="reports-title">Scheduled reports</h3>
            <label>
              Kind{" "}
              <select value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
                <option value="">daily and weekly</option>
                <option value="daily">daily summaries</option>
                <option value="weekly">weekly reviews</option>
              </select>
            </label>
          </div>
          {reports.error && <p role="alert" className="error">{reports.error.message}</p>}
          {reports.isSuccess && items.length === 0 && (
            <p data-testid="no-reports">
              No report was sent yet. The notifier sends them to the channels the rules file's <code>[reports]</code> names;{" "}
              <code>fillstream report daily</code> writes one by hand.
            </p>
          )}
          {items.length > 0 && (
            <table data-testid="report-list">
              <thead>
                <tr>
                  <th scope="col">Report</th>
                  {HEADLINE.map((h) => (
                    <th scope="col" key={h} className="num">{h}</th>
                  ))}
                  <th scope="col">Deliveries</th>
                  <th scope="col">Made</th>
                  <th scope="col"><span className="sr-only">Open</span></th>
                </tr>
              </thead>
              <tbody>
                {items.map((r) => (
                  <tr key={`${r.kind}|${r.first}`} data-report={`${r.kind}|${r.first}`} aria-selected={open?.kind === r.kind && open.first === r.first}>
                    <th scope="row">{r.title}</th>
                    {HEADLINE.map((h) => (
                      <td key={h} className="num" data-figure={h} data-value={r.headline[h] ?? ""}>{r.headline[h] ?? "–"}</td>
                    ))}
                    <td>
                      {r.deliveries.length === 0 && "–"}
                      {r.deliveries.map((d) => {
                        const shown = deliveryText(d);
                        return (
                          <span key={d.channel} className={`delivery ${shown.tone}`} data-channel={d.channel} data-outcome={d.outcome}>
                            {d.channel}: {shown.text}
                          </span>
                        );
                      })}
                    </td>
                    <td>{formatTime(r.rendered_at)}</td>
                    <td>
                      <button type="button" onClick={() => setOpen(r)} aria-label={`Open ${r.title}`}>Open</button>{" "}
                      <a href={r.pdf} target="_blank" rel="noreferrer" aria-label={`${r.title} as PDF`}>PDF</a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        {open && (
          <section className="card wide" aria-labelledby="report-title">
            <div className="card-head">
              <h3 id="report-title">{open.title}</h3>
              <a href={open.page} target="_blank" rel="noreferrer">Open in a tab</a>
              <button type="button" onClick={() => setOpen(null)}>Close</button>
            </div>
            <iframe className="report" title={open.title} src={open.page} sandbox="" data-testid="report-frame" />
          </section>
        )}
      </div>
    </div>
  );
}
