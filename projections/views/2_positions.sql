-- The positions projection's view: open positions, marked to the market (the last close of the
-- excursion period's bars, and the highest and lowest price of those that closed since the
-- oldest open lot's entry). It reads its live version's table (written as version 1's here;
-- `fillstream migrate` and a switch point it at the live one) and the bars through the
-- market_bars view, so either projection can switch versions without the other.
CREATE VIEW positions AS
SELECT p.account, NULLIF(p.strategy, '') AS strategy, p.instrument,
       p.quantity, p.average_price, p.oldest_entry AS opened_at, p.round_trip_id,
       p.initial_stop, p.currency, p.open_costs, p.realized_pnl,
       last.close AS last_price, last.close_time AS marked_at,
       (last.close - p.average_price) * p.quantity * p.point_value AS unrealized_pnl,
       CASE WHEN p.quantity > 0
            THEN GREATEST(p.average_price - since.low, 0)
            ELSE GREATEST(since.high - p.average_price, 0)
       END * abs(p.quantity) * p.point_value AS mae,
       CASE WHEN p.quantity > 0
            THEN GREATEST(since.high - p.average_price, 0)
            ELSE GREATEST(p.average_price - since.low, 0)
       END * abs(p.quantity) * p.point_value AS mfe,
       p.sequence, p.execution_id, p.ts_event AS changed_at
FROM positions_v1 p
LEFT JOIN LATERAL (
    SELECT b.close, b.close_time
    FROM market_bars b
    WHERE b.instrument = p.instrument
      AND b.period = (SELECT value FROM stream_settings WHERE name = 'excursion_period')
    ORDER BY b.close_time DESC
    LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT max(b.high) AS high, min(b.low) AS low
    FROM market_bars b
    WHERE b.instrument = p.instrument
      AND b.period = (SELECT value FROM stream_settings WHERE name = 'excursion_period')
      AND b.close_time > p.oldest_entry
) since ON true
WHERE p.quantity <> 0;
