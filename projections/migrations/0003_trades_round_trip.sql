-- Trades name their round trip (flat to flat); the view gains the column at its end.
ALTER TABLE trades_v1 ADD COLUMN round_trip_id text;
CREATE INDEX trades_v1_round_trip ON trades_v1 (round_trip_id);

CREATE OR REPLACE VIEW trades AS
SELECT trade_id, account, instrument, strategy, variant, direction, quantity,
       entry_time, exit_time, entry_price, exit_price, gross_pnl, commission, net_pnl,
       mae, mfe, source, signal_id, currency, point_value, exit_name, execution_ids,
       round_trip_id
FROM trades_v1;
