-- The regimes projection's view (every regime label of every classifier version), over its
-- live version's table (written as version 1's here; `fillstream migrate` and a switch point
-- it at the live one).
CREATE VIEW regime_labels AS
SELECT instrument, period, classifier_version, ts_event, label, volatility, trend, atr,
       atr_percentile, trend_strength, bars, event_id, ts_ingested
FROM regime_labels_v1;
