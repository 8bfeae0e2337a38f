-- Each correction of a trade: every revision after the first, beside the revision it replaced
-- (supersedes, else the one before it), with the execution correction behind it (correction_id:
-- an ExecutionCorrected or ExecutionBusted, when projected) and what changed. A voided revision
-- has no new figures: the trade no longer exists. `current` marks each trade's latest revision
-- (the one the `trades` view shows, unless voided). projected_xid: the transaction that
-- projected the revision (the experiment guard starts its tallies over after one).
CREATE VIEW trade_corrections AS
SELECT t.trade_id, t.revision, t.supersedes, t.correction_id, t.voided,
       c.kind AS correction_kind, c.execution_id AS corrected_execution_id,
       c.reason AS correction_reason, c.ts_event AS corrected_at,
       t.account, t.instrument, t.strategy, t.variant, t.signal_id, t.currency,
       p.revision AS old_revision,
       p.quantity AS old_quantity, CASE WHEN NOT t.voided THEN t.quantity END AS new_quantity,
       p.entry_price AS old_entry_price,
       CASE WHEN NOT t.voided THEN t.entry_price END AS new_entry_price,
       p.exit_price AS old_exit_price,
       CASE WHEN NOT t.voided THEN t.exit_price END AS new_exit_price,
       p.exit_time AS old_exit_time, CASE WHEN NOT t.voided THEN t.exit_time END AS new_exit_time,
       p.commission + coalesce(p.fees, 0) AS old_costs,
       CASE WHEN NOT t.voided THEN t.commission + coalesce(t.fees, 0) END AS new_costs,
       p.net_pnl AS old_net_pnl, CASE WHEN NOT t.voided THEN t.net_pnl END AS new_net_pnl,
       CASE WHEN NOT t.voided THEN t.net_pnl ELSE 0 END - coalesce(p.net_pnl, 0)
           AS net_pnl_change,
       NOT EXISTS (SELECT FROM trades_v1 later
                   WHERE later.trade_id = t.trade_id AND later.revision > 0
                     AND later.revision > t.revision) AS current,
       t.event_id, t.ts_ingested, t.projected_xid
FROM trades_v1 t
LEFT JOIN LATERAL (
    SELECT o.revision, o.quantity, o.entry_price, o.exit_price, o.exit_time, o.commission,
           o.fees, o.net_pnl
    FROM trades_v1 o
    WHERE o.trade_id = t.trade_id AND o.revision < t.revision
    ORDER BY o.event_id IS NOT DISTINCT FROM t.supersedes DESC, o.revision DESC
    LIMIT 1
) p ON true
LEFT JOIN execution_corrections_v1 c ON c.event_id = t.correction_id
WHERE t.revision > 0;
