"""The pre-trade gate: rules, state, sizing and confidence calibration (pure)."""

from domain.gate.decide import Proposal, calibrate, decide
from domain.gate.rules import GateRulesError, RuleKind, Rules, Scope, SizingMethod, parse
from domain.gate.sizing import Sized, size
from domain.gate.state import GateState, Halt

__all__ = [
    "GateRulesError",
    "GateState",
    "Halt",
    "Proposal",
    "RuleKind",
    "Rules",
    "Scope",
    "Sized",
    "SizingMethod",
    "calibrate",
    "decide",
    "parse",
    "size",
]
