-- Imported trades (TradeClosed v6): NinjaTrader's end trade drawdown (`etd`) of a trade from a
-- Trades export, and `covered_by`, the trade derived from executions that covers an imported one
-- (then voided: each trade counts once). Every trades version kept gets the columns (versions
-- made LIKE the live table get them too).
DO $$
DECLARE
    kept record;
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
        EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS etd numeric,'
                       ' ADD COLUMN IF NOT EXISTS covered_by text', kept.name);
    END LOOP;
END
$$;
