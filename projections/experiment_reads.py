"""Reading an experiment's trades for the guard, a check at a time, only what is new.

Each ``trades`` and ``assignments`` row records the transaction that projected it
(``projected_xid``). A check reads the experiment's trades whose two rows were both projected by
transactions below the current horizon, ``pg_snapshot_xmin``: every transaction below it has
ended, so no row can later appear behind it. The next check reads from that horizon on. A check
thus costs what was projected since the last one, however many trades the experiment has; the
guard's ``Tally`` folds them in.

A tally's first read takes every trade of the experiment, whatever transaction projected it:
rows restored from a backup keep the transaction ids of the cluster they came from, which may
lie beyond this one's horizon (they are read again when the horizon passes them, and counted
once). A projection switching versions (a rebuild) gives its rows new transactions: the tallies
then start over, once. So does a correction of any trade projected since the last check (a
later revision, in ``trade_corrections``): the tally counted the trade's earlier revision, or a
trade since voided, and corrections are rare."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from domain.experiments.model import Experiment
from domain.experiments.report import ArmTrade
from domain.experiments.tally import Tally
from schemas.events import ExperimentArm

_NEW_TRADES = """
SELECT arm, exit_time, net_pnl, trade_id FROM experiment_trades
WHERE experiment_id = %(experiment)s
  AND trade_xid >= %(low)s::xid8 AND trade_xid < %(high)s::xid8
  AND assignment_xid < %(high)s::xid8
UNION ALL
SELECT arm, exit_time, net_pnl, trade_id FROM experiment_trades
WHERE experiment_id = %(experiment)s
  AND assignment_xid >= %(low)s::xid8 AND assignment_xid < %(high)s::xid8
  AND trade_xid < %(high)s::xid8
"""
"""The trades whose later row came in [low, high): each branch is an index range scan."""

_ALL_TRADES = """
SELECT arm, exit_time, net_pnl, trade_id FROM experiment_trades WHERE experiment_id = %s
"""

_CORRECTED = """
SELECT EXISTS (SELECT FROM trade_corrections
               WHERE projected_xid >= %(low)s::xid8 AND projected_xid < %(high)s::xid8)
"""
"""Whether a trade was corrected by a transaction in [low, high)."""

_START = "0"


def horizon(conn: psycopg.Connection[Any]) -> str:
    """Every transaction below it has ended (committed or not)."""
    (xid,) = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").fetchone() or (
        _START,
    )
    return str(xid)


def new_trades(
    conn: psycopg.Connection[Any], experiment_id: str, low: str, high: str
) -> list[ArmTrade]:
    """The experiment's live trades made known by transactions in [low, high)."""
    rows = conn.execute(
        _NEW_TRADES, {"experiment": experiment_id, "low": low, "high": high}
    ).fetchall()
    return _trades(rows)


def all_trades(conn: psycopg.Connection[Any], experiment_id: str) -> list[ArmTrade]:
    """Every live trade of the experiment."""
    return _trades(conn.execute(_ALL_TRADES, (experiment_id,)).fetchall())


def corrected(conn: psycopg.Connection[Any], low: str, high: str) -> bool:
    """Whether a trade correction was projected by a transaction in [low, high)."""
    (found,) = conn.execute(_CORRECTED, {"low": low, "high": high}).fetchone() or (False,)
    return bool(found)


def _trades(rows: list[tuple[Any, ...]]) -> list[ArmTrade]:
    return [
        ArmTrade(arm=ExperimentArm(arm), exit_time=exit_time, net_pnl=net, trade_id=trade_id)
        for arm, exit_time, net, trade_id in rows
    ]


def _live_versions(conn: psycopg.Connection[Any]) -> tuple[tuple[str, int], ...]:
    rows = conn.execute(
        "SELECT projection, version FROM projection_versions"
        " WHERE state = 'live' AND projection IN ('trades', 'assignments') ORDER BY projection"
    ).fetchall()
    return tuple((name, version) for name, version in rows)


@dataclass(slots=True)
class _Read:
    configured_at: datetime
    tally: Tally
    up_to: str = _START


@dataclass(slots=True)
class Tallies:
    """The guard's tally of each experiment, read on from where its last check stopped."""

    _reads: dict[str, _Read] = field(default_factory=dict)
    _versions: tuple[tuple[str, int], ...] = ()

    def read(
        self, conn: psycopg.Connection[Any], experiments: Sequence[Experiment]
    ) -> dict[str, Tally]:
        """Each experiment's tally with every trade projected by now, by id (an experiment
        configured anew starts over); one horizon for them all."""
        versions = _live_versions(conn)
        if versions != self._versions:
            self._reads.clear()
            self._versions = versions
        high = horizon(conn)
        tallies = {}
        for experiment in experiments:
            name = experiment.spec.experiment_id
            read = self._reads.get(name)
            if (
                read is None
                or read.configured_at != experiment.configured_at
                or (read.up_to != _START and corrected(conn, read.up_to, high))
            ):
                read = self._reads[name] = _Read(experiment.configured_at, Tally())
            if read.up_to == _START:
                read.tally.add(all_trades(conn, name))
            else:
                read.tally.add(new_trades(conn, name, read.up_to, high))
            read.up_to = high
            tallies[name] = read.tally
        return tallies

    def update(self, conn: psycopg.Connection[Any], experiment: Experiment) -> Tally:
        """``experiment``'s tally alone (``read``)."""
        return self.read(conn, [experiment])[experiment.spec.experiment_id]

    def retain(self, experiment_ids: Iterable[str]) -> None:
        """Forget the tallies of the other experiments (ended ones are not checked again)."""
        kept = set(experiment_ids)
        for name in [n for n in self._reads if n not in kept]:
            del self._reads[name]
