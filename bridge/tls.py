"""TLS for the bridge: which listeners may serve plain HTTP, the server's certificate, its pin,
and a self-signed pair for a bridge that NinjaTrader reaches over the network.

Plain HTTP stays on loopback. A bridge bound to any other address serves HTTPS with
``FILLSTREAM_BRIDGE_TLS_CERT`` and ``FILLSTREAM_BRIDGE_TLS_KEY``; the AddOn then either trusts
the certificate through the machine's certificate store or pins its public key
(``pin=sha256//…`` in ``fillstream.config``: the SHA-256 of the certificate's
SubjectPublicKeyInfo in base64, as curl's ``--pinnedpubkey`` and HPKP write it).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.errors import ConfigError, FillstreamError
from core.settings import Settings

CERT_SETTING = "FILLSTREAM_BRIDGE_TLS_CERT"
KEY_SETTING = "FILLSTREAM_BRIDGE_TLS_KEY"
HOST_SETTING = "FILLSTREAM_BRIDGE_HOST"
INSECURE_SETTING = "FILLSTREAM_BRIDGE_INSECURE_BIND"

CERT_FILE = "bridge-cert.pem"
KEY_FILE = "bridge-key.pem"
VALID_DAYS = 825
"""The longest validity clients that check it (Apple's) accept for a server certificate."""

_LOOPBACK_NAMES = ("localhost",)


class CertificateError(FillstreamError):
    """A certificate pair that cannot be written or read (``path`` says which file)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches: 127.0.0.0/8, ::1 or ``localhost``."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def server_context(
    settings: Settings, host: str, host_setting: str = HOST_SETTING
) -> ssl.SSLContext | None:
    """The TLS context the bridge listens with on ``host``, or None for plain HTTP.

    A ``ConfigError`` naming the setting when only one of the pair is set, when either file
    cannot be loaded, or when ``host`` is not loopback and no certificate is configured
    (unless ``FILLSTREAM_BRIDGE_INSECURE_BIND`` allows it). ``host_setting`` names where
    ``host`` came from (``--host`` when given on the command line).
    """
    cert, key = settings.bridge_tls_cert, settings.bridge_tls_key
    if cert is None and key is not None:
        raise ConfigError(CERT_SETTING, f"is not set while {KEY_SETTING} is: set both, or neither")
    if key is None and cert is not None:
        raise ConfigError(KEY_SETTING, f"is not set while {CERT_SETTING} is: set both, or neither")
    if cert is not None and key is not None:
        return load_server_context(cert, key)
    if is_loopback(host) or settings.bridge_insecure_bind:
        return None
    raise ConfigError(
        host_setting,
        f"is {host!r}, not a loopback address, and plain HTTP is served on loopback only: set "
        f"{CERT_SETTING} and {KEY_SETTING} (`fillstream certs` makes a pair), or bind 127.0.0.1",
    )


def load_server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS 1.2+ server context holding the pair; a ``ConfigError`` naming the setting whose
    file cannot be read or loaded."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for setting, path in ((CERT_SETTING, cert), (KEY_SETTING, key)):
        try:
            path.read_bytes()
        except OSError as e:
            raise ConfigError(setting, f"cannot be read: {e.strerror or e} ({path})") from None
    try:  # a file without a PEM certificate, told apart from a key that does not load
        ssl.create_default_context().load_verify_locations(cafile=str(cert))
    except ssl.SSLError as e:
        reason = _reason(e, "unreadable")
        raise ConfigError(CERT_SETTING, f"holds no PEM certificate ({reason}): {cert}") from None
    try:
        context.load_cert_chain(str(cert), str(key), password=_no_password)
    except ssl.SSLError as e:
        raise ConfigError(
            KEY_SETTING,
            f"cannot be loaded ({_reason(e, 'not PEM, or encrypted')}): it must be the "
            f"unencrypted PEM private key of "
            f"the certificate in {CERT_SETTING}: {key}",
        ) from None
    return context


def _no_password() -> bytes:
    return b""  # an encrypted key then fails to load instead of prompting on the terminal


def _reason(error: ssl.SSLError, otherwise: str) -> str:
    """OpenSSL's reason (``KEY_VALUES_MISMATCH``) in words, when it gives one."""
    return str(error.reason).lower().replace("_", " ") if error.reason else otherwise


def client_context(certificate: Path) -> ssl.SSLContext:
    """How fillstream's own tools (``fillstream demo``) reach a bridge serving ``certificate``:
    the machine's trust store, plus that certificate itself as a trust anchor (a self-signed one
    as ``fillstream certs`` makes, or the leaf a CA signed). Host names are checked."""
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=str(certificate))
    except (OSError, ssl.SSLError) as e:
        raise CertificateError(certificate, f"cannot be read as a PEM certificate ({e})") from None
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def spki_pin(certificate_pem: bytes) -> str:
    """``sha256//<base64>``: the SHA-256 of the certificate's SubjectPublicKeyInfo (DER)."""
    certificate = _load_certificate(certificate_pem)
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256//" + base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def expires(certificate_pem: bytes) -> datetime:
    """When the certificate stops being valid (UTC)."""
    return _load_certificate(certificate_pem).not_valid_after_utc


def hosts_of(certificate_pem: bytes) -> list[str]:
    """The host names and addresses the certificate is for (its subject alternative names)."""
    certificate = _load_certificate(certificate_pem)
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(name.value) for name in names if isinstance(name, x509.DNSName | x509.IPAddress)]


def _load_certificate(certificate_pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(certificate_pem)
    except ValueError:
        raise CertificateError("certificate", "holds no PEM certificate") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfSigned:
    """A self-signed certificate and its key, in PEM."""

    certificate: bytes
    key: bytes

    @property
    def pin(self) -> str:
        return spki_pin(self.certificate)


def self_signed(
    hosts: list[str], *, days: int = VALID_DAYS, now: datetime | None = None
) -> SelfSigned:
    """An RSA 2048 key and a certificate for ``hosts`` (names and IP addresses, the first one
    its common name), valid ``days`` days from ``now``, for a server (``serverAuth``)."""
    if not hosts:
        raise ValueError("a certificate needs at least one host name or address")
    start = (now or datetime.now(UTC)) - timedelta(minutes=5)  # tolerate a clock a bit behind
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, hosts[0][:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fillstream bridge"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(key, hashes.SHA256())
    )
    return SelfSigned(
        certificate=certificate.public_bytes(serialization.Encoding.PEM),
        key=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return x509.DNSName(host)


def write_pair(pair: SelfSigned, folder: Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write ``bridge-cert.pem`` and ``bridge-key.pem`` (mode 600) into ``folder``; an existing
    file is replaced only with ``force``."""
    cert, key = folder / CERT_FILE, folder / KEY_FILE
    if not force:
        for path in (cert, key):
            if path.exists():
                raise CertificateError(
                    path, "exists; pass --force to replace the pair, or --show to print its pin"
                )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_private(key, pair.key)
        cert.write_bytes(pair.certificate)
    except OSError as e:
        raise CertificateError(folder, f"cannot be written: {e.strerror or e}") from None
    return cert, key


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a file only its owner may read, created so from the start."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def listening(settings: Settings, host: str, port: int) -> str:
    """Where the bridge listens, for its log: the URL, and the certificate's pin and expiry."""
    address = f"[{host}]" if ":" in host else host
    cert = settings.bridge_tls_cert
    if cert is None:
        plain = f"http://{address}:{port}"
        if is_loopback(host):
            return plain
        return f"{plain} (plain HTTP off loopback: {INSECURE_SETTING} is on)"
    pem = cert.read_bytes()
    until = expires(pem)
    left = "EXPIRED" if until <= datetime.now(UTC) else f"valid until {until.date()}"
    return f"https://{address}:{port} (certificate pin {spki_pin(pem)}, {left})"
