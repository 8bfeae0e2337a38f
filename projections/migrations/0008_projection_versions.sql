-- The versions of each projection: which one its view serves (live), which are kept beside it,
-- being built, or frozen "as known at" a moment. A version number is never reused: a dropped
-- version keeps its row (state 'dropped').
CREATE TABLE projection_versions (
    projection   text        NOT NULL,
    version      integer     NOT NULL,
    state        text        NOT NULL
        CHECK (state IN ('live', 'kept', 'built', 'building', 'as_of', 'scratch', 'dropped')),
    until        timestamptz,          -- as_of versions: only records logged up to this moment
    created_at   timestamptz NOT NULL DEFAULT now(),
    switched_at  timestamptz,          -- when its view last switched to it
    PRIMARY KEY (projection, version)
);
CREATE UNIQUE INDEX projection_versions_one_live ON projection_versions (projection)
    WHERE state = 'live';

-- Each projection's version 1 is registered live by `fillstream migrate` (from the code's list).

-- The positions view marks positions to the market through the market_bars view, not its
-- version 1 table, so either projection can switch versions without the other.
CREATE OR REPLACE VIEW positions AS
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
