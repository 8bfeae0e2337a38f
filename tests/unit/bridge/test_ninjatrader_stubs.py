"""The NinjaTrader stubs (tests/ninjatrader/*Stubs*.cs) declare NinjaTrader's API as it is: every
type, member and enum value they hold is in tests/ninjatrader/api-listing.txt with the same type,
signature and value, except what is marked [StubOnly]; and the check does fail on a stub that
invents one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixtures import ninjascript


@pytest.fixture(scope="module")
def listing() -> dict[str, ninjascript.ListedType]:
    return ninjascript.read_api_listing()


def differences(
    stubs: list[Path], directory: Path, listing: dict[str, ninjascript.ListedType]
) -> list[str]:
    assembly = ninjascript.compile_cs(stubs, directory / "Stubs.dll", "library")
    return ninjascript.stub_differences(ninjascript.dump_api(assembly, directory), listing)


def test_the_listing_names_its_source_and_no_machine_path(
    listing: dict[str, ninjascript.ListedType],
) -> None:
    text = ninjascript.API_LISTING.read_text(encoding="utf-8")
    header = text.split("\n\n", 1)[0]
    assert "github.com/matdev83/ninjatrader-autodocs" in header
    assert re.search(r"commit [0-9a-f]{40}", header)
    assert not re.search(r"/(home|tmp|work|Users)/|[A-Z]:\\", text)
    # the types the AddOn relies on, with NinjaTrader's own enum values
    assert listing["NinjaTrader.Cbi.MarketPosition"].values == {"Long": 0, "Short": 1, "Flat": 2}
    assert listing["NinjaTrader.Cbi.Operation"].values == {"Add": 0, "Update": 1, "Remove": 2}
    assert "Fee" in listing["NinjaTrader.Cbi.Execution"].properties
    assert "IsSod" in listing["NinjaTrader.Cbi.ExecutionEventArgs"].properties
    assert listing["NinjaTrader.Cbi.Order"].methods["GetOwnerStrategy"] == {
        "StrategyBase GetOwnerStrategy()"
    }
    assert "StrategyBase" in listing["NinjaTrader.NinjaScript.AtmStrategy"].bases


def test_every_stub_agrees_with_the_api_listing(
    tmp_path: Path, listing: dict[str, ninjascript.ListedType]
) -> None:
    assert ninjascript.STUBS, "no tests/ninjatrader/*Stubs*.cs"
    problems = differences(ninjascript.STUBS, tmp_path, listing)
    assert not problems, (
        "stubs that are not NinjaTrader's API (fix them, or mark harness-only "
        "members [StubOnly]):\n" + "\n".join(problems)
    )


def test_the_check_names_an_invented_member_and_a_wrong_value(
    tmp_path: Path, listing: dict[str, ninjascript.ListedType]
) -> None:
    stubs = []
    for path in ninjascript.STUBS:
        text = path.read_text(encoding="utf-8")
        if path.name == "NinjaTraderStubs.cs":
            edits = {
                "NoError = 0, LogOnFailed = 1,": "NoError = 0, LogOnFailed = 1, LoginFailed = 2,",
                "public enum MarketPosition { Long = 0, Short = 1, Flat = 2 }":
                    "public enum MarketPosition { Flat = 0, Long = 1, Short = 2 }",
                "public double Fee { get; set; }": "public decimal Fee { get; set; }\n"
                    "        public int Bogus { get; set; }",
                "public NinjaTrader.NinjaScript.StrategyBase GetOwnerStrategy()":
                    "public NinjaTrader.NinjaScript.StrategyBase GetOwnerStrategy(bool atm)",
                "public enum LogLevel": "public class Invented { }\n\n    public enum LogLevel",
            }  # fmt: skip
            for old, new in edits.items():
                assert text.count(old) == 1, old
                text = text.replace(old, new)
        copy = tmp_path / path.name
        copy.write_text(text, encoding="utf-8")
        stubs.append(copy)

    problems = differences(stubs, tmp_path, listing)

    def named(fragment: str) -> bool:
        return any(fragment in p for p in problems)

    assert named("NinjaTrader.Cbi.ErrorCode.LoginFailed: enum value not in the API listing")
    assert named("NinjaTrader.Cbi.MarketPosition.Flat = 0: the listing has 2")
    assert named("NinjaTrader.Cbi.MarketPosition.Long = 1: the listing has 0")
    assert named("NinjaTrader.Cbi.Execution.Bogus: property not in the API listing")
    assert named(
        "NinjaTrader.Cbi.Execution.Fee: property of type decimal, the listing has ['double']"
    )
    assert named("NinjaTrader.Cbi.Order: StrategyBase GetOwnerStrategy(bool) is not one of")
    assert named("NinjaTrader.Cbi.Invented: type not in the API listing")
    assert len(problems) == 8, problems  # the six edits; nothing else is reported


def test_stub_only_members_are_exempt(
    tmp_path: Path, listing: dict[str, ninjascript.ListedType]
) -> None:
    dump = [
        "type\tclass\tNinjaTrader.Cbi.Execution\tobject\t0",
        "property\tNinjaTrader.Cbi.Execution\tint\tHarnessCounter\t1",
        "property\tNinjaTrader.Cbi.Execution\tdouble\tFee\t0",
        "type\tclass\tNinjaTrader.Cbi.HarnessThing\tobject\t1",
        "method\tNinjaTrader.Cbi.HarnessThing\tvoid\tGo()\t0",
    ]
    assert ninjascript.stub_differences(dump, listing) == []


@pytest.mark.parametrize(
    ("listed", "compared"),
    [
        (
            "System.Collections.ObjectModel.Collection<NinjaTrader.Cbi.Execution>",
            "Collection<Execution>",
        ),
        ("System.Double&", "double&"),
        (
            "System.Collections.Generic.Dictionary<System.DateTime, string>",
            "Dictionary<DateTime,string>",
        ),
        ("MarketPosition", "MarketPosition"),
        (
            "System.Action<NinjaTrader.Data.BarsRequest, ErrorCode, string>",
            "Action<BarsRequest,ErrorCode,string>",
        ),
    ],
)
def test_listed_types_compare_without_namespaces(listed: str, compared: str) -> None:
    assert ninjascript.type_text(listed) == compared
