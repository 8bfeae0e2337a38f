-- TradeClosed v4: the initial stop of the entry's signal, the risk it set and the R-multiple.
ALTER TABLE trades_v1
    ADD COLUMN initial_stop numeric,
    ADD COLUMN risk         numeric,
    ADD COLUMN r_multiple   numeric;

CREATE OR REPLACE VIEW trades AS
SELECT trade_id, account, instrument, strategy, variant, direction, quantity,
       entry_time, exit_time, entry_price, exit_price, gross_pnl, commission, net_pnl,
       mae, mfe, source, signal_id, currency, point_value, exit_name, execution_ids,
       round_trip_id, fees, entry_name, exit_reason, points, ticks, duration,
       initial_stop, risk, r_multiple
FROM trades_v1;

-- Settings the views read: written by `fillstream migrate` from the configuration.
CREATE TABLE stream_settings (
    name   text PRIMARY KEY,
    value  text NOT NULL
);
INSERT INTO stream_settings (name, value) VALUES ('excursion_period', '1 Minute');

-- Version 1 of the market projection: every closed bar (raw.market).
CREATE TABLE market_bars_v1 (
    instrument       text          NOT NULL,
    period           text          NOT NULL,
    close_time       timestamptz   NOT NULL,
    open             numeric       NOT NULL,
    high             numeric       NOT NULL,
    low              numeric       NOT NULL,
    close            numeric       NOT NULL,
    volume           bigint        NOT NULL,
    bid              numeric,
    ask              numeric,
    event_id         text          NOT NULL,
    kafka_topic      text          NOT NULL,
    kafka_partition  integer       NOT NULL,
    kafka_offset     bigint        NOT NULL,
    ts_ingested      timestamptz   NOT NULL,
    projected_at     timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (instrument, period, close_time)
);

CREATE VIEW market_bars AS
SELECT instrument, period, close_time, open, high, low, close, volume, bid, ask,
       event_id, ts_ingested
FROM market_bars_v1;

-- Version 1 of the positions projection: each position's latest PositionChanged (derived.positions).
-- A change replaces the row only when its sequence is at least the row's.
CREATE TABLE positions_v1 (
    account          text          NOT NULL,
    instrument       text          NOT NULL,
    strategy         text          NOT NULL,  -- '' when the executions named none
    sequence         bigint        NOT NULL,
    execution_id     text          NOT NULL,
    quantity         integer       NOT NULL,
    average_price    numeric,
    oldest_entry     timestamptz,
    round_trip_id    text,
    point_value      numeric       NOT NULL,
    currency         text          NOT NULL,
    open_costs       numeric       NOT NULL,
    realized_pnl     numeric       NOT NULL,
    initial_stop     numeric,
    event_id         text          NOT NULL,
    kafka_topic      text          NOT NULL,
    kafka_partition  integer       NOT NULL,
    kafka_offset     bigint        NOT NULL,
    ts_event         timestamptz   NOT NULL,
    ts_ingested      timestamptz   NOT NULL,
    projected_at     timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (account, instrument, strategy)
);
CREATE INDEX positions_v1_open ON positions_v1 (instrument) WHERE quantity <> 0;

-- Open positions, marked to the market: the last close of the excursion period's bars, and the
-- highest and lowest price of those that closed since the oldest open lot's entry.
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
    FROM market_bars_v1 b
    WHERE b.instrument = p.instrument
      AND b.period = (SELECT value FROM stream_settings WHERE name = 'excursion_period')
    ORDER BY b.close_time DESC
    LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT max(b.high) AS high, min(b.low) AS low
    FROM market_bars_v1 b
    WHERE b.instrument = p.instrument
      AND b.period = (SELECT value FROM stream_settings WHERE name = 'excursion_period')
      AND b.close_time > p.oldest_entry
) since ON true
WHERE p.quantity <> 0;
