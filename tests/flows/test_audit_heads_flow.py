"""The ``audit-heads`` sweep as a real flow run: one mail per day to the archive address (idempotent), a
later day refused, delivered by ``deliver-outbox`` to a capture server whose saved ``.eml`` is what
``registro audit-verify --teste`` reads; and prefect.yaml schedules it in Rome time."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from flows.audit_heads import audit_heads
from flows.delivery import deliver_outbox
from models.base import local_date
from models.enums import Event, NotificationStatus
from models.notification import Notification
from models.procedure import AuditEvent
from registro import mailcatcher
from registro.cli import app
from registro.serve import PROJECT_ROOT, build_deployments
from registro.settings import get_settings
from tasks.audit_heads import KIND, FutureDay
from tests.factories import Factory, Journey

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]

ARCHIVE = "protocollo@pec.regione.example.it"


@pytest.fixture
def mail_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The local capture server on a free port of 127.0.0.1, as ``registro run`` starts it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    monkeypatch.setenv("REGISTRO_SMTP_HOST", "")
    monkeypatch.setenv("REGISTRO_SMTP_PORT", str(port))
    monkeypatch.setenv("REGISTRO_AUDIT_ARCHIVE_EMAIL", ARCHIVE)
    get_settings.cache_clear()
    folder = tmp_path / "mail"
    controller = mailcatcher.start("127.0.0.1", port, folder)
    try:
        yield folder
    finally:
        controller.stop()
        get_settings.cache_clear()


def _audit_verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit-verify", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_the_days_heads_are_mailed_once_and_verify(factory: Factory, session: Session, mail_dir: Path) -> None:
    j = Journey(factory)
    j.to_active()
    app_id = j.app.id
    session.commit()
    today = local_date(datetime.now(UTC))

    first = audit_heads()
    assert (first.as_of, first.queued, first.applications, first.events, first.broken) == (today, True, 1, 5, [])
    assert audit_heads(as_of=today).queued is False  # the same day again: nothing more
    rows = session.exec(select(Notification).where(Notification.kind == KIND)).all()
    session.commit()
    assert [(r.recipient, r.application_id, r.status) for r in rows] == [(ARCHIVE, None, NotificationStatus.QUEUED)]
    assert rows[0].subject == f"Impronte giornaliere dell'audit del {today:%d/%m/%Y} – Registro Distretti"

    with pytest.raises(FutureDay, match="successivo a oggi"):
        audit_heads(as_of=today + timedelta(days=1))

    delivered = asyncio.run(deliver_outbox(as_of=datetime.now(UTC) + timedelta(minutes=1)))
    assert rows[0].id in delivered.sent
    mails = [path for path in mail_dir.glob("*.eml") if ARCHIVE in path.read_text(errors="replace")]
    assert len(mails) == 1

    code, output = _audit_verify("--teste", str(mails[0]))
    assert code == 0, output
    assert output.splitlines()[1] == f"Impronte archiviate del {today:%d/%m/%Y} (1 domanda): corrispondono."

    last = session.exec(
        select(AuditEvent.id).where(AuditEvent.application_id == app_id).order_by(col(AuditEvent.id).desc())
    ).first()
    session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": last})
    session.execute(  # the head moved back to the new last event: the chain alone verifies
        text(
            "UPDATE application SET audit_head = (SELECT hash FROM audit_event WHERE id ="
            " (SELECT max(id) FROM audit_event WHERE application_id = :app)) WHERE id = :app"
        ),
        {"app": app_id},
    )
    session.commit()
    session.close()
    assert _audit_verify()[0] == 0
    code, output = _audit_verify("--teste", str(mails[0]))
    assert code == 1, output
    assert f"- domanda {app_id}: ha 4 eventi, le impronte archiviate ne registrano 5 (eventi rimossi)" in output


def test_a_broken_chain_is_archived_and_fails_the_run(factory: Factory, session: Session, mail_dir: Path) -> None:
    j = Journey(factory)
    j.do(Event.SUBMIT)
    session.execute(text("UPDATE audit_event SET reason = 'ritoccato'"))
    session.commit()
    state = audit_heads(return_state=True)
    assert state.is_failed()
    assert "catena dell'audit rotta in 1 domanda (registro inviato comunque)" in str(state.message)
    body = session.exec(select(Notification.body_text).where(Notification.kind == KIND)).one()
    session.commit()
    assert "catena ROTTA in 1 domanda" in body and "l'impronta non corrisponde al contenuto" in body


def test_prefect_yaml_schedules_the_heads_after_the_days_work() -> None:
    deployments = {d.flow_name: d for d in build_deployments(PROJECT_ROOT / "prefect.yaml")}
    schedule = (deployments["audit-heads"].schedules or [])[0].schedule
    assert (schedule.cron, schedule.timezone) == ("50 23 * * *", "Europe/Rome")  # type: ignore[union-attr]
