-- Availability per instance and UTC day: the share of the day covered by healthy checks (to
-- nine places; seconds to the microsecond). The day runs from the later of its start and the
-- instance's first check to the earlier of its end and now. Time not covered by a healthy check
-- is down: unhealthy, stopped (after a clean stop) or silent (a crash); observed_seconds is
-- their sum with up_seconds. The target is 99.5 % (meets_target).
CREATE VIEW uptime_daily AS
WITH pieces AS (  -- each span cut at the days' bounds
    SELECT s.service, s.instance, s.state, p.period,
           extract(epoch FROM least(s.ends, p.period + interval '1 day')
                              - greatest(s.starts, p.period)) AS seconds
    FROM (SELECT service, instance, state, starts_at AT TIME ZONE 'UTC' AS starts,
                 ends_at AT TIME ZONE 'UTC' AS ends
          FROM uptime_spans) s
    CROSS JOIN LATERAL generate_series(date_trunc('day', s.starts),
                                       s.ends - interval '1 microsecond',
                                       interval '1 day') AS p(period)
), timed AS (
    SELECT service, instance, period,
           coalesce(sum(seconds) FILTER (WHERE state = 'up'), 0) AS up,
           coalesce(sum(seconds) FILTER (WHERE state = 'unhealthy'), 0) AS unhealthy,
           coalesce(sum(seconds) FILTER (WHERE state = 'stopped'), 0) AS stopped,
           coalesce(sum(seconds) FILTER (WHERE state = 'silent'), 0) AS silent,
           sum(seconds) AS observed
    FROM pieces
    GROUP BY service, instance, period
), counted AS (
    SELECT service, instance, date_trunc('day', ts_event AT TIME ZONE 'UTC') AS period,
           count(*) AS checks,
           count(*) FILTER (WHERE NOT healthy AND NOT checks @> '{"running": false}') AS unhealthy_checks,
           count(*) FILTER (WHERE checks @> '{"running": false}') AS stops
    FROM service_checks
    WHERE ts_event < now() AND service NOT IN ('rebuild', 'accuracy')  -- a job's outcome: one check, no service
    GROUP BY service, instance, period
)
SELECT t.service, t.instance, t.period::date AS day,
       trim_scale(round(t.up / t.observed, 9)) AS availability,
       trim_scale(t.up) AS up_seconds, trim_scale(t.observed) AS observed_seconds,
       trim_scale(t.unhealthy) AS unhealthy_seconds, trim_scale(t.stopped) AS stopped_seconds,
       trim_scale(t.silent) AS silent_seconds,
       coalesce(c.checks, 0) AS checks, coalesce(c.unhealthy_checks, 0) AS unhealthy_checks,
       coalesce(c.stops, 0) AS stops,
       round(t.up / t.observed, 9) >= 0.995 AS meets_target
FROM timed t
LEFT JOIN counted c USING (service, instance, period);
