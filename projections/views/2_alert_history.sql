-- One row per alert: raised when, resolved when (NULL while it holds), how long it lasted.
CREATE VIEW alert_history AS
SELECT r.rule, r.key, r.severity, r.raised_at, s.ts_event AS resolved_at,
       s.ts_event - r.raised_at AS duration, r.summary, s.summary AS resolution, r.labels
FROM alerts r
LEFT JOIN alerts s ON s.rule = r.rule AND s.key = r.key AND s.raised_at = r.raised_at
                  AND s.state = 'resolved'
WHERE r.state = 'raised';
