-- The alerts projection's view (every alert raised and resolved), over its live version's
-- table (written as version 1's here; `fillstream migrate` and a switch point it at the live
-- one).
CREATE VIEW alerts AS
SELECT rule, key, raised_at, state, severity, summary, labels, ts_event, event_id, ts_ingested
FROM alerts_v1;
