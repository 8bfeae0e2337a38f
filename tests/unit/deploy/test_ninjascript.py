"""The NinjaScript archive (``make ninjascript``, ``deploy/ninjascript.py``): exactly the sources
under the folders NinjaTrader's import expects, a manifest and a reference list in the encodings
its own exports use, every source compiling with the listed references, the same bytes from two
builds, and a row in the install guide for every key of ``fillstream.config``."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from deploy import ninjascript
from tests.fixtures.ninjascript import _OPTIONS, STUBS, compile_cs

SOURCES = PROJECT_ROOT / "bridge" / "ninjatrader"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ninjascript.build(tmp_path_factory.mktemp("dist"))


def test_the_archive_holds_every_source_under_its_folder_and_nothing_else(archive: Path) -> None:
    expected = [f"AddOns\\{p.name}" for p in sorted(SOURCES.glob("*.cs"))]
    expected += [f"Strategies\\{p.name}" for p in sorted((SOURCES / "samples").glob("*.cs"))]
    expected += ["AdditionalReferences.txt", "Info.xml"]
    with zipfile.ZipFile(archive) as zip_file:
        assert zip_file.namelist() == expected
        assert zip_file.testzip() is None
        for name in expected[:-2]:
            folder, file_name = name.split("\\")
            source = SOURCES / file_name if folder == "AddOns" else SOURCES / "samples" / file_name
            assert zip_file.read(name) == source.read_bytes()
    assert archive.name == f"fillstream-ninjascript-{ninjascript.project_version()}.zip"
    assert any(name.startswith("Strategies\\") for name in expected), "no sample strategy packed"


def test_info_xml_names_the_ninjatrader_version_as_an_export_does(archive: Path) -> None:
    with zipfile.ZipFile(archive) as zip_file:
        data = zip_file.read("Info.xml")
    assert data.startswith(b"\xef\xbb\xbf")  # NinjaTrader writes it with a byte order mark
    assert b"\n" not in data.replace(b"\r\n", b"")
    root = ElementTree.fromstring(data.decode("utf-8-sig"))
    assert root.tag == "NinjaTrader"
    assert root.findtext("Export/Version") == ninjascript.NINJATRADER_VERSION
    assert ninjascript.NINJATRADER_VERSION.startswith("8.")


def test_the_references_are_the_ones_the_tests_compile_with(archive: Path) -> None:
    with zipfile.ZipFile(archive) as zip_file:
        lines = zip_file.read("AdditionalReferences.txt").decode("utf-8").split("\r\n")
    assert lines[-1] == ""
    assert lines[:-1] == [f"{name}.dll" for name in ninjascript.REFERENCES]
    compiled_with = [option.removeprefix("-r:") for option in _OPTIONS if option.startswith("-r:")]
    assert compiled_with == list(ninjascript.REFERENCES), (
        "tests/fixtures/ninjascript.py compiles the C# with other references than the archive "
        "lists: add a reference to deploy/ninjascript.py REFERENCES, which the fixture reads"
    )


def test_every_source_in_the_archive_compiles_against_the_stubs(
    archive: Path, tmp_path: Path
) -> None:
    unpacked = tmp_path / "unpacked"
    sources: list[Path] = []
    with zipfile.ZipFile(archive) as zip_file:
        for name in zip_file.namelist():
            if name.endswith(".cs"):
                path = unpacked / Path(*name.split("\\"))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(zip_file.read(name))
                sources.append(path)
    assert compile_cs([*sources, *STUBS], tmp_path / "Archive.dll", "library").is_file()


def test_two_builds_are_the_same_bytes(archive: Path, tmp_path: Path) -> None:
    again = ninjascript.build(tmp_path)
    assert again.read_bytes() == archive.read_bytes()
    assert not list(tmp_path.glob("*.partial"))


def test_main_prints_the_archive_and_refuses_a_folder_without_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ninjascript.main([str(tmp_path / "dist")]) == 0
    assert capsys.readouterr().out.strip().endswith(".zip")
    with pytest.raises(FileNotFoundError, match="no .cs files"):
        ninjascript.entries(tmp_path / "empty")


def test_the_install_guide_documents_every_key_of_fillstream_config() -> None:
    client = (SOURCES / "FillstreamClient.cs").read_text(encoding="utf-8")
    parse = client[client.index("public static FillstreamConfig Parse(") :]
    keys = re.findall(r'case "([a-z_]+)":', parse[: parse.index("default:")])
    guide = (PROJECT_ROOT / "docs" / "guides" / "ninjatrader-install.md").read_text()
    assert keys, "no keys found in FillstreamConfig.Parse"
    missing = [key for key in keys if f"| `{key}` |" not in guide]
    assert not missing, f"docs/guides/ninjatrader-install.md: keys without a row: {missing}"
