-- The large projections are partitioned by month (UTC) of their time column: trades by
-- exit_time, executions by time, market_bars by close_time. A partition is named
-- <table>_<YYYYMM>; the projector creates each month's when its first row comes, and
-- `fillstream projections archive` moves old ones out to files and back. A partitioned table's
-- primary key must hold the partition column, so trades are unique by (trade_id, exit_time) and
-- executions by (account, execution_id, time): a trade's or an execution's time never changes.
-- (Those keys lead with trade_id and with account and execution_id, so they serve lookups by
-- those alone.)
CREATE FUNCTION pg_temp.month_partitions(parent text, plain text, col text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m date;
BEGIN
    FOR m IN EXECUTE format(
        'SELECT DISTINCT date_trunc(''month'', %I AT TIME ZONE ''UTC'')::date FROM %I', col, plain)
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
            parent || '_' || to_char(m, 'YYYYMM'), parent,
            m::timestamp AT TIME ZONE 'UTC', (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
    END LOOP;
    EXECUTE format('INSERT INTO %I SELECT * FROM %I', parent, plain);
END
$$;

-- trades
ALTER TABLE trades_v1 RENAME TO trades_v1_plain;
ALTER TABLE trades_v1_plain DROP CONSTRAINT trades_v1_pkey;
DROP INDEX trades_v1_account_exit, trades_v1_strategy_exit, trades_v1_instrument_exit,
    trades_v1_round_trip, trades_v1_exit_reason;
CREATE TABLE trades_v1 (LIKE trades_v1_plain INCLUDING DEFAULTS)
    PARTITION BY RANGE (exit_time);
SELECT pg_temp.month_partitions('trades_v1', 'trades_v1_plain', 'exit_time');
ALTER TABLE trades_v1 ADD CONSTRAINT trades_v1_pkey PRIMARY KEY (trade_id, exit_time);
CREATE INDEX trades_v1_account_exit ON trades_v1 (account, exit_time);
CREATE INDEX trades_v1_strategy_exit ON trades_v1 (strategy, exit_time);
CREATE INDEX trades_v1_instrument_exit ON trades_v1 (instrument, exit_time);
CREATE INDEX trades_v1_round_trip ON trades_v1 (round_trip_id);
CREATE INDEX trades_v1_exit_reason ON trades_v1 (account, exit_reason, exit_time);
CREATE OR REPLACE VIEW trades AS
SELECT trade_id, account, instrument, strategy, variant, direction, quantity,
       entry_time, exit_time, entry_price, exit_price, gross_pnl, commission, net_pnl,
       mae, mfe, source, signal_id, currency, point_value, exit_name, execution_ids,
       round_trip_id, fees, entry_name, exit_reason, points, ticks, duration,
       initial_stop, risk, r_multiple
FROM trades_v1;
DROP TABLE trades_v1_plain;

-- executions
ALTER TABLE executions_v1 RENAME TO executions_v1_plain;
ALTER TABLE executions_v1_plain DROP CONSTRAINT executions_v1_pkey;
DROP INDEX executions_v1_account_time, executions_v1_instrument_time,
    executions_v1_strategy_time, executions_v1_order;
CREATE TABLE executions_v1 (LIKE executions_v1_plain INCLUDING DEFAULTS)
    PARTITION BY RANGE (time);
SELECT pg_temp.month_partitions('executions_v1', 'executions_v1_plain', 'time');
ALTER TABLE executions_v1 ADD CONSTRAINT executions_v1_pkey
    PRIMARY KEY (account, execution_id, time);
CREATE INDEX executions_v1_account_time ON executions_v1 (account, time);
CREATE INDEX executions_v1_instrument_time ON executions_v1 (instrument, time);
CREATE INDEX executions_v1_strategy_time ON executions_v1 (strategy, time);
CREATE INDEX executions_v1_order ON executions_v1 (account, order_id);
CREATE OR REPLACE VIEW executions AS
SELECT account, execution_id, instrument, side, quantity, price, commission, fees, order_id,
       order_name, position_effect, strategy, variant, signal_id, nt_trade_id, time, source,
       producer, event_id, kafka_topic, kafka_partition, kafka_offset, ts_ingested
FROM executions_v1;
DROP TABLE executions_v1_plain;

-- market bars (the positions view reads them through the market_bars view)
ALTER TABLE market_bars_v1 RENAME TO market_bars_v1_plain;
ALTER TABLE market_bars_v1_plain DROP CONSTRAINT market_bars_v1_pkey;
CREATE TABLE market_bars_v1 (LIKE market_bars_v1_plain INCLUDING DEFAULTS)
    PARTITION BY RANGE (close_time);
SELECT pg_temp.month_partitions('market_bars_v1', 'market_bars_v1_plain', 'close_time');
ALTER TABLE market_bars_v1 ADD CONSTRAINT market_bars_v1_pkey
    PRIMARY KEY (instrument, period, close_time);
CREATE OR REPLACE VIEW market_bars AS
SELECT instrument, period, close_time, open, high, low, close, volume, bid, ask,
       event_id, ts_ingested
FROM market_bars_v1;
DROP TABLE market_bars_v1_plain;

-- Months moved out of their tables by `fillstream projections archive`, and where to.
CREATE TABLE projection_archive (
    projection   text        NOT NULL,
    version      integer     NOT NULL,
    month        date        NOT NULL,
    path         text        NOT NULL,
    rows         bigint      NOT NULL,
    archived_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, version, month)
);
