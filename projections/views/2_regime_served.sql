-- Which labels the regime views serve: one classifier version and bar period, chosen with
-- `fillstream regimes serve VERSION [--period P]` (the regime_serving table). A chosen version
-- serves only while it has labels: without a choice, or when its labels are gone (the phase
-- that relabelled history with it was rolled back), the oldest version present serves (a new
-- classifier's labels never serve by themselves), on its first period by name.
CREATE VIEW regime_served AS
WITH chosen AS (
    SELECT s.classifier_version, s.period
    FROM regime_serving s
    WHERE EXISTS (SELECT FROM regime_labels l
                  WHERE l.classifier_version = s.classifier_version AND l.period = s.period)
)
SELECT classifier_version, period, true AS chosen
FROM chosen
UNION ALL
SELECT classifier_version, min(period), false
FROM regime_labels
WHERE classifier_version = (SELECT min(classifier_version) FROM regime_labels)
  AND NOT EXISTS (SELECT FROM chosen)
GROUP BY classifier_version;
