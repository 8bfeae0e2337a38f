-- The uptime projection's view (every health check), over its live version's table (written
-- as version 1's here; `fillstream migrate` and a switch point it at the live one).
CREATE VIEW service_checks AS
SELECT service, instance, ts_event, healthy, checks, figures, interval_seconds, started_at,
       event_id, ts_ingested
FROM service_checks_v1;
