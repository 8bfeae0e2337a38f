-- The same signals traded live and on paper (paper trades: accounts 'PAPER:<account>', source
-- 'paper'): each signal's live trades (all of them, for a position scaled out in parts; prices
-- averaged by quantity) beside its paper trade (one contract), and what lies between them.
-- Slippage is in price points, positive when live did worse than paper (paid more on a long's
-- entry, got less on its exit); its value is in the account currency over the live quantity;
-- the net difference is per contract.
CREATE VIEW paper_comparison AS
WITH live AS (
    SELECT account, signal_id, min(instrument) AS instrument, min(strategy) AS strategy,
           min(variant) AS variant, min(direction) AS direction, sum(quantity) AS quantity,
           min(entry_time) AS entry_time, max(exit_time) AS exit_time,
           trim_scale(round(sum(entry_price * quantity) / sum(quantity), 10)) AS entry_price,
           trim_scale(round(sum(exit_price * quantity) / sum(quantity), 10)) AS exit_price,
           sum(net_pnl) AS net_pnl, min(point_value) AS point_value, min(currency) AS currency
    FROM trades
    WHERE source <> 'paper' AND signal_id IS NOT NULL
    GROUP BY account, signal_id
), paper AS (
    SELECT substr(account, 7) AS account, signal_id, min(entry_time) AS entry_time,
           max(exit_time) AS exit_time, min(entry_price) AS entry_price,
           min(exit_price) AS exit_price, sum(net_pnl) AS net_pnl, sum(quantity) AS quantity
    FROM trades
    WHERE source = 'paper' AND left(account, 6) = 'PAPER:' AND signal_id IS NOT NULL
    GROUP BY account, signal_id
)
SELECT l.signal_id, l.account, l.instrument, l.strategy, l.variant, l.direction, l.quantity,
       p.quantity AS paper_quantity,
       l.currency,
       l.entry_time AS live_entry_time, p.entry_time AS paper_entry_time,
       l.entry_price AS live_entry_price, p.entry_price AS paper_entry_price,
       l.exit_time AS live_exit_time, p.exit_time AS paper_exit_time,
       l.exit_price AS live_exit_price, p.exit_price AS paper_exit_price,
       l.net_pnl AS live_net_pnl, p.net_pnl AS paper_net_pnl,
       trim_scale(round(l.net_pnl / l.quantity - p.net_pnl / p.quantity, 10))
           AS net_difference_per_contract,
       s.sign * (l.entry_price - p.entry_price) AS entry_slippage,
       s.sign * (p.exit_price - l.exit_price) AS exit_slippage,
       s.sign * ((l.entry_price - p.entry_price) + (p.exit_price - l.exit_price))
           * l.point_value * l.quantity AS slippage_value
FROM live l
JOIN paper p USING (account, signal_id)
CROSS JOIN LATERAL (SELECT CASE l.direction WHEN 'short' THEN -1 ELSE 1 END AS sign) s;
