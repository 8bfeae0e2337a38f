-- What each decided signal made: an allowed one its live trades (in the decision's account),
-- a denied one the paper trades the shadow stages made of it (account PAPER:<account>), so the
-- gate's value is measured (`fillstream gate report`). A signal decided more than once counts
-- by its last decision. net_pnl is null until the signal has a closed trade.
CREATE VIEW gate_outcomes AS
SELECT d.decision_id, d.signal_id, d.account, d.instrument, d.strategy, d.variant, d.decision,
       d.decided_at, d.trading_day, d.rules, d.confidence, d.calibrated_confidence,
       CASE d.decision WHEN 'allow' THEN 'live' ELSE 'paper' END AS outcome_source,
       o.trades, o.net_pnl, o.currency
FROM (SELECT DISTINCT ON (signal_id) *
      FROM decisions ORDER BY signal_id, decided_at DESC, decision_id) d
LEFT JOIN LATERAL (
    SELECT count(*) AS trades, sum(t.net_pnl) AS net_pnl, min(t.currency) AS currency
    FROM trades t
    WHERE t.signal_id = d.signal_id
      AND t.account = CASE d.decision WHEN 'allow' THEN d.account ELSE 'PAPER:' || d.account END
    HAVING count(*) > 0
) o ON true;
