"""``fillstream certs``: the pair it writes, and the lines it prints are those the bridge and
the AddOn need."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bridge.tls import CERT_FILE, KEY_FILE, CertificateError, hosts_of, spki_pin
from core.errors import ConfigError
from fillstream.cli import main as cli
from fillstream.commands import certs


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("FILLSTREAM_BRIDGE_TLS_CERT", "FILLSTREAM_BRIDGE_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FILLSTREAM_HOME", str(tmp_path))
    monkeypatch.setenv("FILLSTREAM_BRIDGE_PORT", "9443")
    return tmp_path


def printed(lines: str) -> dict[str, str]:
    """The ``key=value`` lines printed, by key."""
    pairs = (line.strip().partition("=") for line in lines.splitlines() if "=" in line)
    return {key: value for key, _, value in pairs}


def test_a_pair_for_the_hosts_given_and_what_to_configure(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert certs.main(["--host", "192.168.1.10", "--host", "trading-box"]) == 0

    cert, key = home / "certs" / CERT_FILE, home / "certs" / KEY_FILE
    pem = cert.read_bytes()
    assert hosts_of(pem) == ["192.168.1.10", "trading-box", "localhost", "127.0.0.1"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    lines = printed(capsys.readouterr().out)
    assert lines["FILLSTREAM_BRIDGE_TLS_CERT"] == str(cert)
    assert lines["FILLSTREAM_BRIDGE_TLS_KEY"] == str(key)
    assert lines["FILLSTREAM_BRIDGE_HOST"] == "0.0.0.0"
    assert lines["url"] == "https://192.168.1.10:9443"
    assert lines["pin"] == spki_pin(pem)


def test_an_existing_pair_is_kept_unless_forced(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certs.main(["--host", "trading-box"])
    first = (home / "certs" / CERT_FILE).read_bytes()

    with pytest.raises(CertificateError) as caught:
        certs.main(["--host", "trading-box"])
    assert "--force" in str(caught.value)
    assert (home / "certs" / CERT_FILE).read_bytes() == first

    certs.main(["--host", "trading-box", "--force"])
    assert (home / "certs" / CERT_FILE).read_bytes() != first


def test_show_prints_the_pin_of_the_pair_there(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "elsewhere"
    certs.main(["--host", "10.0.0.5", "--out", str(out)])
    made = printed(capsys.readouterr().out)

    assert certs.main(["--show", "--out", str(out)]) == 0
    shown = printed(capsys.readouterr().out)
    assert shown["pin"] == made["pin"] == spki_pin((out / CERT_FILE).read_bytes())
    assert shown["url"] == "https://10.0.0.5:9443"
    assert not (home / "certs").exists()


def test_show_without_a_pair_says_how_to_make_one(home: Path) -> None:
    with pytest.raises(CertificateError) as caught:
        certs.main(["--show"])
    assert "run `fillstream certs`" in str(caught.value)


def test_a_bad_validity_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        certs.main(["--days", "0"])
    assert caught.value.setting == "--days"
    assert cli(["certs", "--days", "4000"]) == 2
    assert capsys.readouterr().err.startswith("fillstream certs: configuration error: --days")


@pytest.mark.parametrize("host", ["", "foo bar", "bad_name", "trading-box."])
def test_a_bad_host_is_refused(host: str) -> None:
    with pytest.raises(ConfigError) as caught:
        certs.main(["--host", host])
    assert str(caught.value) == f"--host must be a host name or an IP address, was {host!r}"
