-- The decisions projection's view (every pre-trade decision of the gate), over its live
-- version's table (written as version 1's here; `fillstream migrate` and a switch point it at
-- the live one).
CREATE VIEW decisions AS
SELECT decision_id, signal_id, account, instrument, strategy, variant, direction, decision,
       quantity, proposed_quantity, entry_price, intended_stop, intended_target, confidence,
       calibrated_confidence, calibration_version, rules, sizing_method, sizing, rules_version,
       trading_day, halt_id, halt_started, ts_event AS decided_at, event_id, ts_ingested
FROM decisions_v1;
