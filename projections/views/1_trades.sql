-- The trades projection's view, over its live version's table (written as version 1's here;
-- `fillstream migrate` and a switch point it at the live one). One row per trade: its latest
-- revision, unless that one voided it (a correction left no such trade); `trade_corrections`
-- shows the revisions it replaced.
CREATE VIEW trades AS
SELECT trade_id, account, instrument, strategy, variant, direction, quantity,
       entry_time, exit_time, entry_price, exit_price, gross_pnl, commission, net_pnl,
       mae, mfe, source, signal_id, currency, point_value, exit_name, execution_ids,
       round_trip_id, fees, entry_name, exit_reason, points, ticks, duration,
       initial_stop, risk, r_multiple, projected_xid, revision, etd
FROM trades_v1 t
WHERE NOT t.voided
  AND NOT EXISTS (SELECT FROM trades_v1 later
                  WHERE later.trade_id = t.trade_id AND later.revision > 0
                    AND later.revision > t.revision);
