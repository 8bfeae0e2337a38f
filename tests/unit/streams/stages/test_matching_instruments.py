"""The matching stage values each execution with the contract specification known when it was
ingested: the newest definition of its root read from ``raw.instruments`` by then, else the
built-in table; a root known by neither goes to the dead-letter topic, naming the command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.context import MarketContext
from domain.contracts import ContractBook
from schemas.codec import default_codec
from schemas.events import ExecutionReported, InstrumentDefined, TradeClosed
from streams.runtime.deriver import Batch, Output, Record
from streams.stages.matching import TRADES_TOPIC, MatchExecutions
from tests.fixtures.stubs import BASE_TIME, buy, instrument_defined, sell

CODEC = default_codec()
GRACE = timedelta(seconds=1)
FGBL = "FGBL 03-27"


def records(executions: list[ExecutionReported]) -> list[Record]:
    return [Record("raw.executions", 0, n, b"k", CODEC.encode(e)) for n, e in enumerate(executions)]


def run(stage: MatchExecutions, executions: list[ExecutionReported]) -> list[Output]:
    """Process ``executions`` in one batch, then tick once the clock is past them all."""
    batch = Batch()
    stage.process(records(executions), batch)
    stage.clock = lambda: datetime(2100, 1, 1, tzinfo=UTC)
    stage.tick(batch, frozenset({0}))
    return batch.outputs


def trades_in(outputs: list[Output]) -> list[TradeClosed]:
    decoded = [CODEC.decode(o.value or b"") for o in outputs if o.topic == TRADES_TOPIC]
    return [t for t in decoded if isinstance(t, TradeClosed)]


def dead_letters(outputs: list[Output]) -> list[dict[str, str]]:
    return [{k: v.decode() for k, v in o.headers} for o in outputs if o.topic == "dead-letter"]


def round_trip(instrument: str = FGBL) -> list[ExecutionReported]:
    """A long of 2 from 131.20 to 131.45 (25 ticks of 0.01)."""
    return [
        buy(instrument=instrument, price="131.20", quantity=2, commission=Decimal(0)),
        sell(instrument=instrument, price="131.45", quantity=2, commission=Decimal(0)),
    ]


def test_an_execution_in_a_defined_root_is_valued_with_its_definition() -> None:
    contracts = ContractBook()
    contracts.define(instrument_defined(ts_ingested=BASE_TIME))
    (trade,) = trades_in(
        run(MatchExecutions(CODEC, grace=GRACE, contracts=contracts), round_trip())
    )
    assert (trade.point_value, trade.currency) == (Decimal("1000"), "EUR")
    assert trade.gross_pnl == Decimal("500")  # 0.25 points x 2 contracts x 1000


def test_a_root_known_by_neither_goes_to_the_dead_letter_topic_naming_the_command() -> None:
    outputs = run(MatchExecutions(CODEC, grace=GRACE), round_trip())
    assert trades_in(outputs) == []
    letters = dead_letters(outputs)
    assert [letter["code"] for letter in letters] == ["unknown_instrument"] * 2
    assert "fillstream instruments add FGBL --tick-size T" in letters[0]["reason"]


def test_a_definition_ingested_after_the_execution_is_not_used() -> None:
    executions = round_trip("NQ 12-26")
    later = executions[-1].envelope.ts_ingested + GRACE + timedelta(microseconds=1)
    contracts = ContractBook()
    contracts.define(instrument_defined("NQ", "0.25", "21", "USD", ts_ingested=later))
    stage = MatchExecutions(CODEC, grace=GRACE, contracts=contracts)
    (trade,) = trades_in(run(stage, executions))
    assert trade.point_value == Decimal("20")  # the built-in table's: what the live run saw


def test_a_definition_ingested_within_the_grace_is_used() -> None:
    executions = round_trip("NQ 12-26")
    within = executions[0].envelope.ts_ingested + GRACE
    contracts = ContractBook()
    contracts.define(instrument_defined("NQ", "0.25", "21", "USD", ts_ingested=within))
    stage = MatchExecutions(CODEC, grace=GRACE, contracts=contracts)
    (trade,) = trades_in(run(stage, executions))
    assert trade.point_value == Decimal("21")


class _InstrumentsFeed:
    """A context reader of one ``raw.instruments`` partition, read by hand in the test."""

    def __init__(self, context: MarketContext, contracts: ContractBook) -> None:
        self.context, self.contracts = context, contracts

    def start(self, since: datetime) -> None:
        self.context.watch("raw.instruments", 0)

    def poll(self, needed: datetime | None) -> None:
        pass

    def read(self, definition: InstrumentDefined) -> None:
        self.contracts.define(definition)
        self.context.passed("raw.instruments", 0, definition.envelope.ts_ingested)


def test_an_execution_waits_until_the_definitions_are_read_through_its_ingestion() -> None:
    context, contracts = MarketContext(), ContractBook()
    feed = _InstrumentsFeed(context, contracts)
    stage = MatchExecutions(
        CODEC,
        grace=GRACE,
        context=context,
        contracts=contracts,
        feed=feed,  # type: ignore[arg-type]
    )
    executions = round_trip()
    outputs = run(stage, executions)
    assert trades_in(outputs) == [] and dead_letters(outputs) == []  # waiting, not refused
    feed.read(instrument_defined(ts_ingested=executions[0].envelope.ts_ingested))
    assert trades_in(run(stage, [])) == []  # the partition may still hold more by then
    after = executions[-1].envelope.ts_ingested + 2 * GRACE
    feed.read(instrument_defined("FDAX", "1", "25", ts_ingested=after))  # read through
    (trade,) = trades_in(run(stage, []))
    assert (trade.point_value, trade.currency) == (Decimal("1000"), "EUR")
