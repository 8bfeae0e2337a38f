-- The served labels as spans: each in force from starts_at until the series' next label
-- (ends_at null: still in force).
CREATE VIEW regimes AS
SELECT l.instrument, l.period, l.label, l.volatility, l.trend, l.ts_event AS starts_at,
       lead(l.ts_event) OVER (PARTITION BY l.instrument ORDER BY l.ts_event) AS ends_at,
       l.atr, l.atr_percentile, l.trend_strength, l.classifier_version
FROM regime_labels l
JOIN regime_served s USING (classifier_version, period);
