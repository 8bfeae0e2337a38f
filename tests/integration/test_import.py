"""``fillstream import`` against the real broker: each fill once, re-imports add nothing, dry runs
and refused files publish nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from bridge.imports import parse_executions, parts
from bridge.imports.kafka import publish
from bridge.parsing import parse_event
from bridge.publisher import kafka_record
from core.settings import PROJECT_ROOT, Settings
from fillstream import cli
from fillstream.commands import imports as cmd_import
from schemas.codec import default_codec
from schemas.events import Event, ExecutionReported, Source
from tests.fixtures.ntsamples import EXECUTIONS, TOPSTEP, data, stand_in
from tests.fixtures.pipeline import end_offsets
from tests.fixtures.services import free_port, wait_for

pytestmark = pytest.mark.integration

NOW = datetime(2026, 9, 22, 14, 0, tzinfo=UTC)


def executions_export() -> Path:
    """The Executions export standing in for the real one (21 fills of three accounts)."""
    return stand_in(EXECUTIONS)


def trades_export() -> Path:
    """A real Trades export (1191 trades, CRLF), copied into ``tests/data``."""
    return data(TOPSTEP)


def run(
    settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, list[str]]:
    """``fillstream import ARGV`` in this process: exit status and the lines printed."""
    code = cmd_import.main(list(argv), settings=settings)
    return code, capsys.readouterr().out.splitlines()


def offsets(settings: Settings, topic: str) -> dict[int, int]:
    """End offset per partition, once every partition of the (maybe brand-new) topic has a
    leader."""
    return dict(wait_for(lambda: _offsets_or_none(settings, topic), timeout=30))


def _offsets_or_none(settings: Settings, topic: str) -> dict[int, int] | None:
    try:
        return end_offsets(settings, topic)
    except KafkaException:  # no leader elected yet
        return None


def published(settings: Settings, topic: str) -> int:
    return sum(offsets(settings, topic).values())


def records(settings: Settings, topic: str) -> list[tuple[bytes | None, dict[str, Any], Event]]:
    """Key, headers and decoded event of every record of a catalog topic."""
    name = settings.topic(topic)
    consumer = Consumer(
        {"bootstrap.servers": settings.bootstrap_servers, "group.id": "tests-import"}
    )
    try:
        ends = offsets(settings, topic)
        consumer.assign([TopicPartition(name, p, 0) for p, end in ends.items() if end])
        wanted = sum(ends.values())
        found: list[tuple[bytes | None, dict[str, Any], Event]] = []
        while len(found) < wanted:
            message = consumer.poll(10)
            assert message is not None and message.error() is None, "records missing"
            headers = dict(message.headers() or [])
            found.append((message.key(), headers, default_codec().decode(message.value() or b"")))
        return found
    finally:
        consumer.close()


def test_an_executions_export_is_published_once(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(settings, capsys, "executions", str(executions_export()))

    assert code == 0, out
    assert (
        out[-1] == f"{settings.topic('raw.executions')}: 21 new, 0 already in the log; published 21"
    )
    assert published(settings, "raw.executions") == 21
    expected = parse_executions(
        executions_export().read_text(), tz=ZoneInfo(cmd_import.DEFAULT_TZ), ts_ingested=NOW
    )
    stored = records(settings, "raw.executions")
    assert {event.envelope.event_id for _, _, event in stored} == {
        e.envelope.event_id for e in expected.events
    }
    for key, headers, event in stored:
        assert isinstance(event, ExecutionReported) and event.envelope.source is Source.IMPORT
        assert key == f"{event.account}|{event.instrument}".encode()
        assert headers == {
            "schema": b"fillstream.ExecutionReported",
            "event_id": event.envelope.event_id.encode(),
        }

    before = offsets(settings, "raw.executions")
    code, out = run(settings, capsys, "executions", str(executions_export()))
    assert code == 0, out
    assert out[-1].endswith(": 0 new, 21 already in the log; published 0")
    assert offsets(settings, "raw.executions") == before


def test_a_fill_already_sent_live_is_not_imported_again(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # the first row, as the NinjaTrader add-on would have posted it to the bridge
    live = parse_event(
        {
            "type": "execution", "ts_event": "2026-02-17T14:58:14.123Z",
            "execution_id": "ef47d307765d4ca9a821eeb87756f360", "account": "Sim101",
            "instrument": "MNQ JUN26", "side": "buy", "quantity": 7, "price": "24810.25",
            "commission": "0", "fees": "0",
        },
        ts_ingested=NOW,
        producer="fillstream-bridge/0.1.0",
    )  # fmt: skip
    publish(settings, [kafka_record(settings, default_codec(), live)])

    code, out = run(
        settings, capsys, "executions", str(executions_export()), str(executions_export())
    )

    assert code == 0, out
    assert out[-1].endswith(
        ": 20 new, 1 already in the log; 21 repeated in the input; published 20"
    )
    assert published(settings, "raw.executions") == 21


def test_a_dry_run_shows_what_would_be_published_and_publishes_nothing(
    settings: Settings,
) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "fillstream", "import", "executions", str(executions_export())]
        + ["--dry-run", "--json"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **settings.to_env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["dry_run"] is True and report["published"] == 0
    assert report["files"][0]["valid"] == 21 and report["files"][0]["rejected"] == []
    assert {c["account"]: c["events"] for c in report["counts"]} == {
        "APEX4471020000011": 6, "APEX4471020000012": 6, "Sim101": 9
    }  # fmt: skip
    assert published(settings, "raw.executions") == 0


def test_a_file_with_a_bad_row_is_refused_whole(
    settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = executions_export().read_text().splitlines()
    lines[9] = lines[9].replace(",24808.50,", ",24808.5x,")  # line 10 of the file
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")

    code, out = run(settings, capsys, "executions", str(bad))

    assert code == 1
    assert "  bad.csv:10  Price: must be a number with '.' before the decimals, was '24808.5x'" in [
        line.replace(str(tmp_path) + "/", "") for line in out
    ]
    assert out[-1].startswith("refused: 1 rejected rows; nothing was published")
    assert published(settings, "raw.executions") == 0

    code, out = run(settings, capsys, "executions", str(bad), "--skip-invalid")
    assert code == 0, out
    assert out[-1].endswith(": 20 new, 0 already in the log; published 20")
    assert published(settings, "raw.executions") == 20


def test_a_large_export_read_in_parts_publishes_the_same(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # every file counts as large, and parts are a few rows: the export is read in 5 parts
    monkeypatch.setattr(cmd_import, "PARALLEL_FROM", 0)
    monkeypatch.setattr(parts, "PART_SIZE", 600)
    read_in_parts: list[int] = []
    read = parts.PartReader.read

    def spy(self: parts.PartReader, text: str, **options: Any) -> Any:
        result = read(self, text, **options)
        read_in_parts.append(0 if result is None else result.rows)
        return result

    monkeypatch.setattr(parts.PartReader, "read", spy)
    lines = executions_export().read_text().splitlines(keepends=True)
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(lines[:16] + [lines[16].replace(",Buy,", ",Hold,", 1)] + lines[17:]))

    code, out = run(settings, capsys, "executions", str(bad), "--workers", "2")
    assert code == 1 and "Action: must be Buy, Sell, Buy to cover or Sell short" in out[-3]
    assert f"{bad}:17" in out[-3] and published(settings, "raw.executions") == 0

    def report(*options: str) -> dict[str, Any]:
        code, out = run(
            settings, capsys, "executions", str(executions_export()), "--json", *options
        )
        assert code == 0, out
        return dict(json.loads("\n".join(out)))

    assert report("--dry-run", "--workers", "2") == report("--dry-run", "--workers", "1")
    assert report("--workers", "2")["published"] == 21
    assert read_in_parts == [21, 21, 21]  # the bad file, a dry run, the import
    expected = parse_executions(
        executions_export().read_text(), tz=ZoneInfo(cmd_import.DEFAULT_TZ), ts_ingested=NOW
    ).events
    stored = records(settings, "raw.executions")
    by_id = {event.envelope.event_id: event for _, _, event in stored}
    assert len(by_id) == 21
    for event in expected:  # the same events, but for the time they were imported
        found = by_id[event.envelope.event_id]
        assert replace(found, envelope=replace(found.envelope, ts_ingested=NOW)) == event
    for key in {k for k, _, _ in stored}:  # in file order per key
        ids = [e.envelope.event_id for k, _, e in stored if k == key]
        assert ids == [e.envelope.event_id for e in expected if e.envelope.event_id in ids]


def test_the_real_trades_export_is_published_once(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(settings, capsys, "trades", str(trades_export()))
    assert code == 0, out
    assert out[-1] == (
        f"{settings.topic('raw.nt-trades')}: 1191 new, 0 already in the log; published 1191"
    )
    assert published(settings, "raw.nt-trades") == 1191

    code, out = run(settings, capsys, "trades", str(trades_export()))
    assert out[-1].endswith(": 0 new, 1191 already in the log; published 0")
    assert published(settings, "raw.nt-trades") == 1191


def test_unreachable_kafka_and_a_missing_file_are_one_line_errors(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert cli.main(["import", "executions", "nowhere.csv"]) == 1
    assert capsys.readouterr().err == "fillstream import: nowhere.csv: no such file\n"

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    assert cli.main(["import", "executions", str(executions_export())]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("fillstream import: kafka: not reachable at 127.0.0.1:")
