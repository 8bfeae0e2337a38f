-- Each instance's time from its first check to now, in spans of one state:
--   up         a healthy check's interval;
--   unhealthy  an unhealthy check's interval;
--   stopped    from a clean stop's check (it fails only "running") to the next check;
--   silent     the rest: no check came when one was due (the process crashed, hung or was
--              killed, or its checks did not reach Kafka).
-- The uptime views read this view, which reads the service_checks view: they follow a rebuild.
CREATE VIEW uptime_spans AS
WITH checked AS (
    SELECT service, instance, ts_event, healthy, checks @> '{"running": false}' AS stopping,
           make_interval(secs => interval_seconds) AS covers,
           least(coalesce(lead(ts_event) OVER (PARTITION BY service, instance ORDER BY ts_event),
                          'infinity'), now()) AS next_at
    FROM service_checks
    WHERE ts_event < now() AND service NOT IN ('rebuild', 'accuracy')  -- a job's outcome: one check, no service
), covered AS (
    SELECT service, instance, ts_event, next_at,
           CASE WHEN stopping THEN 'stopped' WHEN healthy THEN 'up' ELSE 'unhealthy' END AS state,
           CASE WHEN stopping THEN next_at ELSE least(ts_event + covers, next_at) END AS covered_to
    FROM checked
)
SELECT service, instance, state, ts_event AS starts_at, covered_to AS ends_at,
       ts_event AS checked_at
FROM covered
WHERE covered_to > ts_event
UNION ALL
SELECT service, instance, 'silent', covered_to, next_at, ts_event
FROM covered
WHERE next_at > covered_to;
