"""Relabelling history with a new regime classifier (``fillstream regimes relabel``).

The new classifier joins the configured ones (``FILLSTREAM_REGIME`` takes several, each its own
version) in a phase, ``regimes-v<version>``, and the regime stage is rewound to the beginning of
``raw.market`` within it. When the worker runs again, every bar of history is labelled by each
classifier: the new version's labels come in beside the old ones, whose labels come again alike
(the projection keeps one of each), and the old version carries on labelling new bars and
serving the views until ``fillstream regimes serve <version>``. Rolling the phase back
(``fillstream phase rollback regimes-v<version> --execute``) voids the new version's labels and
rebuilds the projection without them; the views then serve the oldest version again.
"""

from __future__ import annotations

from collections.abc import Callable

from control.errors import RelabelError
from control.offsets import Target, apply_rewind, group_positions, plan_rewind, resolve_group
from control.phases import start
from core.control_log import effective_settings, read_log
from core.settings import Settings
from domain.regimes import (
    RegimeParameters,
    format_classifiers,
    format_parameters,
    parse_classifiers,
    parse_parameters,
)

STAGE_GROUP = "streams.regimes"

Say = Callable[[str], None]


def phase_name(version: int) -> str:
    return f"regimes-v{version}"


def relabel(settings: Settings, parameters: str, *, say: Say) -> RegimeParameters:
    """Start relabelling history with the classifier of ``parameters`` (``parse_parameters``'s
    text); the classifier added. See the module's docstring."""
    added = parse_parameters(parameters)
    log = read_log(settings)
    current = parse_classifiers(effective_settings(settings, log).regime)
    for classifier in current:
        if classifier.version == added.version:
            raise RelabelError(
                f"classifier version {added.version} is configured already "
                f"({format_parameters(classifier)}): give the new classifier another version"
            )
    config = {"FILLSTREAM_REGIME": format_classifiers((*current, added))}
    start(settings, phase_name(added.version), config, say=say, then=lambda: _rewind(settings, say))
    return added


def _rewind(settings: Settings, say: Say) -> None:
    """The regime stage back to the beginning of its source, its state emptied."""
    (position,) = group_positions(settings, resolve_group(settings, STAGE_GROUP))
    if not position.partitions:
        say(f"{STAGE_GROUP} has labelled nothing yet: every classifier starts at the beginning")
        return
    moves = plan_rewind(settings, STAGE_GROUP, Target("earliest"))
    apply_rewind(settings, STAGE_GROUP, moves)  # at the beginning the state is empty
    bars = sum((m.current or 0) - m.new for m in moves)
    say(f"{STAGE_GROUP} rewound to the beginning: {bars:,} records to label again")
