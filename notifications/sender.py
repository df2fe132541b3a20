"""The aiosmtplib sender: one SMTP connection per batch, one multipart (text + HTML) message per row.

``smtp_connection(config)`` opens the connection (TLS / STARTTLS / login from the settings) and
yields a ``Mailer``; ``Mailer.send`` raises ``MessageRefused`` for anything that concerns that one
message — the server refused it, or its address cannot go on an SMTP command line — after resetting
the envelope, so the connection stays usable for the next one; only connection errors (``OSError``:
refused, dropped, timed out, TLS) go through and stop the batch.

``build_message`` refuses (``InvalidHeader``, with the Italian reason) a recipient that is not one bare
address, and a recipient or subject carrying a control character or a line break: the email library
would otherwise raise ``HeaderParseError`` or write a header of the attacker's choosing.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime

import aiosmtplib

from models.text import first_control, mailbox_problem
from registro.settings import Settings

LOCAL_SMTP_HOST = "127.0.0.1"  # empty smtp_host: the local capture server of the embedded default
# connection refused, dropped or timed out, TLS failures: aiosmtplib's own ones are OSErrors too
CONNECTION_ERRORS = (OSError,)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    mail_from: str
    username: str = ""
    password: str = ""
    use_tls: bool = False
    start_tls: bool = False
    ca_file: str = ""
    timeout: float = 30.0
    connections: int = 1  # connections a delivery run sends over at once (tasks.delivery)

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        return cls(
            host=settings.smtp_host or LOCAL_SMTP_HOST,
            port=settings.smtp_port,
            mail_from=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            use_tls=settings.smtp_use_tls,
            start_tls=settings.smtp_start_tls,
            ca_file=settings.smtp_ca_file,
            connections=settings.smtp_connections,
        )


class InvalidHeader(ValueError):
    """A header value this message cannot carry; the argument is the Italian reason, for the outbox."""


class MessageRefused(Exception):
    """This message could not be sent (refused by the server, or an address the SMTP line cannot carry);
    ``permanent`` for 5xx codes: the same message would be refused again."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}".strip())
        self.code = code
        self.message = message

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600


def check_headers(*, recipient: str, subject: str) -> None:
    """Raises ``InvalidHeader`` with the reason if the recipient or the subject cannot be written as is."""
    for what, value in (("indirizzo del destinatario", recipient), ("oggetto", subject)):
        found = first_control(value)
        if found is not None:
            position, name = found
            raise InvalidHeader(
                f"{what} non valido: alla posizione {position} c'è un carattere non ammesso in "
                f"un'intestazione, dove aggiungerebbe righe al messaggio: {name}"
            )
    problem = mailbox_problem(recipient)
    if problem is not None:
        raise InvalidHeader(f"indirizzo del destinatario non valido: {problem}")


def message_id(idempotency_key: str, mail_from: str) -> str:
    """Stable Message-ID from the outbox key: a resent copy is recognisable as the same message."""
    domain = mail_from.rpartition("@")[2] or "registro.localhost"
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@{domain}>"


def build_message(
    *,
    recipient: str,
    subject: str,
    body_text: str,
    body_html: str,
    idempotency_key: str,
    mail_from: str,
    date: datetime,
) -> bytes:
    """The message as sent (multipart/alternative: text and HTML, UTF-8). Built with the compat32 MIME
    classes: a third of the cost of ``EmailMessage`` per mail, which bounds the delivery rate.
    Raises ``InvalidHeader`` for a recipient or subject it must not write (``check_headers``)."""
    check_headers(recipient=recipient, subject=subject)
    message = MIMEMultipart("alternative")
    message["From"] = mail_from
    message["To"] = recipient
    message["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]  # encoded-word for non-ASCII
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(idempotency_key, mail_from)
    message["Auto-Submitted"] = "auto-generated"
    message.attach(MIMEText(body_text, "plain", "utf-8"))
    message.attach(MIMEText(body_html, "html", "utf-8"))
    return message.as_bytes()


class Mailer:
    def __init__(self, smtp: aiosmtplib.SMTP, mail_from: str) -> None:
        self._smtp = smtp
        self._mail_from = mail_from

    async def send(self, message: bytes, recipient: str) -> None:
        """Returns once the server accepted the message (250 after DATA); see the module docstring."""
        try:
            await self._smtp.sendmail(self._mail_from, [recipient], message)
        except aiosmtplib.SMTPRecipientsRefused as error:  # aiosmtplib has reset the envelope
            first = error.recipients[0] if error.recipients else None
            raise MessageRefused(first.code if first else 550, first.message if first else str(error)) from error
        except CONNECTION_ERRORS:
            raise
        except aiosmtplib.SMTPResponseException as error:  # sender refused, data refused... (reset done)
            raise MessageRefused(error.code, error.message) from error
        except (ValueError, aiosmtplib.SMTPException) as error:
            # raised between commands (e.g. an address that cannot be encoded, after MAIL FROM was
            # accepted): the envelope is left open, and the next message would get "503 nested MAIL"
            await self.reset()
            raise MessageRefused(553, f"indirizzo non inviabile al server di posta: {error}") from error

    async def reset(self) -> None:
        """RSET: a clean envelope for the next message; only a connection error goes through."""
        with suppress(aiosmtplib.SMTPResponseException):
            await self._smtp.rset()


@asynccontextmanager
async def smtp_connection(config: SmtpConfig) -> AsyncIterator[Mailer]:
    """One connection for a whole batch; raises ``aiosmtplib.SMTPException``/``OSError`` if unreachable."""
    smtp = aiosmtplib.SMTP(
        hostname=config.host,
        port=config.port,
        use_tls=config.use_tls,
        start_tls=config.start_tls if not config.use_tls else False,
        cert_bundle=config.ca_file or None,
        timeout=config.timeout,
    )
    await smtp.connect()
    try:
        if config.username:
            await smtp.login(config.username, config.password)
        yield Mailer(smtp, config.mail_from)
    finally:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()
