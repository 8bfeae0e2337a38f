-- The signals projection's view (every strategy signal), over its live version's table
-- (written as version 1's here; `fillstream migrate` and a switch point it at the live one).
CREATE VIEW signals AS
SELECT strategy, signal_id, account, instrument, variant, direction, confidence, intended_stop,
       intended_target, features, ts_event, event_id, ts_ingested
FROM signals_v1;
