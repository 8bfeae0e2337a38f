-- The drifts that hold: per account and instrument, the last drift published (the latest in
-- event time; of two at the same time, the resolution), when it is not resolved.
CREATE VIEW position_drifts_open AS
SELECT account, instrument, reported, derived, difference, since, ts_event AS noticed_at
FROM (
    SELECT DISTINCT ON (account, instrument) *
    FROM position_drifts
    ORDER BY account, instrument, ts_event DESC, resolved DESC
) last
WHERE NOT resolved;
