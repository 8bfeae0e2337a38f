"""Futures contract specifications: what one price point of an instrument is worth.

NinjaTrader names a contract ``ROOT EXPIRY`` (``NQ 12-26``, ``MNQ MAR25``, ``ES 03-27``);
the root before the first space selects the specification. Values are CME Group's
(tick size in price points, point value in currency per 1.0 point per contract).

The log can define more roots, or redefine one (``InstrumentDefined`` on ``raw.instruments``:
NinjaTrader's ``MasterInstrument`` sent by the AddOn, or ``fillstream instruments add``); a
``ContractBook`` answers with the newest definition of a root, then this table.

Bump ``CONTRACTS_VERSION`` whenever a value in ``CONTRACTS`` changes (2: session hours).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, time
from decimal import Decimal

from domain.errors import UnknownInstrumentError
from schemas.events import InstrumentDefined

CONTRACTS_VERSION = 2

_CHICAGO = "America/Chicago"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractSpec:
    root: str
    name: str
    exchange: str
    tick_size: Decimal
    point_value: Decimal
    currency: str = "USD"
    session_time_zone: str = _CHICAGO
    session_open: time = time(17, 0)
    """CME Globex: the session opens the evening before its trading day, Sunday to Thursday..."""
    session_close: time = time(16, 0)
    """...and closes at 16:00 of the trading day, Monday to Friday (times in the session zone)."""

    @property
    def tick_value(self) -> Decimal:
        """Currency per tick per contract (``tick_size * point_value``)."""
        return self.tick_size * self.point_value


def _spec(root: str, name: str, exchange: str, tick_size: str, point_value: str) -> ContractSpec:
    return ContractSpec(
        root=root,
        name=name,
        exchange=exchange,
        tick_size=Decimal(tick_size),
        point_value=Decimal(point_value),
    )


CONTRACTS: tuple[ContractSpec, ...] = (
    # Equity index
    _spec("ES", "E-mini S&P 500", "CME", "0.25", "50"),
    _spec("MES", "Micro E-mini S&P 500", "CME", "0.25", "5"),
    _spec("NQ", "E-mini Nasdaq-100", "CME", "0.25", "20"),
    _spec("MNQ", "Micro E-mini Nasdaq-100", "CME", "0.25", "2"),
    _spec("YM", "E-mini Dow ($5)", "CBOT", "1", "5"),
    _spec("MYM", "Micro E-mini Dow", "CBOT", "1", "0.5"),
    _spec("RTY", "E-mini Russell 2000", "CME", "0.1", "50"),
    _spec("M2K", "Micro E-mini Russell 2000", "CME", "0.1", "5"),
    # Energy
    _spec("CL", "Crude Oil (WTI)", "NYMEX", "0.01", "1000"),
    _spec("MCL", "Micro WTI Crude Oil", "NYMEX", "0.01", "100"),
    _spec("NG", "Henry Hub Natural Gas", "NYMEX", "0.001", "10000"),
    # Metals
    _spec("GC", "Gold", "COMEX", "0.1", "100"),
    _spec("MGC", "Micro Gold", "COMEX", "0.1", "10"),
    _spec("SI", "Silver", "COMEX", "0.005", "5000"),
    _spec("HG", "Copper", "COMEX", "0.0005", "25000"),
    # Interest rates: ZB ticks 1/32, ZN 1/64 (half of 1/32), ZF 1/128 (quarter of 1/32)
    _spec("ZB", "U.S. Treasury Bond", "CBOT", "0.03125", "1000"),
    _spec("ZN", "10-Year U.S. Treasury Note", "CBOT", "0.015625", "1000"),
    _spec("ZF", "5-Year U.S. Treasury Note", "CBOT", "0.0078125", "1000"),
    # FX
    _spec("6E", "Euro FX", "CME", "0.00005", "125000"),
    _spec("6B", "British Pound", "CME", "0.0001", "62500"),
)

_BY_ROOT: dict[str, ContractSpec] = {spec.root: spec for spec in CONTRACTS}


def root_of(instrument: str) -> str:
    """The contract root of a NinjaTrader instrument name (``"NQ 12-26"`` -> ``"NQ"``)."""
    parts = instrument.split()
    return parts[0].upper() if parts else ""


def spec_for(instrument: str) -> ContractSpec:
    """The built-in specification of a NinjaTrader instrument (``"NQ 12-26"``, ``"ES"``); a
    ``ContractBook`` also knows the roots defined in the log."""
    root = root_of(instrument)
    spec = _BY_ROOT.get(root)
    if spec is None:
        raise UnknownInstrumentError(instrument, root, _BY_ROOT)
    return spec


def defined_spec(definition: InstrumentDefined) -> ContractSpec:
    """The specification an ``InstrumentDefined`` gives its root.

    Session hours are not part of a definition: a root of the built-in table keeps its hours,
    any other root gets the CME Globex defaults (the session template is kept in the log, not
    interpreted)."""
    builtin = _BY_ROOT.get(definition.root)
    spec = ContractSpec(  # with ContractSpec's default hours: CME Globex's
        root=definition.root,
        name=definition.name,
        exchange=definition.exchange or (builtin.exchange if builtin is not None else ""),
        tick_size=_plain(definition.tick_size),
        point_value=_plain(definition.point_value),
        currency=definition.currency,
    )
    if builtin is None:
        return spec
    return replace(
        spec,
        session_time_zone=builtin.session_time_zone,
        session_open=builtin.session_open,
        session_close=builtin.session_close,
    )


def _plain(value: Decimal) -> Decimal:
    """``value`` without the trailing zeros a decoded Avro decimal carries (its scale):
    ``1000.0000000000`` -> ``1000``, ``0.2500000000`` -> ``0.25``."""
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


class ContractBook:
    """Contract specifications: the newest definition of a root in the log, else the built-in
    table (``CONTRACTS``).

    Definitions are folded in log order (``define``). A lookup may be limited to what was
    ingested by a moment (``known_by``): matching asks for the definitions ingested by an
    execution's ingestion time plus the grace, so a replay sees what the live run saw."""

    def __init__(self, builtin: Iterable[ContractSpec] = CONTRACTS) -> None:
        self._builtin: dict[str, ContractSpec] = {spec.root: spec for spec in builtin}
        self._defined: dict[str, list[tuple[InstrumentDefined, ContractSpec]]] = {}
        self._ids: set[str] = set()

    def define(self, definition: InstrumentDefined) -> None:
        """Fold one definition in (read in log order); one read twice counts once."""
        event_id = definition.envelope.event_id
        if event_id in self._ids:
            return
        self._ids.add(event_id)
        spec = defined_spec(definition)
        self._defined.setdefault(definition.root, []).append((definition, spec))

    def spec_for(self, instrument: str, known_by: datetime | None = None) -> ContractSpec:
        """The specification of ``instrument``'s root: its newest definition (ingested by
        ``known_by`` when given), else the built-in one.

        Raises ``UnknownInstrumentError`` naming the root and the command that defines it."""
        root = root_of(instrument)
        for definition, spec in reversed(self._defined.get(root, ())):
            if known_by is None or definition.envelope.ts_ingested <= known_by:
                return spec
        builtin = self._builtin.get(root)
        if builtin is None:
            raise UnknownInstrumentError(instrument, root, self.roots())
        return builtin

    def newest(self, root: str) -> InstrumentDefined | None:
        """The newest definition of ``root`` in the log, if any."""
        defined = self._defined.get(root)
        return defined[-1][0] if defined else None

    def history(self, root: str) -> tuple[InstrumentDefined, ...]:
        """Every definition of ``root``, oldest first."""
        return tuple(definition for definition, _ in self._defined.get(root, ()))

    def builtin(self, root: str) -> ContractSpec | None:
        return self._builtin.get(root)

    def roots(self) -> list[str]:
        """Every root known: built in or defined, sorted."""
        return sorted(self._builtin.keys() | self._defined.keys())

    def unknown_roots(self, instruments: Iterable[str]) -> list[str]:
        """The roots of ``instruments`` that have no specification, sorted."""
        roots = {root_of(instrument) for instrument in instruments}
        return sorted(r for r in roots if r not in self._builtin and r not in self._defined)

    def clear(self) -> None:
        """Forget the definitions, before reading the log again."""
        self._defined.clear()
        self._ids.clear()
