-- The experiment guard reads only what is new since its last check: each trades and assignments
-- row records the transaction that projected it (pg_current_xact_id(), a default, so rebuilt
-- versions made LIKE the live table get it too), and the guard reads the rows whose
-- transactions lie between the horizon of its last check and the current one (every
-- transaction below pg_snapshot_xmin has ended: nothing committed later can fall behind it).
DO $$
DECLARE
    kept record;
    live_trades text := 'trades_v1';
    live_assignments text := 'assignments_v1';
BEGIN
    FOR kept IN
        SELECT t.name FROM (
            SELECT 'trades_v1' AS name UNION SELECT 'assignments_v1'
            UNION SELECT v.projection || '_v' || v.version FROM projection_versions v
            WHERE v.projection IN ('trades', 'assignments') AND v.state <> 'dropped'
        ) t
        JOIN pg_class c ON c.relname = t.name
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
        WHERE c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN projected_xid xid8 NOT NULL'
                       ' DEFAULT pg_current_xact_id()', kept.name);
        EXECUTE format('CREATE INDEX %I ON %I (%s)', kept.name || '_projected_xid',
                       kept.name,
                       CASE WHEN kept.name LIKE 'trades%' THEN 'projected_xid'
                            ELSE 'experiment_id, projected_xid' END);
    END LOOP;
    SELECT 'trades_v' || v.version INTO live_trades FROM projection_versions v
    WHERE v.projection = 'trades' AND v.state = 'live';
    SELECT 'assignments_v' || v.version INTO live_assignments FROM projection_versions v
    WHERE v.projection = 'assignments' AND v.state = 'live';
    EXECUTE format($view$
        CREATE OR REPLACE VIEW trades AS
        SELECT trade_id, account, instrument, strategy, variant, direction, quantity,
               entry_time, exit_time, entry_price, exit_price, gross_pnl, commission, net_pnl,
               mae, mfe, source, signal_id, currency, point_value, exit_name, execution_ids,
               round_trip_id, fees, entry_name, exit_reason, points, ticks, duration,
               initial_stop, risk, r_multiple, projected_xid
        FROM %I$view$, coalesce(live_trades, 'trades_v1'));
    EXECUTE format($view$
        CREATE OR REPLACE VIEW assignments AS
        SELECT experiment_id, signal_id, strategy, arm, variant, step, treatment_percent, bucket,
               assigned_at, event_id, ts_ingested, projected_xid
        FROM %I$view$, coalesce(live_assignments, 'assignments_v1'));
END
$$;

CREATE OR REPLACE VIEW experiment_trades AS
SELECT a.experiment_id, a.arm, a.variant AS arm_variant, a.step, a.treatment_percent,
       t.trade_id, t.signal_id, t.account, t.instrument, t.strategy, t.variant, t.direction,
       t.quantity, t.entry_time, t.exit_time, t.net_pnl, t.currency, t.source,
       s.confidence,
       t.projected_xid AS trade_xid, a.projected_xid AS assignment_xid
FROM assignments a
JOIN trades t ON t.signal_id = a.signal_id AND t.source <> 'paper'
LEFT JOIN signals s ON s.strategy = a.strategy AND s.signal_id = a.signal_id;
