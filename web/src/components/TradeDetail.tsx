import { useEffect, useMemo, useRef } from "react";
import { useQuery } from "@tanstack/react-query";
import { get, type TradeDetail as Detail } from "../api";
import { formatMoney, formatNumber, formatSeconds, formatTime, tone } from "../format";
import { BarsChart } from "./charts";

/** A trade's detail in a modal dialog: the bars around it with entry and exit marked, its
 * excursions, costs, signal and features, and its lineage in the log. */
export function TradeDetail({ tradeId, theme, onClose }: { tradeId: string | null; theme: string; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const detail = useQuery({
    queryKey: ["trade", tradeId],
    queryFn: () => get<Detail>("/api/trade", { trade_id: tradeId ?? "" }),
    enabled: tradeId !== null,
  });
  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (tradeId && !d.open) d.showModal();
    if (!tradeId && d.open) d.close();
  }, [tradeId]);
  const trade = detail.data?.trade;
  const entry = useMemo(() => (trade ? { time: trade.entry_time, price: trade.entry_price, long: trade.direction === "long" } : null), [trade]);
  const exit = useMemo(() => (trade ? { time: trade.exit_time, price: trade.exit_price } : null), [trade]);
  return (
    <dialog ref={dialog} className="detail" aria-labelledby="detail-title" onClose={onClose}>
      <header className="card-head">
        <h2 id="detail-title">Trade {tradeId}</h2>
        <button type="button" onClick={onClose} aria-label="Close the trade's detail">
          Close
        </button>
      </header>
      {detail.isPending && tradeId && <p>Loading…</p>}
      {detail.error && <p role="alert" className="error">{detail.error.message}</p>}
      {trade && entry && exit && detail.data && (
        <>
          <BarsChart bars={detail.data.bars} entry={entry} exit={exit} theme={theme} />
          <dl className="facts">
            <div><dt>Account</dt><dd>{trade.account}</dd></div>
            <div><dt>Instrument</dt><dd>{trade.instrument}</dd></div>
            <div><dt>Strategy / variant</dt><dd>{trade.strategy ?? "–"} / {trade.variant ?? "–"}</dd></div>
            <div><dt>Side, quantity</dt><dd>{trade.direction} {trade.quantity}</dd></div>
            <div><dt>Entry</dt><dd>{trade.entry_price} at {formatTime(trade.entry_time)}</dd></div>
            <div><dt>Exit</dt><dd>{trade.exit_price} at {formatTime(trade.exit_time)} ({trade.exit_reason ?? "unknown"})</dd></div>
            <div><dt>Held</dt><dd>{formatSeconds(trade.duration)}</dd></div>
            <div><dt>Net P&amp;L</dt><dd className={tone(trade.net_pnl)} data-value={trade.net_pnl}>{formatMoney(trade.net_pnl)} {trade.currency}</dd></div>
            <div><dt>Gross P&amp;L</dt><dd>{formatMoney(trade.gross_pnl)}</dd></div>
            <div><dt>Costs</dt><dd>commission {formatMoney(trade.commission)}, fees {formatMoney(trade.fees)}</dd></div>
            <div><dt>MAE / MFE</dt><dd>{formatMoney(trade.mae)} / {formatMoney(trade.mfe)}</dd></div>
            <div><dt>R</dt><dd>{formatNumber(trade.r_multiple, 3)} (risk {formatMoney(trade.risk)})</dd></div>
            <div><dt>Revision</dt><dd>{trade.revision}</dd></div>
          </dl>
          <h3>Signal</h3>
          {detail.data.signal ? (
            <>
              <p>
                {detail.data.signal.signal_id}: {detail.data.signal.direction}, confidence {formatNumber(detail.data.signal.confidence as number | null, 3)},
                stop {detail.data.signal.intended_stop ?? "–"}, target {detail.data.signal.intended_target ?? "–"}
              </p>
              <table>
                <caption className="sr-only">The signal's features</caption>
                <thead><tr><th scope="col">Feature</th><th scope="col">Value</th></tr></thead>
                <tbody>
                  {Object.entries(detail.data.signal.features ?? {}).map(([k, v]) => (
                    <tr key={k}><th scope="row">{k}</th><td>{JSON.stringify(v)}</td></tr>
                  ))}
                </tbody>
              </table>
            </>
          ) : (
            <p className="muted">No signal is linked to this trade.</p>
          )}
          <h3>Lineage</h3>
          <table data-testid="lineage">
            <caption className="sr-only">The executions of the trade and where the log holds them</caption>
            <thead>
              <tr><th scope="col">Execution</th><th scope="col">Side</th><th scope="col">Qty</th><th scope="col">Price</th><th scope="col">Time</th><th scope="col">Topic</th><th scope="col">Partition</th><th scope="col">Offset</th></tr>
            </thead>
            <tbody>
              {detail.data.executions.map((e) => (
                <tr key={e.event_id}>
                  <td>{e.execution_id}{e.correction ? ` (${e.correction})` : ""}</td>
                  <td>{e.side}</td>
                  <td className="num">{e.quantity}</td>
                  <td className="num">{e.price}</td>
                  <td>{formatTime(e.time)}</td>
                  <td>{e.kafka_topic}</td>
                  <td className="num">{e.kafka_partition}</td>
                  <td className="num">{e.kafka_offset}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </dialog>
  );
}
