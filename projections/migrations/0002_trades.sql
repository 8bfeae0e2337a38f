-- Version 1 of the trades projection, and the stable `trades` view over it.
CREATE TABLE trades_v1 (
    trade_id        text          PRIMARY KEY,
    account         text          NOT NULL,
    instrument      text          NOT NULL,
    strategy        text,
    variant         text,
    signal_id       text,
    direction       text          NOT NULL,
    quantity        integer       NOT NULL,
    entry_time      timestamptz   NOT NULL,
    exit_time       timestamptz   NOT NULL,
    entry_price     numeric       NOT NULL,
    exit_price      numeric       NOT NULL,
    point_value     numeric       NOT NULL,
    currency        text          NOT NULL,
    gross_pnl       numeric       NOT NULL,
    commission      numeric       NOT NULL,
    net_pnl         numeric       NOT NULL,
    mae             numeric,
    mfe             numeric,
    exit_name       text,
    execution_ids   text[]        NOT NULL,
    source          text          NOT NULL,
    -- lineage: the derived event and the raw events it came from, and where it was read
    event_id        text          NOT NULL,
    causation_ids   text[]        NOT NULL,
    kafka_topic     text          NOT NULL,
    kafka_partition integer       NOT NULL,
    kafka_offset    bigint        NOT NULL,
    ts_ingested     timestamptz   NOT NULL,
    projected_at    timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX trades_v1_account_exit ON trades_v1 (account, exit_time);
CREATE INDEX trades_v1_strategy_exit ON trades_v1 (strategy, exit_time);
CREATE INDEX trades_v1_instrument_exit ON trades_v1 (instrument, exit_time);

CREATE VIEW trades AS
SELECT trade_id, account, instrument, strategy, variant, direction, quantity,
       entry_time, exit_time, entry_price, exit_price, gross_pnl, commission, net_pnl,
       mae, mfe, source, signal_id, currency, point_value, exit_name, execution_ids
FROM trades_v1;
