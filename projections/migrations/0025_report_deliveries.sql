-- The scheduled reports (alerts.scheduled): which report went to which channel, claimed before
-- it is sent. Not projections: what was sent when.
--
-- report_routes: when the notifier first saw a channel named for a kind of report; reports due
-- before that are history, not sent.
CREATE TABLE IF NOT EXISTS report_routes (
    kind     text          NOT NULL,
    channel  text          NOT NULL,
    since    timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, channel)
);

-- report_documents: each period's report as first rendered (what the links show is what was
-- sent): the web page, the e-mail's HTML and its PNG plots (base64 by content id), the PDF, and
-- the headline figures as JSON.
CREATE TABLE IF NOT EXISTS report_documents (
    kind          text          NOT NULL,
    period_first  date          NOT NULL,
    period_last   date          NOT NULL,
    title         text          NOT NULL,
    html          text          NOT NULL,
    mail_html     text          NOT NULL,
    images        jsonb         NOT NULL,
    pdf           bytea         NOT NULL,
    figures       jsonb         NOT NULL,
    rendered_at   timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, period_first)
);

-- report_deliveries: one row per report and channel, inserted ON CONFLICT DO NOTHING before
-- anything is sent, so a report goes once per channel whatever the number of notifiers and
-- restarts. The claiming connection's backend (pid, start) says who is sending: a pending row
-- whose backend is gone (its notifier died) is taken over by the next notifier to look.
CREATE TABLE IF NOT EXISTS report_deliveries (
    kind             text          NOT NULL,
    period_first     date          NOT NULL,
    channel          text          NOT NULL,
    due_at           timestamptz   NOT NULL,
    outcome          text          NOT NULL
                     CHECK (outcome IN ('pending', 'delivered', 'failed', 'skipped')),
    late             boolean       NOT NULL DEFAULT false,
    claimed_at       timestamptz   NOT NULL DEFAULT now(),
    claimed_pid      integer,
    claimed_backend  timestamptz,
    attempts         integer       NOT NULL DEFAULT 0,
    error            text,
    delivered_at     timestamptz,
    PRIMARY KEY (kind, period_first, channel)
);
CREATE INDEX IF NOT EXISTS report_deliveries_open ON report_deliveries (outcome)
    WHERE outcome IN ('pending', 'failed');
