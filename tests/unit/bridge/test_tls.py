"""TLS for the bridge (``bridge.tls``): plain HTTP only on loopback, a pair that cannot be
loaded named by its setting, the self-signed pair ``fillstream certs`` makes, and its pin."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import ssl
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.tls import (
    CERT_FILE,
    KEY_FILE,
    CertificateError,
    client_context,
    hosts_of,
    is_loopback,
    self_signed,
    server_context,
    spki_pin,
    write_pair,
)
from core.errors import ConfigError
from core.settings import PROJECT_ROOT, Settings
from deploy.services import local_bridge_url

# made by `openssl req -x509 -newkey ec`; its pin by `openssl x509 -pubkey -noout |
# openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`
KNOWN_CERTIFICATE = b"""-----BEGIN CERTIFICATE-----
MIIBgzCCASmgAwIBAgIUGGGTt1tJRHSyH5xhPdR6qate4UgwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMa25vd24tYW5zd2VyMB4XDTI2MTIwNzA2NDgwNVoXDTM2MTIw
NDA2NDgwNVowFzEVMBMGA1UEAwwMa25vd24tYW5zd2VyMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAE7gkqT0OHxR6ofEBqB9nZW206VcK4ponATLZ5wHTsMyoaapws
4ZO+XBa09OiosFJJbKYeATmd42wPjbKuq5Eev6NTMFEwHQYDVR0OBBYEFLeD2eNl
VWgIxUqLwaOhrr2m0zl+MB8GA1UdIwQYMBaAFLeD2eNlVWgIxUqLwaOhrr2m0zl+
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgG3yGZ8DM9pENC+X8
Nx3Ep4XtgivJL1UAuqKoZcyygZcCIQCc/lVQfPONjl7rwYbde2tSCXx8tQ0qgKWv
TIQXNqj3Ww==
-----END CERTIFICATE-----
"""
KNOWN_PIN = "sha256//QV9w3EjHuGjm0HYSNwzS0fg95RuYeZFEEvIZF5KOX1I="


def bridge_settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"FILLSTREAM_HOME": str(tmp_path), **env})


@pytest.fixture(scope="module")
def pair_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    write_pair(self_signed(["127.0.0.1", "localhost"]), folder)
    return folder


def with_pair(tmp_path: Path, folder: Path, **env: str) -> Settings:
    return bridge_settings(
        tmp_path,
        FILLSTREAM_BRIDGE_TLS_CERT=str(folder / CERT_FILE),
        FILLSTREAM_BRIDGE_TLS_KEY=str(folder / KEY_FILE),
        **env,
    )


# --- where plain HTTP may listen --------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.5", "trading-box"])
def test_other_addresses(host: str) -> None:
    assert not is_loopback(host)


def test_plain_http_on_loopback(tmp_path: Path) -> None:
    assert server_context(bridge_settings(tmp_path), "127.0.0.1") is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "trading-box"])
def test_plain_http_elsewhere_is_refused_naming_the_setting(tmp_path: Path, host: str) -> None:
    with pytest.raises(ConfigError) as caught:
        server_context(bridge_settings(tmp_path, FILLSTREAM_BRIDGE_HOST=host), host)

    assert caught.value.setting == "FILLSTREAM_BRIDGE_HOST"
    message = str(caught.value)
    assert message.startswith(f"FILLSTREAM_BRIDGE_HOST is {host!r}, not a loopback address")
    assert "FILLSTREAM_BRIDGE_TLS_CERT" in message and "fillstream certs" in message
    assert "\n" not in message


def test_the_refusal_names_the_command_line_option_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        server_context(bridge_settings(tmp_path), "0.0.0.0", "--host")
    assert caught.value.setting == "--host"


def test_insecure_bind_allows_plain_http_elsewhere(tmp_path: Path) -> None:
    settings = bridge_settings(tmp_path, FILLSTREAM_BRIDGE_INSECURE_BIND="on")
    assert server_context(settings, "0.0.0.0") is None


def test_tls_anywhere(tmp_path: Path, pair_folder: Path) -> None:
    for host in ("127.0.0.1", "0.0.0.0"):
        context = server_context(with_pair(tmp_path, pair_folder), host)
        assert isinstance(context, ssl.SSLContext)
        assert context.minimum_version == ssl.TLSVersion.TLSv1_2


# --- a pair that cannot be loaded -------------------------------------------------------------


def test_half_a_pair_names_the_missing_half(tmp_path: Path, pair_folder: Path) -> None:
    cert, key = str(pair_folder / CERT_FILE), str(pair_folder / KEY_FILE)
    with pytest.raises(ConfigError) as caught:
        server_context(bridge_settings(tmp_path, FILLSTREAM_BRIDGE_TLS_CERT=cert), "127.0.0.1")
    assert caught.value.setting == "FILLSTREAM_BRIDGE_TLS_KEY"
    with pytest.raises(ConfigError) as caught:
        server_context(bridge_settings(tmp_path, FILLSTREAM_BRIDGE_TLS_KEY=key), "127.0.0.1")
    assert caught.value.setting == "FILLSTREAM_BRIDGE_TLS_CERT"


def test_a_missing_file_is_named(tmp_path: Path, pair_folder: Path) -> None:
    settings = bridge_settings(
        tmp_path,
        FILLSTREAM_BRIDGE_TLS_CERT=str(tmp_path / "nowhere.pem"),
        FILLSTREAM_BRIDGE_TLS_KEY=str(pair_folder / KEY_FILE),
    )
    with pytest.raises(ConfigError) as caught:
        server_context(settings, "0.0.0.0")
    assert caught.value.setting == "FILLSTREAM_BRIDGE_TLS_CERT"
    assert "cannot be read: No such file or directory" in str(caught.value)


def test_a_file_without_a_certificate_is_named(tmp_path: Path, pair_folder: Path) -> None:
    garbage = tmp_path / "cert.pem"
    garbage.write_text("not a certificate\n")
    settings = bridge_settings(
        tmp_path,
        FILLSTREAM_BRIDGE_TLS_CERT=str(garbage),
        FILLSTREAM_BRIDGE_TLS_KEY=str(pair_folder / KEY_FILE),
    )
    with pytest.raises(ConfigError) as caught:
        server_context(settings, "0.0.0.0")
    assert caught.value.setting == "FILLSTREAM_BRIDGE_TLS_CERT"
    assert "holds no PEM certificate" in str(caught.value)


def test_the_key_of_another_certificate_is_named(tmp_path: Path, pair_folder: Path) -> None:
    other = write_pair(self_signed(["other"]), tmp_path / "other")[1]
    settings = bridge_settings(
        tmp_path,
        FILLSTREAM_BRIDGE_TLS_CERT=str(pair_folder / CERT_FILE),
        FILLSTREAM_BRIDGE_TLS_KEY=str(other),
    )
    with pytest.raises(ConfigError) as caught:
        server_context(settings, "0.0.0.0")
    assert caught.value.setting == "FILLSTREAM_BRIDGE_TLS_KEY"
    assert "key values mismatch" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_certificate_given_as_the_key_is_named(tmp_path: Path, pair_folder: Path) -> None:
    cert = str(pair_folder / CERT_FILE)
    settings = bridge_settings(
        tmp_path, FILLSTREAM_BRIDGE_TLS_CERT=cert, FILLSTREAM_BRIDGE_TLS_KEY=cert
    )
    with pytest.raises(ConfigError) as caught:
        server_context(settings, "0.0.0.0")
    assert caught.value.setting == "FILLSTREAM_BRIDGE_TLS_KEY"


def test_the_bridge_refuses_plain_http_elsewhere_in_one_line(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FILLSTREAM_") and key not in ("KAFKA_BOOTSTRAP_SERVERS",)
    }
    env |= {
        "FILLSTREAM_HOME": str(tmp_path),
        "FILLSTREAM_TOKEN": "t" * 24,
        "FILLSTREAM_BRIDGE_HOST": "0.0.0.0",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",  # never reached: the check comes first
    }
    result = subprocess.run(
        [sys.executable, "-m", "fillstream", "bridge"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        "fillstream bridge: configuration error: FILLSTREAM_BRIDGE_HOST is '0.0.0.0', "
        "not a loopback address, and plain HTTP is served on loopback only"
    )
    assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback


# --- the self-signed pair and its pin ---------------------------------------------------------


def test_the_pin_is_the_sha256_of_the_public_key_info() -> None:
    assert spki_pin(KNOWN_CERTIFICATE) == KNOWN_PIN


def test_a_self_signed_pair_for_the_hosts_given() -> None:
    now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    pair = self_signed(["192.168.1.10", "trading-box", "::1"], days=825, now=now)
    certificate = x509.load_pem_x509_certificate(pair.certificate)

    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("192.168.1.10"),
        ipaddress.ip_address("::1"),
    ]
    assert names.get_values_for_type(x509.DNSName) == ["trading-box"]
    assert hosts_of(pair.certificate) == ["192.168.1.10", "trading-box", "::1"]
    assert certificate.not_valid_before_utc <= now
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == timedelta(days=825)
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    assert pair.pin == spki_pin(pair.certificate) != KNOWN_PIN
    assert pair.key.startswith(b"-----BEGIN PRIVATE KEY-----")  # not encrypted


_LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)


@settings(max_examples=10, deadline=None)  # each example makes an RSA key
@given(st.lists(st.builds(".".join, st.lists(_LABEL, min_size=1, max_size=3)), min_size=1))
def test_the_certificate_names_every_host_given(hosts: list[str]) -> None:
    hosts = list(dict.fromkeys(hosts))
    assert hosts_of(self_signed(hosts).certificate) == hosts


def test_the_key_is_written_for_its_owner_only(tmp_path: Path) -> None:
    cert, key = write_pair(self_signed(["h"]), tmp_path / "certs")

    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_an_existing_pair_is_replaced_only_when_forced(tmp_path: Path) -> None:
    first = self_signed(["h"])
    cert, key = write_pair(first, tmp_path)
    second = self_signed(["h"])
    with pytest.raises(CertificateError) as caught:
        write_pair(second, tmp_path)
    assert "exists; pass --force" in str(caught.value)
    assert cert.read_bytes() == first.certificate

    write_pair(second, tmp_path, force=True)
    assert (cert.read_bytes(), key.read_bytes()) == (second.certificate, second.key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_the_client_context_trusts_the_certificate_and_names_a_file_it_cannot_read(
    tmp_path: Path,
) -> None:
    cert, _ = write_pair(self_signed(["127.0.0.1"]), tmp_path)
    context = client_context(cert)
    assert context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED
    assert context.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN
    assert any(c.get("subject") for c in context.get_ca_certs())  # the bridge's, as an anchor
    garbage = tmp_path / "not-a-cert.pem"
    garbage.write_text("hello")
    with pytest.raises(CertificateError) as caught:
        client_context(garbage)
    assert str(garbage) in str(caught.value) and "PEM certificate" in str(caught.value)


@pytest.mark.parametrize(
    ("host", "url"),
    [("127.0.0.1", "https://127.0.0.1:8787"), ("0.0.0.0", "https://127.0.0.1:8787"),
     ("::", "https://127.0.0.1:8787"), ("::1", "https://[::1]:8787"),
     ("10.0.0.5", "https://10.0.0.5:8787")],
)  # fmt: skip
def test_the_local_bridge_url_reaches_every_address_through_loopback(
    host: str, url: str, tmp_path: Path
) -> None:
    cert, key = write_pair(self_signed(["127.0.0.1"]), tmp_path)
    plain = Settings.from_env({"FILLSTREAM_HOME": str(tmp_path), "FILLSTREAM_BRIDGE_HOST": host,
                               "FILLSTREAM_BRIDGE_PORT": "8787"})  # fmt: skip
    tls = dataclasses.replace(plain, bridge_tls_cert=cert, bridge_tls_key=key)
    assert local_bridge_url(tls) == url
    assert local_bridge_url(plain) == url.replace("https://", "http://")
