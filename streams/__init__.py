"""Deriving events from events: the pure domain logic the worker's stages call.

The domain modules (matching, contracts, exits, performance, ledger, snapshots) import no Kafka;
the stages (``matching_stage``, ``performance_stages``) adapt them to records, and
``deriver`` runs each stage as a transactional consume-transform-produce loop.
"""

from streams.contracts import CONTRACTS, CONTRACTS_VERSION, ContractSpec, root_of, spec_for
from streams.errors import UnknownInstrumentError
from streams.matching import (
    RECENT_LIMIT,
    Book,
    OpenLot,
    apply,
    book_from_json,
    book_to_json,
    is_duplicate,
    position_key,
    trade_id,
)

__all__ = [
    "CONTRACTS",
    "CONTRACTS_VERSION",
    "RECENT_LIMIT",
    "Book",
    "ContractSpec",
    "OpenLot",
    "UnknownInstrumentError",
    "apply",
    "book_from_json",
    "book_to_json",
    "is_duplicate",
    "position_key",
    "root_of",
    "spec_for",
    "trade_id",
]
