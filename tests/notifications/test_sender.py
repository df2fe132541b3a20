"""The message the sender builds and the connection settings it reads."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

from notifications.sender import LOCAL_SMTP_HOST, MessageRefused, SmtpConfig, build_message, message_id
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
