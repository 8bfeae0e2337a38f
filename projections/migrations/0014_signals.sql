-- Version 1 of the signals projection: every strategy signal (SignalEmitted on raw.signals), the
-- first of each strategy and signal id.
CREATE TABLE signals_v1 (
    strategy          text          NOT NULL,
    signal_id         text          NOT NULL,
    account           text,
    instrument        text          NOT NULL,
    variant           text,
    direction         text          NOT NULL,
    confidence        double precision,         -- the strategy's own, in [0, 1]
    intended_stop     numeric,
    intended_target   numeric,
    features          jsonb         NOT NULL,   -- {"atr": 12.5, ...}
    ts_event          timestamptz   NOT NULL,
    event_id          text          NOT NULL,
    kafka_topic       text          NOT NULL,
    kafka_partition   integer       NOT NULL,
    kafka_offset      bigint        NOT NULL,
    ts_ingested       timestamptz   NOT NULL,
    projected_at      timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (strategy, signal_id)
);

CREATE VIEW signals AS
SELECT strategy, signal_id, account, instrument, variant, direction, confidence, intended_stop,
       intended_target, features, ts_event, event_id, ts_ingested
FROM signals_v1;

-- experiment_trades gains the signal's confidence (null when it gave none or is not projected)
CREATE OR REPLACE VIEW experiment_trades AS
SELECT a.experiment_id, a.arm, a.variant AS arm_variant, a.step, a.treatment_percent,
       t.trade_id, t.signal_id, t.account, t.instrument, t.strategy, t.variant, t.direction,
       t.quantity, t.entry_time, t.exit_time, t.net_pnl, t.currency, t.source,
       s.confidence
FROM assignments a
JOIN trades t ON t.signal_id = a.signal_id
LEFT JOIN signals s ON s.strategy = a.strategy AND s.signal_id = a.signal_id;
