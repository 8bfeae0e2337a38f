-- Version 1 of the alerts projection: every alert raised and resolved (derived.alerts), the
-- alert history. An alert's identity is (rule, key, raised_at); it has a raised row and, once
-- over, a resolved row.
CREATE TABLE alerts_v1 (
    rule             text          NOT NULL,
    key              text          NOT NULL,
    raised_at        timestamptz   NOT NULL,
    state            text          NOT NULL,
    severity         text          NOT NULL,
    summary          text          NOT NULL,
    labels           jsonb         NOT NULL,
    ts_event         timestamptz   NOT NULL,
    event_id         text          NOT NULL,
    kafka_topic      text          NOT NULL,
    kafka_partition  integer       NOT NULL,
    kafka_offset     bigint        NOT NULL,
    ts_ingested      timestamptz   NOT NULL,
    projected_at     timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (rule, key, raised_at, state)
);

CREATE VIEW alerts AS
SELECT rule, key, raised_at, state, severity, summary, labels, ts_event, event_id, ts_ingested
FROM alerts_v1;

-- One row per alert: raised when, resolved when (NULL while it holds), how long it lasted.
CREATE VIEW alert_history AS
SELECT r.rule, r.key, r.severity, r.raised_at, s.ts_event AS resolved_at,
       s.ts_event - r.raised_at AS duration, r.summary, s.summary AS resolution, r.labels
FROM alerts r
LEFT JOIN alerts s ON s.rule = r.rule AND s.key = r.key AND s.raised_at = r.raised_at
                  AND s.state = 'resolved'
WHERE r.state = 'raised';

CREATE VIEW alerts_active AS
SELECT rule, key, severity, raised_at, summary, labels
FROM alert_history
WHERE resolved_at IS NULL;

-- The notifier's delivery ledger (not a projection: what was sent where). One row per alert,
-- state and channel; a rewind that derives an alert again finds it here and sends nothing.
-- repeat 0 is the first notification of a state, 1, 2, ... the reminders of a raised alert.
CREATE TABLE alert_deliveries (
    alert_id      text          NOT NULL,  -- rule|key|raised_at
    state         text          NOT NULL,
    repeat        integer       NOT NULL DEFAULT 0,
    channel       text          NOT NULL,
    outcome       text          NOT NULL
        CHECK (outcome IN ('delivered', 'failed', 'silenced', 'stale', 'pending')),
    attempts      integer       NOT NULL DEFAULT 0,
    error         text,
    ts_event      timestamptz   NOT NULL,  -- of the event that raised or resolved the alert
    payload       bytea         NOT NULL,  -- the AlertChanged (Avro): what a resumed or
                                           -- repeated delivery sends
    decided_at    timestamptz   NOT NULL DEFAULT now(),
    delivered_at  timestamptz,
    PRIMARY KEY (alert_id, state, repeat, channel)
);
