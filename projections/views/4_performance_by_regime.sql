-- The trades' figures per account, strategy and regime at entry ('unlabelled': before the
-- instrument's first label), per currency, defined as the performance projection defines them.
-- A win is a trade with net_pnl > 0, a loss < 0; win_rate counts decided trades only. Besides
-- the counts and sums: the average win and loss, the payoff ratio, the expectancy, the
-- drawdowns of the scope's own equity curve (its trades in exit order, the peak starting at 0),
-- the recovery factor, the streaks (a breakeven ends both), the Sharpe ratio per trade (mean /
-- sample standard deviation of net PnL, not annualized), the average MAE and MFE (of the trades
-- that have both), and the first and last exit.
CREATE VIEW performance_by_regime AS
WITH scoped AS (
    SELECT account, strategy, coalesce(regime, 'unlabelled') AS regime, currency,
           trade_id, exit_time, net_pnl, mae, mfe, sign(net_pnl) AS outcome
    FROM trade_regimes
), curve AS (
    SELECT *,
           greatest(max(equity) OVER scope, 0) - equity AS drawdown,
           row_number() OVER scope
             - row_number() OVER (PARTITION BY account, strategy, regime, currency, outcome
                                  ORDER BY exit_time, trade_id) AS run
    FROM (SELECT *, sum(net_pnl) OVER scope AS equity FROM scoped
          WINDOW scope AS (PARTITION BY account, strategy, regime, currency
                           ORDER BY exit_time, trade_id ROWS UNBOUNDED PRECEDING)) s
    WINDOW scope AS (PARTITION BY account, strategy, regime, currency
                     ORDER BY exit_time, trade_id ROWS UNBOUNDED PRECEDING)
), runs AS (
    SELECT account, strategy, regime, currency,
           max(length) FILTER (WHERE outcome > 0) AS longest_win_streak,
           max(length) FILTER (WHERE outcome < 0) AS longest_loss_streak
    FROM (SELECT account, strategy, regime, currency, outcome, run, count(*) AS length
          FROM curve GROUP BY account, strategy, regime, currency, outcome, run) r
    GROUP BY account, strategy, regime, currency
), figures AS (
    SELECT account, strategy, regime, currency,
           count(*) AS trades,
           count(*) FILTER (WHERE net_pnl > 0) AS wins,
           count(*) FILTER (WHERE net_pnl < 0) AS losses,
           sum(net_pnl) AS net_profit,
           coalesce(sum(net_pnl) FILTER (WHERE net_pnl > 0), 0) AS gross_profit,
           coalesce(sum(net_pnl) FILTER (WHERE net_pnl < 0), 0) AS gross_loss,
           avg(net_pnl) AS mean,
           stddev_samp(net_pnl) AS spread,
           max(drawdown) AS max_drawdown,
           (array_agg(drawdown ORDER BY exit_time DESC, trade_id DESC))[1] AS current_drawdown,
           avg(mae) FILTER (WHERE mae IS NOT NULL AND mfe IS NOT NULL) AS avg_mae,
           avg(mfe) FILTER (WHERE mae IS NOT NULL AND mfe IS NOT NULL) AS avg_mfe,
           min(exit_time) AS first_exit,
           max(exit_time) AS last_exit
    FROM curve
    GROUP BY account, strategy, regime, currency
)
SELECT f.account, f.strategy, f.regime, f.currency,
       f.trades, f.wins, f.losses,
       round(f.wins::numeric / nullif(f.wins + f.losses, 0), 6) AS win_rate,
       f.net_profit,
       round(f.mean, 6) AS avg_net_pnl,
       f.gross_profit, f.gross_loss,
       round(f.gross_profit / nullif(-f.gross_loss, 0), 6) AS profit_factor,
       round(f.gross_profit / nullif(f.wins, 0), 6) AS avg_win,
       round(f.gross_loss / nullif(f.losses, 0), 6) AS avg_loss,
       round((f.gross_profit / nullif(f.wins, 0)) / nullif(-f.gross_loss / nullif(f.losses, 0), 0),
             6) AS payoff_ratio,
       round(f.mean, 6) AS expectancy,
       f.max_drawdown,
       f.current_drawdown,
       round(f.net_profit / nullif(f.max_drawdown, 0), 6) AS recovery_factor,
       coalesce(r.longest_win_streak, 0) AS longest_win_streak,
       coalesce(r.longest_loss_streak, 0) AS longest_loss_streak,
       round(f.mean / nullif(f.spread, 0), 6) AS sharpe_per_trade,
       round(f.avg_mae, 6) AS avg_mae,
       round(f.avg_mfe, 6) AS avg_mfe,
       f.first_exit, f.last_exit
FROM figures f
JOIN runs r USING (account, strategy, regime, currency);
