-- The read API's pages of trades, newest exit first (and by net P&L, the other order the
-- dashboard's table is sorted by most), read in index order rather than sorted whole: every
-- trades version kept gets the indexes (versions made LIKE the live table get them too).
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
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (exit_time, trade_id)',
                       kept.name || '_exit_trade', kept.name);
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (net_pnl, trade_id)',
                       kept.name || '_net_trade', kept.name);
    END LOOP;
END
$$;
