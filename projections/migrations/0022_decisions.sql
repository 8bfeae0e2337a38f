-- Version 1 of the decisions projection: every pre-trade decision of the gate (TradeDecided on
-- derived.decisions), each rule's verdict kept as JSON (rule, kind, mode, verdict, value, limit,
-- reason, halt).
CREATE TABLE decisions_v1 (
    decision_id            text          PRIMARY KEY,
    signal_id              text          NOT NULL,
    account                text          NOT NULL,
    instrument             text          NOT NULL,
    strategy               text          NOT NULL,
    variant                text,
    direction              text          NOT NULL,
    decision               text          NOT NULL,  -- allow, deny
    quantity               integer       NOT NULL,  -- recommended; 0 when denied
    proposed_quantity      integer       NOT NULL,
    entry_price            numeric       NOT NULL,
    intended_stop          numeric,
    intended_target        numeric,
    confidence             double precision,
    calibrated_confidence  double precision,
    calibration_version    text,
    rules                  jsonb         NOT NULL,
    sizing_method          text          NOT NULL,
    sizing                 text          NOT NULL,
    rules_version          text          NOT NULL,
    trading_day            date          NOT NULL,
    halt_id                text,
    halt_started           boolean       NOT NULL,
    ts_event               timestamptz   NOT NULL,
    event_id               text          NOT NULL,
    kafka_topic            text          NOT NULL,
    kafka_partition        integer       NOT NULL,
    kafka_offset           bigint        NOT NULL,
    ts_ingested            timestamptz   NOT NULL,
    projected_at           timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX decisions_v1_signal ON decisions_v1 (signal_id);
CREATE INDEX decisions_v1_day ON decisions_v1 (trading_day, account);
