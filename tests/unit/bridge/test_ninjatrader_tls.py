"""The AddOn's side of TLS (``FillstreamPin`` in ``FillstreamClient.cs``, under Mono): the pin
it computes from a certificate is the one ``fillstream certs`` prints, for every kind of key,
and ``pin=`` is read from ``fillstream.config`` as ``fillstream certs`` writes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from bridge.tls import self_signed, spki_pin
from tests.fixtures.tlsprobe import build_probe, run_probe, write_config
from tests.unit.bridge.test_tls import KNOWN_CERTIFICATE, KNOWN_PIN

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_probe(tmp_path_factory.mktemp("tlsprobe"))


def certificate(key: PrivateKey, name: str) -> bytes:
    """A self-signed certificate of ``key``, in PEM (issued by a CA key of another kind would
    not change its SubjectPublicKeyInfo)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, algorithm)
    )
    return built.public_bytes(serialization.Encoding.PEM)


def der(pem: bytes, path: Path) -> str:
    path.write_bytes(x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER))
    return str(path)


def test_the_addon_computes_the_pin_fillstream_certs_prints(probe: Path, tmp_path: Path) -> None:
    pems = [
        KNOWN_CERTIFICATE,
        self_signed(["192.168.1.10", "trading-box"]).certificate,
        certificate(rsa.generate_private_key(public_exponent=65537, key_size=4096), "rsa-4096"),
        certificate(ec.generate_private_key(ec.SECP256R1()), "p-256"),
        certificate(ec.generate_private_key(ec.SECP384R1()), "p-384"),
        certificate(ed25519.Ed25519PrivateKey.generate(), "ed25519"),
    ]
    files = [der(pem, tmp_path / f"{i}.der") for i, pem in enumerate(pems)]

    pins = run_probe(probe, "pin", *files).splitlines()

    assert pins == [spki_pin(pem) for pem in pems]
    assert pins[0] == KNOWN_PIN


def test_a_truncated_certificate_has_no_pin(probe: Path, tmp_path: Path) -> None:
    whole = Path(der(KNOWN_CERTIFICATE, tmp_path / "whole.der")).read_bytes()
    files = []
    for size in (0, 1, 10, 200, len(whole) // 2, len(whole) - 1):
        (tmp_path / f"cut-{size}.der").write_bytes(whole[:size])
        files.append(str(tmp_path / f"cut-{size}.der"))

    lines = run_probe(probe, "pin", *files).splitlines()

    assert len(lines) == len(files) and all(line.startswith("unreadable: ") for line in lines)


def test_pins_are_read_from_the_config(probe: Path, tmp_path: Path) -> None:
    other = spki_pin(self_signed(["h"]).certificate)
    config = write_config(
        tmp_path / "fillstream.config",
        url="https://192.168.1.10:8787",
        token="t" * 24,
        pin=f"{KNOWN_PIN.replace('sha256', 'SHA256')} ; {other};{KNOWN_PIN}",
    )

    output = run_probe(probe, "config", str(config))

    assert output.splitlines() == [f"pin: {KNOWN_PIN}", f"pin: {other}"]


@pytest.mark.parametrize(
    "pin",
    [
        KNOWN_PIN.removeprefix("sha256//"),  # the prefix names the hash
        "sha1//" + KNOWN_PIN.removeprefix("sha256//"),
        KNOWN_PIN[:-4] + "=",  # not 32 bytes
        "sha256//not base64!",
    ],
)
def test_a_bad_pin_is_reported_and_left_out(probe: Path, tmp_path: Path, pin: str) -> None:
    config = write_config(
        tmp_path / "fillstream.config", url="https://h:8787", token="t" * 24, pin=pin
    )

    output = run_probe(probe, "config", str(config))

    assert not output.startswith("pin: "), output
    reason = "must be sha256// and the base64 SHA-256 of the bridge's public key"
    assert f"line 3: pin: {reason}, as fillstream certs prints it; was '{pin}'" in output


def test_a_pin_with_plain_http_is_reported(probe: Path, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "fillstream.config", url="http://127.0.0.1:8787", token="t" * 24, pin=KNOWN_PIN
    )

    output = run_probe(probe, "config", str(config))

    assert "pin is set but url is not https://" in output
