"""The NinjaScript archive: the AddOn, its helpers and the sample strategy as the zip NinjaTrader 8
installs with Tools > Import > NinjaScript Add-On (``make ninjascript``).

The layout is the one NinjaTrader's own Tools > Export > NinjaScript Add-On writes, as archives it
exported show (nt-jimdooms/NinjaScripts ``MySharedDrawMethodTest.zip``, stix420/ninjatrader
``GexBot.zip``): each source under the folder of its kind with backslashes in the entry name
(``AddOns\\X.cs``, ``Strategies\\Y.cs``), ``Info.xml`` at the root (UTF-8 with a byte order mark,
CRLF line ends) naming the NinjaTrader version, and ``AdditionalReferences.txt`` at the root (UTF-8
without a mark, CRLF), one assembly reference a line, which the import adds to NinjaScript's
references before it compiles.

The archive is reproducible: entries in a fixed order with a fixed time, so two builds of the same
sources are the same bytes.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.settings import PROJECT_ROOT

NINJATRADER_VERSION = "8.1.2.1"
"""The NinjaTrader build ``Info.xml`` names: an 8.1 release (the API listing the stubs are held to
is of 8.1; ``Execution.Fee``, which the AddOn reads when present, is 8.1's)."""

REFERENCES = ("System.Net.Http",)
"""The assemblies the sources need beyond what NinjaScript references by default: the HTTP client
(``FillstreamClient``). The tests compile the C# with exactly these
(``tests/fixtures/ninjascript.py`` takes them from here), so the archive cannot list other
references than the code was tested with."""

SOURCES = PROJECT_ROOT / "bridge" / "ninjatrader"
"""``*.cs`` here are AddOns; ``samples/*.cs`` are strategies."""

_FOLDERS = (("", "AddOns"), ("samples", "Strategies"))
_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_CRLF = "\r\n"


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    data: bytes


def project_version() -> str:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    version: str = project["project"]["version"]
    return version


def archive_name(version: str) -> str:
    return f"fillstream-ninjascript-{version}.zip"


def info_xml(ninjatrader_version: str = NINJATRADER_VERSION) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<NinjaTrader>",
        "  <Export>",
        f"    <Version>{ninjatrader_version}</Version>",
        "    <Agile>None</Agile>",
        "  </Export>",
        "</NinjaTrader>",
    ]
    return _CRLF.join(lines).encode("utf-8-sig")


def additional_references(references: Sequence[str] = REFERENCES) -> bytes:
    return "".join(f"{name}.dll{_CRLF}" for name in references).encode("utf-8")


def entries(sources: Path = SOURCES) -> list[Entry]:
    """Every entry of the archive, in the order it is written."""
    found: list[Entry] = []
    for subfolder, folder in _FOLDERS:
        for path in sorted((sources / subfolder).glob("*.cs")):
            found.append(Entry(f"{folder}\\{path.name}", path.read_bytes()))
    if not found:
        raise FileNotFoundError(f"{sources}: no .cs files to pack")
    found.append(Entry("AdditionalReferences.txt", additional_references()))
    found.append(Entry("Info.xml", info_xml()))
    return found


def write(path: Path, archive: Sequence[Entry]) -> Path:
    """Write ``archive`` to ``path`` (beside it first, then renamed: never half an archive)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(partial, "w") as zip_file:
        for entry in archive:
            info = zipfile.ZipInfo(entry.name, _TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0  # MS-DOS/Windows, as NinjaTrader writes its exports
            info.external_attr = 0
            zip_file.writestr(info, entry.data, compresslevel=9)
    partial.replace(path)
    return path


def build(directory: Path, sources: Path = SOURCES) -> Path:
    """``directory/fillstream-ninjascript-<version>.zip`` from the sources."""
    return write(directory / archive_name(project_version()), entries(sources))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.ninjascript",
        description="Build the archive NinjaTrader imports (Tools > Import > NinjaScript Add-On).",
    )
    parser.add_argument("directory", type=Path, help="where to write it (e.g. .fillstream/dist)")
    args = parser.parse_args(argv)
    try:
        path = build(args.directory)
    except OSError as error:
        print(f"ninjascript: {error}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
