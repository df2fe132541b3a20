"""Outbox delivery against a REAL SMTP server (aiosmtpd on 127.0.0.1), never a mock of aiosmtplib."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update
from sqlmodel import Session, col, select

from models.enums import NotificationStatus
from models.notification import Notification
from notifications.sender import Mailer, MessageRefused, SmtpConfig, build_message, message_id, smtp_connection
from tasks.delivery import BACKOFF_BASE, LEASE, MAX_ATTEMPTS, claim_due, deliver


class Recorder:
    """aiosmtpd handler: keeps what it accepts; refuses some recipients like a real server would."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("inesistente"):
            return "550 5.1.1 casella inesistente"
        if address.startswith("piena"):
            return "452 4.2.2 casella piena, riprovare"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if envelope.rcpt_tos[0].startswith("cade"):  # the connection drops before the server answers
            server.transport.close()
            return "421 4.3.2 chiusura del canale"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int) -> tuple[Controller, Recorder]:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, recorder


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def server(port: int) -> Iterator[Recorder]:
    controller, recorder = start_server(port)
    yield recorder
    controller.stop()


def config(port: int) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, mail_from="registro@regione.example", timeout=5)


def queue(session: Session, now: datetime, *recipients: str, due_in: timedelta = timedelta(0)) -> list[int]:
    rows = [
        Notification(
            idempotency_key=f"decision:app1:audit{i}:{recipient}",
            kind="decision",
            recipient=recipient,
            subject=f"Esito del procedimento – Distretto {i}",
            body_text=f"Gentile rappresentante,\n\nla domanda n. {i} è stata accolta.",
            body_html=f"<html><body><p>La domanda n. {i} è stata accolta.</p></body></html>",
            created_at=now,
            next_attempt_at=now + due_in,
        )
        for i, recipient in enumerate(recipients, 1)
    ]
    session.add_all(rows)
    session.commit()
    ids = [row.id for row in rows]
    session.expunge_all()
    return ids  # type: ignore[return-value]


def rows(session: Session) -> list[Notification]:
    session.expire_all()
    found = list(session.exec(select(Notification).order_by(col(Notification.id))).all())
    session.commit()
    return found


def test_delivers_every_due_row_over_one_connection(
    session: Session, now: datetime, server: Recorder, port: int
) -> None:
    ids = queue(session, now, "a@pec.example.it", "b@pec.example.it", "c@example.it")
    report = asyncio.run(deliver(as_of=now, limit=500, config=config(port)))
    assert report.sent == ids and report.smtp_error is None and report.released == []
    for row in rows(session):
        assert (row.status, row.attempts, row.sent_at, row.last_error) == (NotificationStatus.SENT, 1, now, None)
    assert [m["To"] for m in server.messages] == ["a@pec.example.it", "b@pec.example.it", "c@example.it"]
    first = server.messages[0]
    assert first.is_multipart() and [p.get_content_type() for p in first.get_payload()] == [  # type: ignore[union-attr]
        "text/plain",
        "text/html",
    ]
    assert first["Message-ID"] == message_id("decision:app1:audit1:a@pec.example.it", "registro@regione.example")
    assert first["Subject"] == "Esito del procedimento – Distretto 1"
    assert server.envelopes[0] == ("registro@regione.example", ["a@pec.example.it"])
    # a second run finds nothing to send: no mail twice
    assert asyncio.run(deliver(as_of=now + timedelta(hours=1), limit=500, config=config(port))).claimed == 0
    assert len(server.messages) == 3


def test_server_down_loses_nothing_and_next_run_delivers(session: Session, now: datetime, port: int) -> None:
    ids = queue(session, now, "a@pec.example.it", "b@pec.example.it")
    down = asyncio.run(deliver(as_of=now, limit=500, config=config(port)))
    assert down.smtp_error and down.sent == [] and down.released == ids
    for row in rows(session):
        assert row.status == NotificationStatus.QUEUED and row.attempts == 0
        assert row.next_attempt_at is not None and row.next_attempt_at <= now  # still due at once
    controller, recorder = start_server(port)
    try:
        up = asyncio.run(deliver(as_of=now + timedelta(minutes=1), limit=500, config=config(port)))
    finally:
        controller.stop()
    assert up.sent == ids and len(recorder.messages) == 2
    assert all(row.status == NotificationStatus.SENT for row in rows(session))


def test_refused_recipients_fail_or_back_off_and_the_others_are_sent(
    session: Session, now: datetime, server: Recorder, port: int
) -> None:
    ok1, gone, full, ok2 = queue(session, now, "a@example.it", "inesistente@example.it", "piena@example.it", "d@x.it")
    report = asyncio.run(deliver(as_of=now, limit=500, config=config(port)))
    assert report.sent == [ok1, ok2] and report.failed == [gone] and report.retrying == [full]
    by_id = {row.id: row for row in rows(session)}
    assert by_id[gone].status == NotificationStatus.FAILED and "550" in (by_id[gone].last_error or "")
    assert by_id[full].status == NotificationStatus.QUEUED and by_id[full].attempts == 1
    assert by_id[full].next_attempt_at == now + timedelta(minutes=1) and "452" in (by_id[full].last_error or "")
    assert [m["To"] for m in server.messages] == ["a@example.it", "d@x.it"]
    # not due yet: the next run one minute minus a second later leaves it alone
    assert asyncio.run(deliver(as_of=now + timedelta(seconds=59), limit=500, config=config(port))).claimed == 0


def test_temporary_refusal_fails_after_the_last_attempt(
    session: Session, now: datetime, server: Recorder, port: int
) -> None:
    [full] = queue(session, now, "piena@example.it")
    moment = now
    for _ in range(MAX_ATTEMPTS):
        report = asyncio.run(deliver(as_of=moment, limit=500, config=config(port)))
        assert report.claimed == 1
        moment += timedelta(days=1)
    [row] = rows(session)
    assert row.id == full and row.status == NotificationStatus.FAILED and row.attempts == MAX_ATTEMPTS


def test_only_due_rows_up_to_the_limit_are_claimed_and_leased(session: Session, now: datetime) -> None:
    queue(session, now, "a@x.it", "b@x.it", "c@x.it")
    queue(session, now, "later@x.it", due_in=timedelta(hours=1))
    first = claim_due(as_of=now, limit=2)
    assert [o.recipient for o in first] == ["a@x.it", "b@x.it"]
    second = claim_due(as_of=now, limit=10)  # a concurrent run does not get the leased ones
    assert [o.recipient for o in second] == ["c@x.it"]
    assert claim_due(as_of=now, limit=10) == []


def test_a_send_cut_short_by_a_dead_process_is_held_as_uncertain_not_resent(
    session: Session, now: datetime, server: Recorder, port: int
) -> None:
    interrupted, waiting = queue(session, now, "a@pec.example.it", "b@pec.example.it")
    claim_due(as_of=now, limit=500)  # a run claims both (lease) …
    session.execute(  # … hands the first to the server and dies before recording the answer
        update(Notification).where(col(Notification.id) == interrupted).values(status=NotificationStatus.SENDING)
    )
    session.commit()
    assert asyncio.run(deliver(as_of=now + timedelta(minutes=5), limit=500, config=config(port))).claimed == 0
    later = asyncio.run(deliver(as_of=now + LEASE + timedelta(minutes=1), limit=500, config=config(port)))
    assert later.uncertain == [interrupted] and later.sent == [waiting]
    by_id = {row.id: row for row in rows(session)}
    assert by_id[interrupted].status == NotificationStatus.UNCERTAIN and "ricevute PEC" in (
        by_id[interrupted].last_error or ""
    )
    assert [m["To"] for m in server.messages] == ["b@pec.example.it"]  # the uncertain one is not resent
    again = asyncio.run(deliver(as_of=now + 2 * LEASE, limit=500, config=config(port)))
    assert again.claimed == 0 and again.uncertain == [] and len(server.messages) == 1


def test_an_address_the_smtp_line_cannot_carry_does_not_spoil_the_next_message(server: Recorder, port: int) -> None:
    """aiosmtplib raises on a non-ASCII RCPT after MAIL FROM was accepted: without a reset the next
    message got «503 nested MAIL command» and was failed for good (found while fixing issue 15)."""

    async def scenario() -> list[str]:
        outcome = []
        async with smtp_connection(config(port)) as mailer:
            for recipient in ("a@x.it", "distrètto@pec.example.it", "b@x.it"):
                raw = build_message(
                    recipient="a@x.it", subject="s", body_text="t", body_html="h", idempotency_key=recipient,
                    mail_from="registro@regione.example", date=datetime(2026, 3, 2),
                )  # fmt: skip
                try:
                    await mailer.send(raw, recipient)  # past build_message's own check, on purpose
                    outcome.append("inviato")
                except MessageRefused as refused:
                    outcome.append(f"rifiutato {refused.code}")
        return outcome

    assert asyncio.run(scenario()) == ["inviato", "rifiutato 553", "inviato"]
    assert [rcpt for _, rcpt in server.envelopes] == [["a@x.it"], ["b@x.it"]]


def test_an_unexpected_error_on_one_message_is_retried_later_and_the_others_go(
    session: Session, now: datetime, server: Recorder, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = Mailer.send

    async def send(self: Mailer, message: bytes, recipient: str) -> None:
        if recipient.startswith("strano"):
            raise RuntimeError("qualcosa di imprevisto")
        await real_send(self, message, recipient)

    monkeypatch.setattr(Mailer, "send", send)
    ok1, odd, ok2 = queue(session, now, "a@x.it", "strano@x.it", "b@x.it")
    report = asyncio.run(deliver(as_of=now, limit=500, config=config(port)))
    assert report.sent == [ok1, ok2] and report.retrying == [odd] and report.smtp_error is None
    row = {r.id: r for r in rows(session)}[odd]
    assert row.status == NotificationStatus.QUEUED and row.attempts == 1 and row.next_attempt_at == now + BACKOFF_BASE
    assert "errore imprevisto durante l'invio (RuntimeError: qualcosa di imprevisto)" in (row.last_error or "")


def test_a_connection_dropped_on_one_message_releases_it_behind_the_others(
    session: Session, now: datetime, server: Recorder, port: int
) -> None:
    ok1, dropped, waiting = queue(session, now, "a@x.it", "cade@x.it", "b@x.it")
    report = asyncio.run(deliver(as_of=now, limit=500, config=config(port)))
    assert report.sent == [ok1] and report.released == [dropped, waiting] and report.smtp_error
    by_id = {r.id: r for r in rows(session)}
    assert by_id[waiting].next_attempt_at == now and by_id[dropped].next_attempt_at == now + BACKOFF_BASE
    for i in (dropped, waiting):  # released as they were: no attempt counted, the reason visible
        assert by_id[i].status == NotificationStatus.QUEUED and by_id[i].attempts == 0
        assert "server di posta non raggiungibile o connessione interrotta" in (by_id[i].last_error or "")
    # the next run sends the others first; the one the server drops on never holds them
    again = asyncio.run(deliver(as_of=now + BACKOFF_BASE, limit=500, config=config(port)))
    assert again.sent == [waiting] and again.released == [dropped]
    assert [m["To"] for m in server.messages] == ["a@x.it", "b@x.it"]


def test_a_sender_that_is_not_an_address_claims_nothing(session: Session, now: datetime, port: int) -> None:
    [queued] = queue(session, now, "a@x.it")
    wrong = SmtpConfig(host="127.0.0.1", port=port, mail_from="Registro <registro@regione.example>", timeout=5)
    report = asyncio.run(deliver(as_of=now, limit=500, config=wrong))
    assert report.claimed == 0 and "REGISTRO_MAIL_FROM" in (report.smtp_error or "")
    [row] = rows(session)
    assert row.id == queued and row.status == NotificationStatus.QUEUED and row.next_attempt_at == now


def test_two_connections_send_each_row_once_and_never_hold_two_in_flight_each(
    session: Session, now: datetime, server: Recorder, port: int
) -> None:
    recipients = [f"r{i}@pec.example.it" for i in range(40)]
    ids = queue(session, now, *recipients)
    two = SmtpConfig(host="127.0.0.1", port=port, mail_from="registro@regione.example", timeout=5, connections=2)
    report = asyncio.run(deliver(as_of=now, limit=500, config=two))
    assert sorted(report.sent) == ids and report.released == [] and report.smtp_error is None
    assert sorted(m["To"] for m in server.messages) == sorted(recipients)  # each once
    assert all(row.status == NotificationStatus.SENT for row in rows(session))


def test_two_connections_one_dropped_releases_its_message_and_the_other_goes_on(
    session: Session, now: datetime, server: Recorder, port: int
) -> None:
    first, dropped, *others = queue(session, now, "a@x.it", "cade@x.it", *[f"r{i}@x.it" for i in range(10)])
    two = SmtpConfig(host="127.0.0.1", port=port, mail_from="registro@regione.example", timeout=5, connections=2)
    report = asyncio.run(deliver(as_of=now, limit=500, config=two))
    assert sorted(report.sent) == sorted([first, *others]) and report.released == [dropped] and report.smtp_error
    by_id = {r.id: r for r in rows(session)}
    assert by_id[dropped].status == NotificationStatus.QUEUED and by_id[dropped].attempts == 0
    assert by_id[dropped].next_attempt_at == now + BACKOFF_BASE
    assert len(server.messages) == 11


def test_the_setting_gives_the_connections_of_a_scheduled_run() -> None:
    from registro.settings import Settings

    assert SmtpConfig.from_settings(Settings(smtp_connections=3)).connections == 3
    assert SmtpConfig.from_settings(Settings()).connections == 2
