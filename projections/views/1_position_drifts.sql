-- The position drifts projection's view (every drift published and resolved), over its live
-- version's table (written as version 1's here; `fillstream migrate` and a switch point it at
-- the live one).
CREATE VIEW position_drifts AS
SELECT account, instrument, reported, derived, reported - derived AS difference, since,
       resolved, ts_event, event_id, ts_ingested
FROM position_drifts_v1;
