-- Version 1 of the assignments projection: which arm the bridge gave each signal of an
-- experiment (VariantAssigned on raw.assignments); the first assignment of a signal counts
-- (asked again, a signal is answered alike unless the experiment changed meanwhile).
CREATE TABLE assignments_v1 (
    experiment_id      text          NOT NULL,
    signal_id          text          NOT NULL,
    strategy           text          NOT NULL,
    arm                text          NOT NULL,  -- control, treatment
    variant            text          NOT NULL,  -- the variant the arm runs
    step               integer       NOT NULL,  -- the ramp step (0-based)
    treatment_percent  integer       NOT NULL,  -- the treatment's share then (0: paused, killed)
    bucket             integer       NOT NULL,  -- 0 to 9999
    assigned_at        timestamptz   NOT NULL,
    event_id           text          NOT NULL,
    kafka_topic        text          NOT NULL,
    kafka_partition    integer       NOT NULL,
    kafka_offset       bigint        NOT NULL,
    ts_ingested        timestamptz   NOT NULL,
    projected_at       timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (experiment_id, signal_id)
);
CREATE INDEX assignments_v1_signal ON assignments_v1 (signal_id);

CREATE VIEW assignments AS
SELECT experiment_id, signal_id, strategy, arm, variant, step, treatment_percent, bucket,
       assigned_at, event_id, ts_ingested
FROM assignments_v1;

CREATE INDEX trades_v1_signal ON trades_v1 (signal_id);

-- Each trade of an assigned signal, with its experiment and arm: the figures per arm come from
-- here (`fillstream experiments show`).
CREATE VIEW experiment_trades AS
SELECT a.experiment_id, a.arm, a.variant AS arm_variant, a.step, a.treatment_percent,
       t.trade_id, t.signal_id, t.account, t.instrument, t.strategy, t.variant, t.direction,
       t.quantity, t.entry_time, t.exit_time, t.net_pnl, t.currency, t.source
FROM assignments a
JOIN trades t ON t.signal_id = a.signal_id;
