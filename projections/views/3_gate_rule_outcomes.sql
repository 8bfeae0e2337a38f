-- Each rule's verdict on each decided signal, with what the signal made.
CREATE VIEW gate_rule_outcomes AS
SELECT g.decision_id, g.signal_id, g.account, g.strategy, g.decision, g.decided_at,
       g.trading_day, r.rule, r.kind, r.mode, r.verdict, r.value, r."limit",
       g.outcome_source, g.trades, g.net_pnl
FROM gate_outcomes g
CROSS JOIN LATERAL jsonb_to_recordset(g.rules)
    AS r(rule text, kind text, mode text, verdict text, value numeric, "limit" numeric);
