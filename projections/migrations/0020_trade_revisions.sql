-- Corrected trades. A correction of a trade's executions (ExecutionCorrected, ExecutionBusted)
-- publishes the trade again as its next revision (TradeClosed revision, supersedes,
-- correction_id, voided): each revision is a row of its own, unique by (trade_id, revision,
-- exit_time). The `trades` view shows each trade's latest revision unless it is voided;
-- `trade_corrections` shows each later revision beside the one it replaced. Every trades version
-- kept gets the columns (versions made LIKE the live table get them too); the partial index
-- holds the few revisions after the first, which the views look up.
DO $$
DECLARE
    kept record;
    pkey text;
BEGIN
    FOR kept IN
        SELECT t.name FROM (
            SELECT 'trades_v1' AS name
            UNION SELECT 'trades_v' || v.version FROM projection_versions v
            WHERE v.projection = 'trades' AND v.state <> 'dropped'
        ) t
        JOIN pg_class c ON c.relname = t.name
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
        WHERE c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN revision integer NOT NULL DEFAULT 0,'
                       ' ADD COLUMN supersedes text, ADD COLUMN correction_id text,'
                       ' ADD COLUMN voided boolean NOT NULL DEFAULT false', kept.name);
        SELECT con.conname INTO pkey FROM pg_constraint con
        WHERE con.conrelid = format('%I', kept.name)::regclass AND con.contype = 'p';
        IF pkey IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', kept.name, pkey);
        END IF;
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (trade_id, revision, exit_time)',
                       kept.name, kept.name || '_pkey');
        EXECUTE format('CREATE INDEX %I ON %I (trade_id, revision) WHERE revision > 0',
                       kept.name || '_revised', kept.name);
    END LOOP;
END
$$;

-- Version 1 of the execution corrections projection: every ExecutionCorrected and
-- ExecutionBusted (raw.executions), once. They never change the executions rows: the
-- `executions` view says which were corrected or busted, `execution_corrections` what changed.
CREATE TABLE execution_corrections_v1 (
    event_id         text          NOT NULL PRIMARY KEY,
    kind             text          NOT NULL CHECK (kind IN ('corrected', 'busted')),
    account          text          NOT NULL,
    execution_id     text          NOT NULL,
    instrument       text          NOT NULL,
    side             text,
    quantity         integer,
    price            numeric,
    commission       numeric,
    fees             numeric,
    executed_at      timestamptz,
    order_id         text,
    order_number     text,
    reason           text,
    ts_event         timestamptz   NOT NULL,
    -- lineage: where it was read
    kafka_topic      text          NOT NULL,
    kafka_partition  integer       NOT NULL,
    kafka_offset     bigint        NOT NULL,
    ts_ingested      timestamptz   NOT NULL,
    projected_at     timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX execution_corrections_v1_execution
    ON execution_corrections_v1 (account, execution_id, ts_event);
