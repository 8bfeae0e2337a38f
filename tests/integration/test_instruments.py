"""Instrument specifications as events, on the real broker: an export with a root outside the
table is refused before publishing, then imports after ``fillstream instruments add``; a live
execution in a new instrument, posted after the AddOn's ``instrument`` event for its root, is
valued with the AddOn's specification."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from core.settings import Settings
from fillstream.commands import imports as cmd_import
from fillstream.commands import instruments as cmd_instruments
from schemas.codec import default_codec
from schemas.events import Event, TradeClosed
from tests.fixtures.ntsamples import EXECUTIONS, stand_in
from tests.fixtures.pipeline import ServiceProcess, end_offsets, execution, post
from tests.fixtures.services import wait_for

pytestmark = pytest.mark.integration

ADD_FGBL = ["add", "FGBL", "--tick-size", "0.01", "--point-value", "1000", "--currency", "EUR"]


def published(settings: Settings, topic: str) -> int:
    return sum(wait_for(lambda: _offsets_or_none(settings, topic), timeout=30).values())


def _offsets_or_none(settings: Settings, topic: str) -> dict[int, int] | None:
    try:
        return end_offsets(settings, topic)
    except KafkaException:  # no leader elected yet
        return None


def events(settings: Settings, topic: str) -> list[Event]:
    """Every committed event of a catalog topic (transaction markers take offsets too: read
    each partition to its end)."""
    name = settings.topic(topic)
    ends = {p: end for p, end in end_offsets(settings, topic).items() if end}
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            "group.id": "tests-instruments",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    try:
        consumer.assign([TopicPartition(name, p, 0) for p in ends])
        found: list[Event] = []
        while ends:
            message = consumer.poll(10)
            assert message is not None, f"{name} not read to its end"
            error = message.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                ends.pop(message.partition() or 0, None)
                continue
            found.append(default_codec().decode(message.value() or b""))
        return found
    finally:
        consumer.close()


def instruments(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """``fillstream instruments ARGV --json`` in this process: its JSON document."""
    assert cmd_instruments.main([*argv, "--json"], settings=settings) == 0
    return json.loads(capsys.readouterr().out)


def test_an_export_with_a_root_outside_the_table_is_refused_then_imports_after_add(
    settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    export = tmp_path / "executions.csv"  # the stand-in's MNQ rows traded as Euro-Bunds
    export.write_bytes(stand_in(EXECUTIONS).read_bytes().replace(b"MNQ JUN26", b"FGBL JUN26"))

    assert cmd_import.main(["executions", str(export)], settings=settings) == 1
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = [line for line in err.splitlines() if "FGBL" in line]
    assert line.startswith("fillstream import: no contract specification for root 'FGBL' (")
    assert "nothing was published" in line
    assert "`fillstream instruments add FGBL --tick-size T --point-value V --currency C`" in line
    assert published(settings, "raw.executions") == 0

    assert cmd_instruments.main(ADD_FGBL + ["--name", "Euro-Bund"], settings=settings) == 0
    assert capsys.readouterr().out.startswith("defined FGBL: tick size 0.01, point value 1000 EUR")
    listed = {e["root"]: e for e in instruments(settings, capsys, "list")}
    assert (listed["FGBL"]["source"], listed["FGBL"]["currency"]) == ("added", "EUR")
    assert (listed["NQ"]["source"], listed["NQ"]["point_value"]) == ("built-in", "20")

    assert cmd_import.main(["executions", str(export)], settings=settings) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("published 21")
    assert published(settings, "raw.executions") == 21


def test_an_added_definition_replaces_the_last_and_show_gives_the_history(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_instruments.main(ADD_FGBL, settings=settings) == 0
    assert cmd_instruments.main(ADD_FGBL[:5] + ["500", "--currency", "CHF"], settings=settings) == 0
    capsys.readouterr()
    shown = instruments(settings, capsys, "show", "FGBL")
    assert (shown["point_value"], shown["currency"], shown["source"]) == ("500", "CHF", "added")
    assert [(h["point_value"], h["currency"]) for h in shown["history"]] == [
        ("500", "CHF"),
        ("1000", "EUR"),
    ]
    assert instruments(settings, capsys, "show", "NQ")["history"] == [
        {
            "source": "built-in",
            "root": "NQ",
            "name": "E-mini Nasdaq-100",
            "tick_size": "0.25",
            "point_value": "20",
            "currency": "USD",
            "exchange": "CME",
        }  # fmt: skip
    ]
    assert cmd_instruments.main(["show", "FDAX"], settings=settings) == 1
    err = capsys.readouterr().err
    assert "root 'FDAX' is neither built in nor defined" in err
    assert "`fillstream instruments add FDAX --tick-size T" in err


def instrument_event(root: str, tick_size: str, point_value: str, currency: str) -> dict[str, Any]:
    """The JSON the AddOn posts the first time it sees a root."""
    return {
        "type": "instrument",
        "ts_event": "2026-09-22T13:30:00Z",
        "source": "live",
        "producer": "fillstream-nt8-addon/0.1.0",
        "root": root,
        "instrument": f"{root} 03-27",
        "name": "Euro-Bund",
        "tick_size": tick_size,
        "point_value": point_value,
        "currency": currency,
        "exchange": "Eurex",
        "instrument_type": "future",
    }


def test_a_live_execution_in_a_new_instrument_uses_the_addons_spec(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge = ServiceProcess(settings, "bridge", settings.bridge_port).start()
    worker = ServiceProcess(settings, "worker", settings.worker_port).start()
    try:
        assert post(settings, instrument_event("FGBL", "0.01", "1000", "EUR"))[0] == 202
        for body in (
            execution("fgbl-1", "buy", "131.20", quantity=2, instrument="FGBL 03-27",
                      ts="2026-09-22T13:35:00Z", commission="0"),
            execution("fgbl-2", "sell", "131.45", quantity=2, instrument="FGBL 03-27",
                      ts="2026-09-22T13:40:00Z", commission="0"),
        ):  # fmt: skip
            assert post(settings, body)[0] == 202
        wait_for(
            lambda: published(settings, "derived.trades") >= 1,
            timeout=60,
            message=f"no trade derived:\n{worker.log_tail()}",
        )
        (trade,) = [e for e in events(settings, "derived.trades") if isinstance(e, TradeClosed)]
        assert (trade.instrument, trade.point_value, trade.currency) == (
            "FGBL 03-27", Decimal("1000"), "EUR",
        )  # fmt: skip
        assert trade.gross_pnl == Decimal("500")  # 0.25 points x 2 contracts x 1000
        assert published(settings, "dead-letter") == 0
    finally:
        worker.stop()
        bridge.stop()
    shown = instruments(settings, capsys, "show", "FGBL")
    assert (shown["source"], shown["producer"]) == ("NinjaTrader", "fillstream-nt8-addon/0.1.0")
