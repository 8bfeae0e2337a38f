-- Version 1 of the performance projection: the latest PerformanceSnapshot of every scope and
-- window, per definitions version, and the stable `performance` view over it. A snapshot replaces
-- the row only when it counts at least as many of the scope's trades (scope_trades), so a
-- redelivered older snapshot never rolls the figures back.
CREATE TABLE performance_v1 (
    scope                  text          NOT NULL,
    scope_key              text          NOT NULL,
    time_window            text          NOT NULL,
    window_key             text          NOT NULL,
    definitions_version    integer       NOT NULL,
    account                text          NOT NULL,
    strategy               text,
    variant                text,
    instrument             text,
    scope_trades           bigint        NOT NULL,
    currency               text,
    as_of_trade_id         text,
    trades                 integer       NOT NULL,
    wins                   integer       NOT NULL,
    losses                 integer       NOT NULL,
    breakevens             integer       NOT NULL,
    win_rate               double precision,
    nt_percent_profitable  double precision,
    gross_profit           numeric       NOT NULL,
    gross_loss             numeric       NOT NULL,
    net_profit             numeric       NOT NULL,
    avg_win                numeric,
    avg_loss               numeric,
    payoff_ratio           double precision,
    profit_factor          double precision,
    expectancy             numeric,
    max_drawdown           numeric       NOT NULL,
    max_drawdown_pct       double precision,
    current_drawdown       numeric       NOT NULL,
    recovery_factor        double precision,
    trading_days           integer       NOT NULL,
    sharpe                 double precision,
    sortino                double precision,
    nt_sharpe_monthly      double precision,
    sqn                    double precision,
    sqn_basis              text          NOT NULL,
    avg_r                  double precision,
    longest_win_streak     integer       NOT NULL,
    longest_loss_streak    integer       NOT NULL,
    avg_mae                numeric,
    avg_mfe                numeric,
    avg_etd                numeric,
    entry_efficiency       double precision,
    exit_efficiency        double precision,
    total_efficiency       double precision,
    first_exit             timestamptz,
    last_exit              timestamptz,
    -- lineage: the snapshot event, the trade it is as of, and where it was read
    snapshot_id            text          NOT NULL,
    kafka_topic            text          NOT NULL,
    kafka_partition        integer       NOT NULL,
    kafka_offset           bigint        NOT NULL,
    ts_ingested            timestamptz   NOT NULL,
    projected_at           timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, scope_key, time_window, window_key, definitions_version)
);
CREATE INDEX performance_v1_account ON performance_v1 (account, scope, time_window, window_key);
CREATE INDEX performance_v1_strategy ON performance_v1 (strategy, variant, time_window, window_key);

CREATE VIEW performance AS
SELECT scope, scope_key, time_window, window_key, definitions_version, account, strategy,
       variant, instrument, scope_trades, currency, as_of_trade_id, trades, wins, losses,
       breakevens, win_rate, nt_percent_profitable, gross_profit, gross_loss, net_profit,
       avg_win, avg_loss, payoff_ratio, profit_factor, expectancy, max_drawdown,
       max_drawdown_pct, current_drawdown, recovery_factor, trading_days, sharpe, sortino,
       nt_sharpe_monthly, sqn, sqn_basis, avg_r, longest_win_streak, longest_loss_streak,
       avg_mae, avg_mfe, avg_etd, entry_efficiency, exit_efficiency, total_efficiency,
       first_exit, last_exit, snapshot_id, projected_at
FROM performance_v1;
