"""Futures contract specifications: what one price point of an instrument is worth.

NinjaTrader names a contract ``ROOT EXPIRY`` (``NQ 12-26``, ``MNQ MAR25``, ``ES 03-27``);
the root before the first space selects the specification. Values are CME Group's
(tick size in price points, point value in currency per 1.0 point per contract).
Bump ``CONTRACTS_VERSION`` whenever a value in ``CONTRACTS`` changes (2: session hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from decimal import Decimal

from domain.errors import UnknownInstrumentError

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
    """The specification of a NinjaTrader instrument (``"NQ 12-26"``, ``"MNQ MAR25"``, ``"ES"``)."""
    root = root_of(instrument)
    spec = _BY_ROOT.get(root)
    if spec is None:
        raise UnknownInstrumentError(instrument, root, _BY_ROOT)
    return spec
