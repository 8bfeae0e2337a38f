-- The nightly data-accuracy runs (control.accuracy): one row per trading day, claimed by the
-- projector process that runs it (INSERT ... ON CONFLICT DO NOTHING), so a day is run once
-- whatever the number of projector processes. finished_at stays NULL for a run that did not end
-- (a crash); the next day's run covers it. Not a projection: what was run when.
CREATE TABLE IF NOT EXISTS accuracy_runs (
    trading_day  date          PRIMARY KEY,
    claimed_at   timestamptz   NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    projections  integer,
    lowest       double precision
);
