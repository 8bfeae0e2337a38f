"""``fillstream certs``: a self-signed certificate and key for the bridge, so that NinjaTrader on
another machine posts over HTTPS; prints the settings the bridge needs and the two lines of
``fillstream.config`` (``url=`` and ``pin=``) the AddOn needs."""

from __future__ import annotations

import argparse
import shlex
import socket
from pathlib import Path

from bridge.tls import (
    CERT_FILE,
    CERT_SETTING,
    HOST_SETTING,
    KEY_FILE,
    KEY_SETTING,
    VALID_DAYS,
    CertificateError,
    expires,
    hosts_of,
    self_signed,
    spki_pin,
    write_pair,
)
from core.errors import ConfigError
from core.setting_types import Host
from core.settings import Settings

_LOCAL = ("localhost", "127.0.0.1")
"""Always in the certificate too, so that tools on the bridge's machine can verify it."""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fillstream certs", description=__doc__)
    parser.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name or IP address NinjaTrader reaches the bridge by (repeat for several; "
        "the first goes into url=); default: this machine's name. localhost and 127.0.0.1 are "
        "always added",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write bridge-cert.pem and bridge-key.pem (default $FILLSTREAM_HOME/certs)",
    )
    parser.add_argument(
        "--days", type=int, default=VALID_DAYS, help=f"validity in days (default {VALID_DAYS})"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing pair")
    parser.add_argument(
        "--show",
        action="store_true",
        help="write nothing: print the pin and settings of the certificate already there "
        "(FILLSTREAM_BRIDGE_TLS_CERT when set and no --out is given)",
    )
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    hosts = [_host(name) for name in args.host]
    folder = (args.out or settings.home / "certs").expanduser().resolve()
    if args.show:
        return _show(settings, folder if args.out else None, hosts)
    if not 1 <= args.days <= 3650:
        raise ConfigError("--days", f"must be from 1 to 3650, was {args.days}")
    hosts = list(dict.fromkeys([*(hosts or [socket.gethostname()]), *_LOCAL]))
    pair = self_signed(hosts, days=args.days)
    cert, key = write_pair(pair, folder, force=args.force)
    print(f"wrote {cert} and {key} (mode 600) for {', '.join(hosts)}")
    _instructions(settings, cert, key, pair.certificate, hosts[0])
    return 0


def _host(name: str) -> str:
    try:
        return Host("").read("--host", name.strip("[]"))
    except ConfigError:
        raise ConfigError("--host", f"must be a host name or an IP address, was {name!r}") from None


def _show(settings: Settings, folder: Path | None, hosts: list[str]) -> int:
    """The lines for the pair in ``folder``, else the configured one, else the default's."""
    if folder is None and settings.bridge_tls_cert and settings.bridge_tls_key:
        cert, key = settings.bridge_tls_cert, settings.bridge_tls_key
    else:
        folder = folder or settings.home / "certs"
        cert, key = folder / CERT_FILE, folder / KEY_FILE
    try:
        pem = cert.read_bytes()
        names = hosts_of(pem)
    except OSError as e:
        reason = f"cannot be read ({e.strerror}); run `fillstream certs` to make one"
        raise CertificateError(cert, reason) from None
    except CertificateError as e:
        raise CertificateError(cert, e.reason) from None
    _instructions(settings, cert, key, pem, (hosts or names or [socket.gethostname()])[0])
    return 0


def _instructions(settings: Settings, cert: Path, key: Path, pem: bytes, host: str) -> None:
    address = f"[{host}]" if ":" in host else host
    print(f"certificate valid until {expires(pem).date()}; pin {spki_pin(pem)}")
    print()
    print("In the environment of the bridge (fillstream up, or fillstream bridge):")
    print(f"  {HOST_SETTING}=0.0.0.0")
    print(f"  {CERT_SETTING}={shlex.quote(str(cert))}")
    print(f"  {KEY_SETTING}={shlex.quote(str(key))}")
    print()
    print("In fillstream.config on the NinjaTrader machine (Documents\\NinjaTrader 8):")
    print(f"  url=https://{address}:{settings.bridge_port}")
    print(f"  pin={spki_pin(pem)}")
