-- Each live trade of an assigned signal, with its experiment and arm: the figures per arm come
-- from here (`fillstream experiments show`). Paper trades (source 'paper', shadow mode) are
-- left out; confidence is the signal's own (null when it gave none or is not projected);
-- trade_xid and assignment_xid are the transactions that projected the two rows (the experiment
-- guard reads what is new since its last check).
CREATE VIEW experiment_trades AS
SELECT a.experiment_id, a.arm, a.variant AS arm_variant, a.step, a.treatment_percent,
       t.trade_id, t.signal_id, t.account, t.instrument, t.strategy, t.variant, t.direction,
       t.quantity, t.entry_time, t.exit_time, t.net_pnl, t.currency, t.source,
       s.confidence,
       t.projected_xid AS trade_xid, a.projected_xid AS assignment_xid
FROM assignments a
JOIN trades t ON t.signal_id = a.signal_id AND t.source <> 'paper'
LEFT JOIN signals s ON s.strategy = a.strategy AND s.signal_id = a.signal_id;
