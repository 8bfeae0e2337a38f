-- TradeClosed v3: fees apart from the commission, the entry's order name, why the trade closed,
-- points and ticks per contract, and how long it was held. Trades derived before v3 have these
-- null (their commission includes the fees) and exit_reason 'unknown'.
ALTER TABLE trades_v1
    ADD COLUMN fees        numeric,
    ADD COLUMN entry_name  text,
    ADD COLUMN exit_reason text NOT NULL DEFAULT 'unknown',
    ADD COLUMN points      numeric,
    ADD COLUMN ticks       numeric,
    ADD COLUMN duration    interval;
CREATE INDEX trades_v1_exit_reason ON trades_v1 (account, exit_reason, exit_time);

CREATE OR REPLACE VIEW trades AS
SELECT trade_id, account, instrument, strategy, variant, direction, quantity,
       entry_time, exit_time, entry_price, exit_price, gross_pnl, commission, net_pnl,
       mae, mfe, source, signal_id, currency, point_value, exit_name, execution_ids,
       round_trip_id, fees, entry_name, exit_reason, points, ticks, duration
FROM trades_v1;
