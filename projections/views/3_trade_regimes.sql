-- Each trade with the regime in force at its entry (the instrument's last served label at or
-- before entry_time); regime null when its instrument had no label yet. mae and mfe feed the
-- figures of performance_by_regime.
CREATE VIEW trade_regimes AS
SELECT t.trade_id, t.account, t.instrument, t.strategy, t.variant, t.direction, t.quantity,
       t.entry_time, t.exit_time, t.net_pnl, t.currency, t.source,
       r.label AS regime, r.volatility, r.trend, r.ts_event AS regime_since,
       r.classifier_version, r.period AS regime_period,
       t.mae, t.mfe
FROM trades t
LEFT JOIN LATERAL (
    SELECT l.label, l.volatility, l.trend, l.ts_event, l.classifier_version, l.period
    FROM regime_labels l
    JOIN regime_served s USING (classifier_version, period)
    WHERE l.instrument = t.instrument AND l.ts_event <= t.entry_time
    ORDER BY l.ts_event DESC
    LIMIT 1
) r ON true;
