// The pre-trade gate: per rule, what the signals it failed made (paper, when denied) beside what
// those it passed made (/api/gate-report, the figures of `fillstream gate report`), and the
// latest decisions with the rules that failed.
import { useQuery } from "@tanstack/react-query";
import { get, type Decision, type Filters, type GateGroup, type GateRuleValue, type Page } from "../api";
import { formatMoney, formatTime, tone } from "../format";

const cash = (n: number) => formatMoney(String(n));

function mean(group: GateGroup): string {
  if (group.mean === null) return "–";
  const interval = group.ci_low === null || group.ci_high === null ? "" : ` (${cash(group.ci_low)} to ${cash(group.ci_high)})`;
  return `${cash(group.mean)}${interval}`;
}

export function RuleRow({ value }: { value: GateRuleValue }) {
  const d = value.difference;
  return (
    <tr>
      <th scope="row">{value.rule}</th>
      <td>{value.mode}</td>
      <td className="num">{value.failed.with_outcome}/{value.failed.signals}</td>
      <td className={`num ${tone(value.failed.mean)}`}>{mean(value.failed)}</td>
      <td className="num">{value.passed.with_outcome}/{value.passed.signals}</td>
      <td className={`num ${tone(value.passed.mean)}`}>{mean(value.passed)}</td>
      <td className={`num ${tone(d === null ? null : -d.mean)}`} data-testid={`gate-difference-${value.rule}`}>
        {d === null ? "–" : `${cash(d.mean)} (${cash(d.ci_low)} to ${cash(d.ci_high)})`}
      </td>
    </tr>
  );
}

export function Gate({ filters }: { filters: Filters }) {
  const scope = { account: filters.account, strategy: filters.strategy };
  const report = useQuery({ queryKey: ["gate-report", scope], queryFn: () => get<{ items: GateRuleValue[] }>("/api/gate-report", scope) });
  const decisions = useQuery({ queryKey: ["decisions", scope], queryFn: () => get<Page<Decision>>("/api/decisions", { ...scope, limit: 20 }) });
  const rows = report.data?.items ?? [];
  return (
    <section className="card wide" aria-labelledby="gate-title" data-testid="gate">
      <h3 id="gate-title">Pre-trade gate</h3>
      {rows.length === 0 ? (
        <p className="muted">No decision yet: strategies ask the gate with FillstreamGate.Decide.</p>
      ) : (
        <table className="compact">
          <caption>Net P&amp;L a signal: those a rule failed (paper trades, when denied) beside those it passed, with 95 % intervals; a rule helps where failed − passed stays below 0.</caption>
          <thead>
            <tr>
              <th scope="col">Rule</th><th scope="col">Mode</th>
              <th scope="col" className="num">Failed</th><th scope="col" className="num">Failed: mean</th>
              <th scope="col" className="num">Passed</th><th scope="col" className="num">Passed: mean</th>
              <th scope="col" className="num">Failed − passed</th>
            </tr>
          </thead>
          <tbody>{rows.map((value) => <RuleRow key={value.rule} value={value} />)}</tbody>
        </table>
      )}
      <h4>Latest decisions</h4>
      <table className="compact">
        <thead><tr><th scope="col">Decided</th><th scope="col">Signal</th><th scope="col">Strategy</th><th scope="col">Decision</th><th scope="col" className="num">Quantity</th><th scope="col">Failed rules</th></tr></thead>
        <tbody>
          {(decisions.data?.items ?? []).map((d) => (
            <tr key={d.decision_id}>
              <td>{formatTime(d.decided_at)}</td>
              <th scope="row">{d.signal_id}</th>
              <td>{d.strategy}</td>
              <td className={d.decision === "allow" ? "gain" : "loss"}>{d.decision}{d.halt_id ? " (halted)" : ""}</td>
              <td className="num">{d.quantity}</td>
              <td>{d.rules.filter((r) => r.verdict === "fail").map((r) => `${r.rule}${r.mode === "observe" ? " (observed)" : ""}`).join(", ") || "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
