"""The e-mail channel: one plain-text message per alert over SMTP (STARTTLS, TLS or plain),
the server's certificate verified against the system's CAs or a ``ca_file``; a scheduled report
as one message with its HTML inline (plots as attached PNG images, which every mail reader
shows), a plain-text alternative, and its PDF attached."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage, MIMEPart
from email.utils import formatdate, make_msgid

from alerts.config import Table
from alerts.errors import DeliveryError
from alerts.render import one_line, subject, text_body
from alerts.report_message import ReportMessage
from alerts.routing import EVERYTHING, Routing
from schemas.events import AlertChanged

log = logging.getLogger("fillstream.alerts")

SECURITIES = ("starttls", "tls", "none")
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"
    """``starttls`` (upgrade after connecting, required), ``tls`` (TLS from the start) or
    ``none`` (no encryption, for a relay on this machine)."""
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    """A PEM file of the CAs to trust instead of the system's (a private CA)."""
    timeout: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailChannel:
    name: str
    smtp: SmtpSettings
    routing: Routing = EVERYTHING

    def wants(self, alert: AlertChanged) -> bool:
        return self.routing.wants(alert)

    def send(self, alert: AlertChanged) -> None:
        self._deliver(self.message(alert))

    def send_report(self, report: ReportMessage) -> None:
        self._deliver(self.report_message(report))

    def _deliver(self, message: EmailMessage) -> None:
        smtp = self.smtp
        try:
            with self._connect() as client:
                if smtp.security == "starttls":
                    client.starttls(context=self._tls())
                if smtp.username is not None:
                    client.login(smtp.username, smtp.password or "")
                refused = client.send_message(message, smtp.sender, list(smtp.recipients))
        except smtplib.SMTPAuthenticationError as e:
            raise DeliveryError(
                self.name, f"{smtp.host}:{smtp.port} refused the login of {smtp.username!r}"
                f" ({e.smtp_code})",
            ) from e  # fmt: skip
        except smtplib.SMTPNotSupportedError as e:
            raise DeliveryError(self.name, f"{smtp.host}:{smtp.port}: {e}") from e
        except (smtplib.SMTPException, OSError) as e:
            raise DeliveryError(self.name, f"{smtp.host}:{smtp.port}: {_reason(e)}") from e
        if refused:
            log.warning("%s: %s refused %s", self.name, smtp.host, ", ".join(sorted(refused)))

    def message(self, alert: AlertChanged) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = subject(alert)
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(self.smtp.recipients)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.smtp.sender.rpartition("@")[2] or None)
        message["X-Fillstream-Alert"] = one_line(alert.alert_id)
        message.set_content(text_body(alert))
        return message

    def report_message(self, report: ReportMessage) -> EmailMessage:
        """multipart/mixed: the text and the HTML (multipart/alternative, the HTML's plots as
        multipart/related PNG parts), then the PDF. Its Message-ID is the report's and the
        channel's, so a reader's mail system can tell a copy sent twice."""
        message = EmailMessage()
        domain = self.smtp.sender.rpartition("@")[2] or "fillstream.invalid"
        message["Subject"] = report.subject
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(self.smtp.recipients)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<report.{report.kind}.{report.first}.{self.name}@{domain}>"
        message["X-Fillstream-Report"] = f"{report.kind} {report.first}"
        message.set_content(report.text())
        message.add_alternative(report.html, subtype="html")
        html = message.get_body(preferencelist=("html",))
        assert isinstance(html, MIMEPart)
        for cid, png in report.images.items():
            html.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>",
                             filename=f"{cid}.png")  # fmt: skip
        message.add_attachment(report.pdf, maintype="application", subtype="pdf",
                               filename=report.file_name)  # fmt: skip
        return message

    def _connect(self) -> smtplib.SMTP:
        smtp = self.smtp
        if smtp.security == "tls":
            return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=self._tls())
        return smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.smtp.ca_file)


def email_channel(name: str, table: Table, routing: Routing) -> EmailChannel:
    """An ``EmailChannel`` from its ``[channels.<name>]`` table (``type = "email"``)."""
    security = table.choice("security", SECURITIES, "starttls")
    username = table.optional_text("username")
    password = table.secret("password_env") if username is not None else None
    if username is None and table.optional_text("password_env") is not None:
        raise table.error("password_env", "is given without a username")
    if username is not None and security == "none":
        raise table.error(
            "username", "needs security = starttls or tls: the password would cross in clear"
        )
    smtp = SmtpSettings(
        host=table.required_text("host"),
        port=table.integer("port", _DEFAULT_PORTS[security], 1, 65535),
        security=security,
        sender=_address(table, "sender", table.required_text("sender")),
        recipients=tuple(_address(table, "recipients", r) for r in table.texts("recipients")),
        username=username,
        password=password,
        ca_file=table.ca_file(),
        timeout=table.seconds("timeout", 10.0),
    )
    table.refuse_unknown("email")
    return EmailChannel(name=name, smtp=smtp, routing=routing)


def _address(table: Table, key: str, address: str) -> str:
    local, at, domain = address.partition("@")
    if not (local and at and domain) or any(c.isspace() or c in "<>,\"'" for c in address):
        raise table.error(key, f"must be e-mail addresses like ops@example.com, was {address!r}")
    return address


def _reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error.decode(errors="replace") if isinstance(
            error.smtp_error, bytes) else str(error.smtp_error)  # fmt: skip
        return f"{error.smtp_code} {text}".strip()
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate not trusted ({error.verify_message}); set ca_file for a private CA"
    return str(error) or type(error).__name__
