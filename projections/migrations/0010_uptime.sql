-- Version 1 of the uptime projection: every health check (ServiceChecked on health), the health
-- history of each process. A process checks every interval_seconds; a check covers
-- [ts_event, ts_event + interval_seconds), cut short by the process's next check.
CREATE TABLE service_checks_v1 (
    service           text          NOT NULL,  -- bridge, worker, projector, notifier
    instance          text          NOT NULL,  -- host:port of its health server
    ts_event          timestamptz   NOT NULL,
    healthy           boolean       NOT NULL,
    checks            jsonb         NOT NULL,  -- {"kafka": true, ...}; {"running": false}: a clean stop
    figures           jsonb         NOT NULL,  -- {"lag_records": 0, ...}
    interval_seconds  integer       NOT NULL,
    started_at        timestamptz   NOT NULL,
    event_id          text          NOT NULL,
    kafka_topic       text          NOT NULL,
    kafka_partition   integer       NOT NULL,
    kafka_offset      bigint        NOT NULL,
    ts_ingested       timestamptz   NOT NULL,
    projected_at      timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (service, instance, ts_event)
);

CREATE VIEW service_checks AS
SELECT service, instance, ts_event, healthy, checks, figures, interval_seconds, started_at,
       event_id, ts_ingested
FROM service_checks_v1;

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
    WHERE ts_event < now() AND service <> 'rebuild'  -- a rebuild's outcome: one check, no service
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
    WHERE ts_event < now() AND service <> 'rebuild'  -- a rebuild's outcome: one check, no service
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

-- The same per UTC month (month: its first day).
CREATE VIEW uptime_monthly AS
WITH pieces AS (  -- each span cut at the months' bounds
    SELECT s.service, s.instance, s.state, p.period,
           extract(epoch FROM least(s.ends, p.period + interval '1 month')
                              - greatest(s.starts, p.period)) AS seconds
    FROM (SELECT service, instance, state, starts_at AT TIME ZONE 'UTC' AS starts,
                 ends_at AT TIME ZONE 'UTC' AS ends
          FROM uptime_spans) s
    CROSS JOIN LATERAL generate_series(date_trunc('month', s.starts),
                                       s.ends - interval '1 microsecond',
                                       interval '1 month') AS p(period)
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
    SELECT service, instance, date_trunc('month', ts_event AT TIME ZONE 'UTC') AS period,
           count(*) AS checks,
           count(*) FILTER (WHERE NOT healthy AND NOT checks @> '{"running": false}') AS unhealthy_checks,
           count(*) FILTER (WHERE checks @> '{"running": false}') AS stops
    FROM service_checks
    WHERE ts_event < now() AND service <> 'rebuild'  -- a rebuild's outcome: one check, no service
    GROUP BY service, instance, period
)
SELECT t.service, t.instance, t.period::date AS month,
       trim_scale(round(t.up / t.observed, 9)) AS availability,
       trim_scale(t.up) AS up_seconds, trim_scale(t.observed) AS observed_seconds,
       trim_scale(t.unhealthy) AS unhealthy_seconds, trim_scale(t.stopped) AS stopped_seconds,
       trim_scale(t.silent) AS silent_seconds,
       coalesce(c.checks, 0) AS checks, coalesce(c.unhealthy_checks, 0) AS unhealthy_checks,
       coalesce(c.stops, 0) AS stops,
       round(t.up / t.observed, 9) >= 0.995 AS meets_target
FROM timed t
LEFT JOIN counted c USING (service, instance, period);
