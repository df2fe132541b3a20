"""The message the sender builds and the connection settings it reads."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from notifications.sender import (
    LOCAL_SMTP_HOST,
    InvalidHeader,
    MessageRefused,
    SmtpConfig,
    build_message,
    message_id,
)
from registro.settings import Settings


def test_message_is_multipart_with_a_stable_message_id() -> None:
    raw = build_message(
        recipient="rapp@pec.example.it",
        subject="Avvio del procedimento – Distretto «Meccanica»",
        body_text="Gentile rappresentante,\n\nè stato avviato il procedimento.",
        body_html="<p>è stato avviato il procedimento</p>",
        idempotency_key="procedure_started:app1:audit1:rapp@pec.example.it",
        mail_from="registro@regione.example",
        date=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    )
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Avvio del procedimento – Distretto «Meccanica»"
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]  # type: ignore[attr-defined]
    assert parts == ["text/plain", "text/html"]
    assert message["Message-ID"].endswith("@regione.example>")
    assert message["Message-ID"] == message_id(
        "procedure_started:app1:audit1:rapp@pec.example.it", "registro@regione.example"
    )
    assert message_id("a", "x@y.it") != message_id("b", "x@y.it")
    assert "è stato avviato" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_empty_host_means_the_local_capture_server() -> None:
    config = SmtpConfig.from_settings(Settings(smtp_host="", smtp_port=2525, smtp_username="u", smtp_password="p"))
    assert (config.host, config.port, config.username, config.password) == (LOCAL_SMTP_HOST, 2525, "u", "p")
    assert SmtpConfig.from_settings(Settings(smtp_host="smtps.pec.example.it", smtp_use_tls=True)).use_tls


def test_only_5xx_refusals_are_permanent() -> None:
    assert MessageRefused(550, "no such user").permanent
    assert not MessageRefused(452, "mailbox full").permanent


def _build(recipient: str, subject: str = "Esito del procedimento") -> bytes:
    return build_message(
        recipient=recipient, subject=subject, body_text="testo", body_html="<p>testo</p>", idempotency_key="k",
        mail_from="registro@regione.example", date=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("recipient", "subject", "reason"),
    [
        ("pec@x.example\r\nBcc: spia@x.example", "Esito", "indirizzo del destinatario non valido: alla posizione 14"),
        ("pec@x.example\nBcc: spia@x.example", "Esito", "a capo (LF)"),
        ("pec@x.example\u2028Bcc: spia@x.example", "Esito", "separatore di riga (U+2028)"),
        ("pec@x.example", "Esito\r\nBcc: spia@x.example", "oggetto non valido: alla posizione 6"),
        ("pec@x.example", "Esito\x1b[2J", "carattere di escape (ESC)"),
        ("pec@x.example", "Esito\x85altro", "a capo (NEL, U+0085)"),
        ("Mario <mario@pec.example.it>", "Esito", "indicare un solo indirizzo, senza nome"),
        ("a@x.it, b@x.it", "Esito", "indicare un solo indirizzo"),
        ("mario rossi@x.it", "Esito", "contiene spazi"),
        ("distrètto@pec.example.it", "Esito", "solo caratteri ASCII"),
        ("senza-chiocciola", "Esito", "chiocciola"),
        ("", "Esito", "indirizzo mancante"),
    ],
)
def test_headers_with_line_breaks_controls_or_not_one_bare_address_are_refused(
    recipient: str, subject: str, reason: str
) -> None:
    with pytest.raises(InvalidHeader, match=re.escape(reason)):
        _build(recipient, subject)


def test_addresses_of_the_command_line_and_non_ascii_subjects_are_still_built() -> None:
    message = message_from_bytes(_build("funzionario@localhost", "Esito – «Città»"), policy=policy.default)
    assert message["To"] == "funzionario@localhost" and message["Subject"] == "Esito – «Città»"
