"""``fillstream instruments list|show|add``: the contract specifications matching values trades
with: the built-in table (``domain.contracts``) and the definitions in ``raw.instruments`` (sent
by the NinjaTrader AddOn, or added here); the newest definition of a root wins."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.imports.instruments import contract_book, publish_definition, read_definitions
from core.settings import Settings
from core.text import json_value, text_table, when
from domain.contracts import ContractBook, ContractSpec, defined_spec
from domain.errors import add_command
from schemas.codec import default_codec
from schemas.events import Envelope, EventId, InstrumentDefined, Source

PRODUCER = "fillstream instruments add"
EXIT_USAGE = 2
_MAX_PLACES = 10
"""Decimal places the event's tick size and point value keep (Avro scale 10)."""

EXAMPLES = """examples:
  fillstream instruments list                    every root: built in, or defined in the log
  fillstream instruments list --json
  fillstream instruments show FGBL               the specification in use and its history
  fillstream instruments add FGBL --tick-size 0.01 --point-value 1000 --currency EUR \\
      --exchange Eurex --name "Euro-Bund"
"""

_SOURCES = {Source.LIVE: "NinjaTrader", Source.IMPORT: "added"}
"""How a definition's source reads in the tables; the built-in table reads ``built-in``."""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillstream instruments",
        description="Contract specifications (tick size, point value, currency) per instrument "
        "root: the built-in table and the definitions in raw.instruments, the newest of a root "
        "first. An import refuses a root that has neither.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser(
        "list", help="every root: the specification in use and where it comes from"
    )
    listing.add_argument("--json", action="store_true", help="print JSON for machines")
    show = commands.add_parser("show", help="one root: the specification in use and its history")
    show.add_argument("root", metavar="ROOT", help="an instrument root, e.g. NQ")
    show.add_argument("--json", action="store_true", help="print JSON for machines")
    add = commands.add_parser(
        "add",
        help="define a root (or redefine one): publishes an InstrumentDefined",
        description="Publish an InstrumentDefined for ROOT to raw.instruments. Matching values "
        "the executions ingested from then on with it, and an import of the root is no longer "
        "refused. A later definition of the same root (added, or sent by NinjaTrader) wins.",
    )
    add.add_argument("root", metavar="ROOT", help="upper-case, without spaces: FGBL of FGBL 03-27")
    add.add_argument("--tick-size", required=True, metavar="T", help="in price points, e.g. 0.25")
    add.add_argument(
        "--point-value", required=True, metavar="V", help="currency per 1.0 point, e.g. 20"
    )
    add.add_argument("--currency", required=True, metavar="C", help="ISO 4217 code, e.g. USD")
    add.add_argument("--exchange", metavar="X", help="e.g. CME, Eurex")
    add.add_argument("--name", metavar="N", help="full name (default: the root)")
    return parser


def main(argv: list[str], settings: Settings | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "add":
        try:
            definition = definition_from(args, datetime.now(UTC))
        except ValueError as e:
            print(f"fillstream instruments add: {e}", file=sys.stderr)
            return EXIT_USAGE
        return _add(settings if settings is not None else Settings.from_env(), definition)
    settings = settings if settings is not None else Settings.from_env()
    book = contract_book(read_definitions(settings, default_codec()))
    if args.command == "list":
        return _list(book, args.json)
    return _show(book, args.root, args.json)


def definition_from(args: argparse.Namespace, now: datetime) -> InstrumentDefined:
    """The ``add`` command's event; ``ValueError`` naming the option on a mistake."""
    root = args.root
    if not root or root != root.strip().upper() or " " in root:
        raise ValueError(
            f"ROOT must be upper-case without spaces (as NQ of NQ 12-26), was {root!r}"
        )
    currency = args.currency
    if len(currency) != 3 or not (currency.isascii() and currency.isalpha() and currency.isupper()):
        raise ValueError(f"--currency must be an ISO 4217 code such as USD, was {currency!r}")
    return InstrumentDefined(
        envelope=Envelope(
            event_id=EventId(f"instrument-{uuid.uuid4().hex}"),
            ts_event=now,
            ts_ingested=now,
            source=Source.IMPORT,
            producer=PRODUCER,
        ),
        root=root,
        name=args.name or root,
        tick_size=_positive("--tick-size", args.tick_size),
        point_value=_positive("--point-value", args.point_value),
        currency=currency,
        exchange=args.exchange,
    )


def _positive(option: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{option} must be a positive decimal such as 0.25, was {text!r}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > _MAX_PLACES:
        raise ValueError(f"{option} takes at most {_MAX_PLACES} decimal places, was {text!r}")
    return value


def _add(settings: Settings, definition: InstrumentDefined) -> int:
    publish_definition(settings, default_codec(), definition)
    builtin = ContractBook().builtin(definition.root)
    replacing = " (in place of the built-in one)" if builtin is not None else ""
    print(
        f"defined {definition.root}{replacing}: tick size {definition.tick_size}, "
        f"point value {definition.point_value} {definition.currency}"
    )
    return 0


def _list(book: ContractBook, as_json: bool) -> int:
    entries = [_entry(book, root) for root in book.roots()]
    if as_json:
        print(json.dumps(entries, indent=2, default=json_value))
        return 0
    headers = ("root", "name", "tick size", "point value", "currency", "exchange", "source")
    rows = [
        (
            e["root"],
            e["name"],
            str(e["tick_size"]),
            str(e["point_value"]),
            e["currency"],
            e["exchange"] or "",
            e["source"] if e["defined_at"] is None else f"{e['source']} {when(e['defined_at'])}",
        )
        for e in entries
    ]
    print(text_table(headers, rows))
    return 0


def _show(book: ContractBook, root: str, as_json: bool) -> int:
    root = root.strip().upper()
    builtin, history = book.builtin(root), book.history(root)
    if builtin is None and not history:
        print(
            f"fillstream instruments show: root {root!r} is neither built in nor defined; "
            f"define it with `{add_command(root)}`",
            file=sys.stderr,
        )
        return 1
    entry = _entry(book, root)
    entry["history"] = [_definition(d) for d in reversed(history)]
    if builtin is not None:
        entry["history"].append({"source": "built-in", **_values(builtin)})
    if as_json:
        print(json.dumps(entry, indent=2, default=json_value))
        return 0
    print(f"{root}: {entry['name']}  ({entry['source']})")
    print(f"  tick size {entry['tick_size']}, point value {entry['point_value']} "
          f"{entry['currency']}, exchange {entry['exchange'] or '-'}")  # fmt: skip
    print("\nhistory (newest first; the first is in use):")
    headers = ("defined", "source", "producer", "tick size", "point value", "currency", "name")
    rows = [
        (
            when(h["defined_at"]) if h.get("defined_at") else "-",
            h["source"],
            h.get("producer") or "-",
            str(h["tick_size"]),
            str(h["point_value"]),
            h["currency"],
            h["name"],
        )
        for h in entry["history"]
    ]
    print(text_table(headers, rows))
    return 0


def _entry(book: ContractBook, root: str) -> dict[str, Any]:
    """A root's specification in use, and where it comes from."""
    newest = book.newest(root)
    if newest is not None:
        return _definition(newest)
    builtin = book.builtin(root)
    assert builtin is not None
    return {"source": "built-in", "defined_at": None, **_values(builtin)}


def _definition(definition: InstrumentDefined) -> dict[str, Any]:
    source = definition.envelope.source
    spec = defined_spec(definition)
    return {
        "root": definition.root,
        "name": definition.name,
        "tick_size": spec.tick_size,
        "point_value": spec.point_value,
        "currency": definition.currency,
        "exchange": definition.exchange,
        "source": _SOURCES.get(source, str(source)),
        "defined_at": definition.envelope.ts_ingested,
        "producer": definition.envelope.producer,
        "instrument": definition.instrument,
        "session_template": definition.session_template,
        "instrument_type": definition.instrument_type,
    }


def _values(spec: ContractSpec) -> dict[str, Any]:
    return {
        "root": spec.root,
        "name": spec.name,
        "tick_size": spec.tick_size,
        "point_value": spec.point_value,
        "currency": spec.currency,
        "exchange": spec.exchange,
    }
