-- Version 1 of the regimes projection: every regime label (RegimeLabeled on derived.regimes),
-- a series' first label and each change, of every classifier version.
CREATE TABLE regime_labels_v1 (
    instrument          text          NOT NULL,
    period              text          NOT NULL,  -- '1 Minute'
    classifier_version  integer       NOT NULL,  -- FILLSTREAM_REGIME's version
    ts_event            timestamptz   NOT NULL,  -- the close of the bar it was given to
    label               text          NOT NULL,  -- normal_vol_ranging, ..., warming_up
    volatility          text,                    -- low, normal, high; null while warming up
    trend               text,                    -- trending_up, trending_down, ranging
    atr                 numeric,
    atr_percentile      numeric,                 -- 0 to 100
    trend_strength      numeric,                 -- -1 to 1
    bars                bigint        NOT NULL,  -- bars of the series the classifier had taken
    event_id            text          NOT NULL,
    kafka_topic         text          NOT NULL,
    kafka_partition     integer       NOT NULL,
    kafka_offset        bigint        NOT NULL,
    ts_ingested         timestamptz   NOT NULL,
    projected_at        timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (instrument, period, classifier_version, ts_event)
);

CREATE VIEW regime_labels AS
SELECT instrument, period, classifier_version, ts_event, label, volatility, trend, atr,
       atr_percentile, trend_strength, bars, event_id, ts_ingested
FROM regime_labels_v1;

-- Which labels the views below serve: one classifier version and bar period, chosen with
-- `fillstream regimes serve VERSION [--period P]`. Without a choice, the oldest version present
-- serves (a new classifier's labels never serve by themselves), on its first period by name.
CREATE TABLE regime_serving (
    singleton           boolean       PRIMARY KEY DEFAULT true CHECK (singleton),
    classifier_version  integer       NOT NULL,
    period              text          NOT NULL,
    chosen_at           timestamptz   NOT NULL DEFAULT now(),
    chosen_by           text          NOT NULL
);

CREATE VIEW regime_served AS
SELECT classifier_version, period, true AS chosen
FROM regime_serving
UNION ALL
SELECT classifier_version, min(period), false
FROM regime_labels
WHERE classifier_version = (SELECT min(classifier_version) FROM regime_labels)
  AND NOT EXISTS (SELECT FROM regime_serving)
GROUP BY classifier_version;

-- The served labels as spans: each in force from starts_at until the series' next label
-- (ends_at null: still in force).
CREATE VIEW regimes AS
SELECT l.instrument, l.period, l.label, l.volatility, l.trend, l.ts_event AS starts_at,
       lead(l.ts_event) OVER (PARTITION BY l.instrument ORDER BY l.ts_event) AS ends_at,
       l.atr, l.atr_percentile, l.trend_strength, l.classifier_version
FROM regime_labels l
JOIN regime_served s USING (classifier_version, period);

-- Each trade with the regime in force at its entry (the instrument's last served label at or
-- before entry_time); regime null when its instrument had no label yet.
CREATE VIEW trade_regimes AS
SELECT t.trade_id, t.account, t.instrument, t.strategy, t.variant, t.direction, t.quantity,
       t.entry_time, t.exit_time, t.net_pnl, t.currency, t.source,
       r.label AS regime, r.volatility, r.trend, r.ts_event AS regime_since,
       r.classifier_version, r.period AS regime_period
FROM trades t
LEFT JOIN LATERAL (
    SELECT l.label, l.volatility, l.trend, l.ts_event, l.classifier_version, l.period
    FROM regime_labels l
    JOIN regime_served s USING (classifier_version, period)
    WHERE l.instrument = t.instrument AND l.ts_event <= t.entry_time
    ORDER BY l.ts_event DESC
    LIMIT 1
) r ON true;

-- The trades' figures per account, strategy and regime at entry ('unlabelled': before the
-- instrument's first label), per currency. A win is a trade with net_pnl > 0, a loss < 0;
-- win_rate counts decided trades only, as the performance projection does.
CREATE VIEW performance_by_regime AS
SELECT account, strategy, coalesce(regime, 'unlabelled') AS regime, currency,
       count(*) AS trades,
       count(*) FILTER (WHERE net_pnl > 0) AS wins,
       count(*) FILTER (WHERE net_pnl < 0) AS losses,
       round(count(*) FILTER (WHERE net_pnl > 0)::numeric
             / nullif(count(*) FILTER (WHERE net_pnl <> 0), 0), 6) AS win_rate,
       sum(net_pnl) AS net_profit,
       round(avg(net_pnl), 6) AS avg_net_pnl,
       coalesce(sum(net_pnl) FILTER (WHERE net_pnl > 0), 0) AS gross_profit,
       coalesce(sum(net_pnl) FILTER (WHERE net_pnl < 0), 0) AS gross_loss,
       round(sum(net_pnl) FILTER (WHERE net_pnl > 0)
             / nullif(-sum(net_pnl) FILTER (WHERE net_pnl < 0), 0), 6) AS profit_factor
FROM trade_regimes
GROUP BY account, strategy, coalesce(regime, 'unlabelled'), currency;
