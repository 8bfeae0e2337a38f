-- Version 1 of the position drifts projection: every PositionDrift (derived.reconciliation),
-- NinjaTrader's reported position of an account and instrument against the derived one
-- (signed: long +, short -), since when they disagree, and whether they agree again.
CREATE TABLE position_drifts_v1 (
    account          text          NOT NULL,
    instrument       text          NOT NULL,
    reported         integer       NOT NULL,
    derived          integer       NOT NULL,
    since            timestamptz   NOT NULL,
    resolved         boolean       NOT NULL,
    ts_event         timestamptz   NOT NULL,
    event_id         text          PRIMARY KEY,
    kafka_topic      text          NOT NULL,
    kafka_partition  integer       NOT NULL,
    kafka_offset     bigint        NOT NULL,
    ts_ingested      timestamptz   NOT NULL,
    projected_at     timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX position_drifts_v1_pair ON position_drifts_v1 (account, instrument, ts_event);
