-- The alerts that hold: raised and not resolved.
CREATE VIEW alerts_active AS
SELECT rule, key, severity, raised_at, summary, labels
FROM alert_history
WHERE resolved_at IS NULL;
