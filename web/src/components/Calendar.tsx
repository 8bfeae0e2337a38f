import type { Day } from "../api";
import { formatMoney } from "../format";

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri"];

/** The colour of a day: green for a gain, red for a loss, deeper for a larger one. */
export function shade(net: number, largest: number): { tone: "gain" | "loss" | "flat"; strength: number } {
  if (net === 0 || largest === 0) return { tone: "flat", strength: 0 };
  const strength = Math.min(1, Math.abs(net) / largest);
  return { tone: net > 0 ? "gain" : "loss", strength: Math.round((0.25 + 0.75 * strength) * 100) / 100 };
}

function weekdayIndex(day: string): number {
  return (new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7; // Monday 0
}

/** Net P&L per trading day, a month at a time, weekdays in columns. A day is a button: it
 * filters the trades to that day. */
export function Calendar({ days, selected, onSelect }: { days: Day[]; selected: string | null; onSelect: (day: string | null) => void }) {
  const largest = Math.max(0, ...days.map((d) => Math.abs(Number(d.net_pnl))));
  const months = new Map<string, Day[]>();
  for (const d of days) {
    const month = d.day.slice(0, 7);
    months.set(month, [...(months.get(month) ?? []), d]);
  }
  const shown = [...months.entries()].slice(-6);
  return (
    <div className="calendar" data-testid="calendar">
      {shown.map(([month, inMonth]) => {
        const first = weekdayIndex(`${month}-01`);
        const lead = first < 5 ? first : 0;
        return (
          <figure key={month} className="month">
            <figcaption>{month}</figcaption>
            <div className="month-grid" role="group" aria-label={`Trading days of ${month}`}>
              {WEEKDAYS.map((w) => (
                <span key={w} className="weekday" aria-hidden="true">{w}</span>
              ))}
              {Array.from({ length: lead }, (_, i) => <span key={`lead-${i}`} aria-hidden="true" />)}
              {(() => {
                const cells = [];
                const byDay = new Map(inMonth.map((d) => [d.day, d]));
                const [y, m] = month.split("-").map(Number) as [number, number];
                const length = new Date(Date.UTC(y, m, 0)).getUTCDate();
                for (let n = 1; n <= length; n++) {
                  const day = `${month}-${String(n).padStart(2, "0")}`;
                  const index = weekdayIndex(day);
                  if (index > 4) continue;
                  const found = byDay.get(day);
                  if (!found) {
                    cells.push(<span key={day} className="day empty" aria-hidden="true">{n}</span>);
                    continue;
                  }
                  const net = Number(found.net_pnl);
                  const look = shade(net, largest);
                  cells.push(
                    <button
                      key={day}
                      type="button"
                      className={`day ${look.tone}${selected === day ? " selected" : ""}`}
                      style={{ ["--strength" as string]: look.strength }}
                      aria-pressed={selected === day}
                      aria-label={`${day}: ${formatMoney(found.net_pnl)} over ${found.trades} trades`}
                      data-day={day}
                      data-value={found.net_pnl}
                      onClick={() => onSelect(selected === day ? null : day)}
                    >
                      <span className="n">{n}</span>
                      <span className="v">{formatMoney(found.net_pnl)}</span>
                    </button>,
                  );
                }
                return cells;
              })()}
            </div>
          </figure>
        );
      })}
      {days.length === 0 && <p className="muted">No closed trades yet.</p>}
    </div>
  );
}
