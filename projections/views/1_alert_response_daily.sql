-- The roadmap's alert response (target: under 30 s): from the cause of an alert (the event or
-- the missed health check that raised or resolved it: the delivery ledger's ts_event) to its
-- delivery acknowledged by the channel (delivered_at), per channel and UTC day of the cause.
-- First notifications only (repeat 0: a reminder answers nothing new). Seconds to the
-- microsecond; percentiles interpolate linearly (percentile_cont).
CREATE VIEW alert_response_daily AS
WITH delivered AS (
    SELECT channel, (ts_event AT TIME ZONE 'UTC')::date AS day,
           extract(epoch FROM delivered_at - ts_event) AS seconds
    FROM alert_deliveries
    WHERE outcome = 'delivered' AND repeat = 0 AND delivered_at IS NOT NULL
)
SELECT channel, day, count(*) AS deliveries,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50_seconds,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY seconds) AS p99_seconds,
       max(seconds) AS max_seconds,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY seconds) < 30 AS meets_target
FROM delivered
GROUP BY channel, day;
