-- The assignments projection's view (which arm each signal of an experiment got), over its
-- live version's table (written as version 1's here; `fillstream migrate` and a switch point
-- it at the live one). projected_xid: the transaction that projected the row (the experiment
-- guard reads what is new since its last check).
CREATE VIEW assignments AS
SELECT experiment_id, signal_id, strategy, arm, variant, step, treatment_percent, bucket,
       assigned_at, event_id, ts_ingested, projected_xid
FROM assignments_v1;
