"""Why a trade was closed, read from the closing order's name. Pure.

NinjaTrader names the orders it creates: a managed strategy's ``SetStopLoss`` order is
``Stop loss``, ``SetTrailStop``'s ``Trail stop``, ``SetProfitTarget``'s ``Profit target``, the
session-end exit ``Exit on session close``; ATM strategies name their brackets ``Stop1``,
``Target1``, ``Stop2``…; Chart Trader's and the Positions tab's close buttons give ``Close``
(``Close position``, ``Flatten``), and an order NinjaTrader did not place shows ``External``.
Strategies often name their own bracket orders ``MNQ_Stop_<guid>`` or ``MNQ_Target_<guid>``.

The first rule that matches the name, compared without case, decides:

| rule | reason |
| --- | --- |
| no name | ``unknown`` (``reversal`` when the execution reversed the position) |
| ``stopcancelclose``, or exactly ``close``, ``close position``, ``flatten`` | ``close`` |
| contains ``session`` | ``session_close`` |
| contains ``trail`` | ``trailing_stop`` |
| contains ``stop`` | ``stop`` |
| contains ``target`` or ``profit`` | ``target`` |
| exactly ``external`` | ``external`` |
| contains ``close`` or ``flatten`` | ``close`` |
| any other name | ``signal`` (a strategy's own exit, ``reversal`` when it reversed) |

Bump ``EXIT_RULES_VERSION`` when a rule changes: a rebuild then re-reads every trade's reason.
"""

from __future__ import annotations

from schemas.events import ExitReason

EXIT_RULES_VERSION = 1

_CLOSE_NAMES = frozenset({"close", "close position", "flatten", "flatten everything"})


def exit_reason(order_name: str | None, *, reversed_position: bool = False) -> ExitReason:
    """The reason a trade closed by an order named ``order_name`` was closed.

    ``reversed_position``: the closing execution also opened a position the other way, which is
    the reason when the name names no other (a strategy's entry order that went through zero).
    """
    name = " ".join((order_name or "").split()).casefold()
    if not name:
        return ExitReason.REVERSAL if reversed_position else ExitReason.UNKNOWN
    if "stopcancelclose" in name or name in _CLOSE_NAMES:
        return ExitReason.CLOSE
    if "session" in name:
        return ExitReason.SESSION_CLOSE
    if "trail" in name:
        return ExitReason.TRAILING_STOP
    if "stop" in name:
        return ExitReason.STOP
    if "target" in name or "profit" in name:
        return ExitReason.TARGET
    if name == "external":
        return ExitReason.EXTERNAL
    if "close" in name or "flatten" in name:
        return ExitReason.CLOSE
    return ExitReason.REVERSAL if reversed_position else ExitReason.SIGNAL
