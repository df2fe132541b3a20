"""deliver_outbox as a real flow run, against a real SMTP server (aiosmtpd), settings from the environment."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from flows.delivery import SmtpUnavailable, deliver_outbox
from models.enums import Event, NotificationStatus
from models.notification import Notification
from registro.settings import get_settings
from tests.factories import Factory
from tests.tasks.stage_driver import StageDriver

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]


class Inbox:
    def __init__(self) -> None:
        self.recipients: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def smtp_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    monkeypatch.setenv("REGISTRO_SMTP_HOST", "")
    monkeypatch.setenv("REGISTRO_SMTP_PORT", str(port))
    get_settings.cache_clear()
    yield port
    get_settings.cache_clear()


def statuses(session: Session) -> list[NotificationStatus]:
    session.expire_all()
    found = [n.status for n in session.exec(select(Notification)).all()]
    session.commit()
    return found


def test_deliver_outbox_flow_smtp_down_then_up(factory: Factory, session: Session, smtp_port: int) -> None:
    d = StageDriver(factory)
    d.apply(Event.SUBMIT)  # queues "procedure_started" to the district's PEC and the representative
    as_of: datetime = d.day + timedelta(minutes=1)
    with pytest.raises(SmtpUnavailable):
        asyncio.run(deliver_outbox(as_of=as_of))
    assert statuses(session) == [NotificationStatus.QUEUED] * 2

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        report = asyncio.run(deliver_outbox(as_of=as_of + timedelta(minutes=1)))
    finally:
        controller.stop()
    assert len(report.sent) == 2 and statuses(session) == [NotificationStatus.SENT] * 2
    assert sorted(inbox.recipients) == sorted([d.district.pec_email, d.rep.email])
