"""Trading gauges for Prometheus, read from the projections when scraped (so they are right from
a projector's first scrape, restarts and rebuilds included): each account's and strategy's net
profit and drawdowns (all time, the newest performance definitions), and open positions."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import psycopg
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.database import connect
from core.errors import ServiceError
from core.settings import Settings

log = logging.getLogger("fillstream.projector")

_PERFORMANCE = """
SELECT DISTINCT ON (scope, scope_key, currency)
       scope, scope_key, account, coalesce(strategy, ''), currency,
       net_profit, current_drawdown, max_drawdown
FROM performance
WHERE time_window = 'all_time' AND scope IN ('account', 'strategy')
ORDER BY scope, scope_key, currency, definitions_version DESC
"""

_OPEN = """
SELECT account, coalesce(strategy, ''), count(*) FROM positions GROUP BY 1, 2
"""


class TradingCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The families without samples: what registering asks for, without reading the
        projections."""
        yield from _families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        net, drawdown, deepest, positions = _families()
        try:
            with connect(self.settings, connect_timeout=3, autocommit=True) as conn:
                conn.execute("SET statement_timeout = '3s'")
                traded = {}
                for scope, _, account, strategy, currency, *figures in conn.execute(_PERFORMANCE):
                    values = [scope, account, strategy, currency]
                    for family, figure in zip((net, drawdown, deepest), figures, strict=True):
                        family.add_metric(values, float(figure))
                    traded[(account, strategy)] = 0  # flat unless the positions say otherwise
                for account, strategy, count in conn.execute(_OPEN):
                    traded[(account, strategy)] = count
                for (account, strategy), count in sorted(traded.items()):
                    positions.add_metric([account, strategy], count)
        except (psycopg.Error, ServiceError) as e:
            log.warning("trading gauges: cannot read the projections: %s", e)
            return  # no gauges rather than wrong ones
        yield from (net, drawdown, deepest, positions)


def _families() -> tuple[GaugeMetricFamily, ...]:
    """Net profit, drawdown, deepest drawdown and open positions, without samples."""
    labels = ["scope", "account", "strategy", "currency"]
    return (
        GaugeMetricFamily(
            "fillstream_trading_net_profit",
            "Net profit of each account and strategy, all time, in its currency.",
            labels=labels,
        ),
        GaugeMetricFamily(
            "fillstream_trading_drawdown",
            "Current drawdown (below the peak of net profit) of each account and strategy.",
            labels=labels,
        ),
        GaugeMetricFamily(
            "fillstream_trading_max_drawdown",
            "Deepest drawdown of each account and strategy, all time.",
            labels=labels,
        ),
        GaugeMetricFamily(
            "fillstream_trading_open_positions",
            "Open positions (instruments with a quantity other than 0) per account and strategy;"
            " 0 for those that have traded and are flat.",
            labels=["account", "strategy"],
        ),
    )
