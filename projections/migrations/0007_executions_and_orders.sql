-- Version 1 of the executions projection: every ExecutionReported (raw.executions), once per
-- account and execution id (a redelivery is left alone).
CREATE TABLE executions_v1 (
    account          text          NOT NULL,
    execution_id     text          NOT NULL,
    instrument       text          NOT NULL,
    side             text          NOT NULL,
    quantity         integer       NOT NULL,
    price            numeric       NOT NULL,
    commission       numeric       NOT NULL,
    fees             numeric       NOT NULL,
    order_id         text,
    order_name       text,
    position_effect  text          NOT NULL,
    strategy         text,
    variant          text,
    signal_id        text,
    nt_trade_id      text,
    time             timestamptz   NOT NULL,
    source           text          NOT NULL,
    producer         text          NOT NULL,
    -- lineage: the raw event and where it was read
    event_id         text          NOT NULL,
    kafka_topic      text          NOT NULL,
    kafka_partition  integer       NOT NULL,
    kafka_offset     bigint        NOT NULL,
    ts_ingested      timestamptz   NOT NULL,
    projected_at     timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (account, execution_id)
);
CREATE INDEX executions_v1_account_time ON executions_v1 (account, time);
CREATE INDEX executions_v1_instrument_time ON executions_v1 (instrument, time);
CREATE INDEX executions_v1_strategy_time ON executions_v1 (strategy, time);
CREATE INDEX executions_v1_order ON executions_v1 (account, order_id);

CREATE VIEW executions AS
SELECT account, execution_id, instrument, side, quantity, price, commission, fees, order_id,
       order_name, position_effect, strategy, variant, signal_id, nt_trade_id, time, source,
       producer, event_id, kafka_topic, kafka_partition, kafka_offset, ts_ingested
FROM executions_v1;

-- Version 1 of the orders projection: each order's latest state (raw.orders). An update
-- replaces the row only when its event time is at least the row's, so a late older one does not.
CREATE TABLE orders_v1 (
    account             text          NOT NULL,
    order_id            text          NOT NULL,
    instrument          text          NOT NULL,
    side                text          NOT NULL,
    order_type          text          NOT NULL,
    state               text          NOT NULL,
    quantity            integer       NOT NULL,
    filled              integer       NOT NULL,
    limit_price         numeric,
    stop_price          numeric,
    average_fill_price  numeric,
    order_name          text,
    strategy            text,
    error               text,
    updated             timestamptz   NOT NULL,
    source              text          NOT NULL,
    event_id            text          NOT NULL,
    kafka_topic         text          NOT NULL,
    kafka_partition     integer       NOT NULL,
    kafka_offset        bigint        NOT NULL,
    ts_ingested         timestamptz   NOT NULL,
    projected_at        timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (account, order_id)
);
CREATE INDEX orders_v1_account_updated ON orders_v1 (account, updated);
CREATE INDEX orders_v1_instrument_updated ON orders_v1 (instrument, updated);
CREATE INDEX orders_v1_strategy_updated ON orders_v1 (strategy, updated);
CREATE INDEX orders_v1_working ON orders_v1 (account, instrument)
    WHERE state IN ('initialized', 'submitted', 'accepted', 'trigger_pending', 'working',
                    'change_pending', 'change_submitted', 'cancel_pending', 'cancel_submitted',
                    'part_filled');

CREATE VIEW orders AS
SELECT account, order_id, instrument, side, order_type, state, quantity, filled, limit_price,
       stop_price, average_fill_price, order_name, strategy, error, updated, source, event_id,
       kafka_topic, kafka_partition, kafka_offset, ts_ingested
FROM orders_v1;
