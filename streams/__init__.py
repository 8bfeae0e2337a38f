"""Deriving events from events: the pure domain logic the worker's stages call.

The domain modules (matching, contracts, exits, performance, ledger, snapshots, the alert rules
and their engine, the regime classifier, the experiment statistics) import no Kafka; the stages
(``matching_stage``, ``performance_stages``, ``alert_stages``) adapt them to records, and
``deriver`` runs each stage as a transactional consume-transform-produce loop.
"""

from domain.alerts.engine import AlertBook
from domain.alerts.rules import Rule, RuleSet, RuleType, load_rules, parse_rules
from domain.contracts import CONTRACTS, CONTRACTS_VERSION, ContractSpec, root_of, spec_for
from domain.errors import StatisticsError, UnknownInstrumentError
from domain.experiments.stats import (
    bootstrap_interval,
    mann_whitney,
    sample_ratio_mismatch,
    start_sequential,
    two_proportion_test,
    welch_test,
)
from domain.matching import (
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
from domain.regimes import (
    RegimeLabel,
    RegimeParameters,
    RegimeState,
    label_bars,
    regime_at,
)
from schemas.events import Regime

__all__ = [
    "AlertBook",
    "CONTRACTS",
    "CONTRACTS_VERSION",
    "RECENT_LIMIT",
    "Book",
    "ContractSpec",
    "OpenLot",
    "Regime",
    "RegimeLabel",
    "RegimeParameters",
    "RegimeState",
    "Rule",
    "RuleSet",
    "RuleType",
    "StatisticsError",
    "UnknownInstrumentError",
    "apply",
    "book_from_json",
    "book_to_json",
    "bootstrap_interval",
    "is_duplicate",
    "label_bars",
    "load_rules",
    "mann_whitney",
    "parse_rules",
    "position_key",
    "regime_at",
    "root_of",
    "sample_ratio_mismatch",
    "spec_for",
    "start_sequential",
    "trade_id",
    "two_proportion_test",
    "welch_test",
]
