-- The trades projection's view, over its live version's table (written as version 1's here;
-- `fillstream migrate` and a switch point it at the live one).
CREATE VIEW trades AS
SELECT trade_id, account, instrument, strategy, variant, direction, quantity,
       entry_time, exit_time, entry_price, exit_price, gross_pnl, commission, net_pnl,
       mae, mfe, source, signal_id, currency, point_value, exit_name, execution_ids,
       round_trip_id, fees, entry_name, exit_reason, points, ticks, duration,
       initial_stop, risk, r_multiple, projected_xid
FROM trades_v1;
