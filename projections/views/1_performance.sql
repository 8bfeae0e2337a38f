-- The performance projection's view, over its live version's table (written as version 1's
-- here; `fillstream migrate` and a switch point it at the live one). A window whose trades were
-- all voided by corrections keeps a snapshot of no trades in the table, and is not shown.
CREATE VIEW performance AS
SELECT scope, scope_key, time_window, window_key, definitions_version, account, strategy,
       variant, instrument, scope_trades, currency, as_of_trade_id, trades, wins, losses,
       breakevens, win_rate, nt_percent_profitable, gross_profit, gross_loss, net_profit,
       avg_win, avg_loss, payoff_ratio, profit_factor, expectancy, max_drawdown,
       max_drawdown_pct, current_drawdown, recovery_factor, trading_days, sharpe, sortino,
       nt_sharpe_monthly, sqn, sqn_basis, avg_r, longest_win_streak, longest_loss_streak,
       avg_mae, avg_mfe, avg_etd, entry_efficiency, exit_efficiency, total_efficiency,
       first_exit, last_exit, snapshot_id, projected_at
FROM performance_v1
WHERE trades > 0;
