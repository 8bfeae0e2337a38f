-- Each signal with a confidence and an outcome: what it made (net P&L of its trades), whether it
-- won, and when that was known (its last trade's exit). The outcome is its live trades in its
-- account when it has any, else the paper trades the shadow stages made of it; regime is the
-- label served for its instrument when it was emitted. Confidence calibration learns from here
-- (`fillstream gate calibrate`).
CREATE VIEW signal_outcomes AS
SELECT s.strategy, s.signal_id, s.account, s.instrument, s.variant, s.confidence,
       s.ts_event AS signal_time,
       CASE WHEN l.trades IS NOT NULL THEN 'live' ELSE 'paper' END AS outcome_source,
       coalesce(l.trades, p.trades) AS trades,
       coalesce(l.net_pnl, p.net_pnl) AS net_pnl,
       coalesce(l.net_pnl, p.net_pnl) > 0 AS won,
       coalesce(l.known_at, p.known_at) AS known_at,
       r.label AS regime
FROM signals s
LEFT JOIN LATERAL (
    SELECT count(*) AS trades, sum(t.net_pnl) AS net_pnl, max(t.exit_time) AS known_at
    FROM trades t WHERE t.signal_id = s.signal_id AND t.account = s.account
    HAVING count(*) > 0
) l ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS trades, sum(t.net_pnl) AS net_pnl, max(t.exit_time) AS known_at
    FROM trades t WHERE t.signal_id = s.signal_id AND t.account = 'PAPER:' || s.account
    HAVING count(*) > 0
) p ON true
LEFT JOIN LATERAL (
    SELECT lab.label
    FROM regime_labels lab
    JOIN regime_served served USING (classifier_version, period)
    WHERE lab.instrument = s.instrument AND lab.ts_event <= s.ts_event
    ORDER BY lab.ts_event DESC
    LIMIT 1
) r ON true
WHERE s.confidence IS NOT NULL AND (l.trades IS NOT NULL OR p.trades IS NOT NULL);
