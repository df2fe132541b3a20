"""``registro audit-verify``: exit 0 and a summary on an intact chain, exit 1 and the broken links otherwise;
with ``--teste`` the differences from each archived record, exit 2 on a record it cannot read or trust."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models.enums import Event
from models.notification import Notification
from models.procedure import AuditEvent
from registro.audit import BEGIN, END
from registro.cli import app
from tests.factories import Factory, Journey


def _audit_verify(session: Session, *args: str) -> tuple[int, str]:
    session.close()  # the command reads through its own connection
    result = CliRunner().invoke(app, ["audit-verify", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_intact_and_broken_chain(factory: Factory, session: Session) -> None:
    j = Journey(factory)
    j.to_active()
    other = Journey(factory)
    other.do(Event.SUBMIT)

    code, output = _audit_verify(session)
    assert code == 0, output
    assert output.startswith("Catena dell'audit integra: 6 eventi, 2 domande.")

    ids = session.exec(
        select(AuditEvent.id).where(AuditEvent.application_id == j.app.id).order_by(col(AuditEvent.id))
    ).all()
    session.execute(text("UPDATE audit_event SET reason = 'ritoccato' WHERE id = :id"), {"id": ids[1]})
    session.execute(text("DELETE FROM audit_event WHERE application_id = :app"), {"app": other.app.id})
    session.commit()

    code, output = _audit_verify(session)
    assert code == 1, output
    lines = output.splitlines()
    assert lines[0].startswith("Catena dell'audit ROTTA in 2 domande su 5 eventi, 2 domande.")
    assert lines[1:] == [
        "Primo anello rotto di ogni domanda:",
        f"- evento {ids[1]} (domanda {j.app.id}): l'impronta non corrisponde al contenuto"
        " (modificato dopo la scrittura)",
        f"- domanda {other.app.id}: nessun evento, ma la domanda registra un'impronta finale (eventi rimossi)",
    ]


def test_empty_database(session: Session) -> None:
    code, output = _audit_verify(session)
    assert (code, output.split(" (")[0]) == (0, "Catena dell'audit integra: 0 eventi, 0 domande.")


def _record_file(session: Session, folder: Path, *, as_of: date, name: str) -> Path:
    """The day's record as the archive keeps it: here the bare JSON between the mail's markers."""
    from tasks.audit_heads import KIND, queue_audit_heads

    session.close()
    queue_audit_heads(session, as_of=as_of, now=datetime.combine(as_of, time(22, 50), tzinfo=UTC))
    body = session.exec(
        select(Notification.body_text).where(Notification.kind == KIND).order_by(col(Notification.id).desc())
    ).first()
    session.commit()
    assert body is not None
    path = folder / name
    path.write_text(body.split(BEGIN)[1].split(END)[0], encoding="utf-8")
    return path


def test_several_archived_records_each_named(factory: Factory, session: Session, tmp_path: Path) -> None:
    j = Journey(factory)
    j.do(Event.SUBMIT)
    app_id = j.app.id
    monday = _record_file(session, tmp_path, as_of=date(2026, 3, 2), name="lunedi.json")
    j.do(Event.START_REVIEW)
    tuesday = _record_file(session, tmp_path, as_of=date(2026, 3, 3), name="martedi.json")
    first = session.exec(select(AuditEvent.id).where(AuditEvent.application_id == app_id)).first()
    session.execute(text("DELETE FROM audit_event WHERE application_id = :app"), {"app": app_id})
    session.execute(text("UPDATE application SET audit_head = NULL WHERE id = :app"), {"app": app_id})
    session.commit()
    assert first is not None

    code, output = _audit_verify(session, "--teste", str(monday), "--teste", str(tuesday))
    assert code == 1, output
    assert output.splitlines()[1:] == [
        "Impronte archiviate del 02/03/2026 (1 domanda): DIFFERENZE in 1 domanda.",
        f"- domanda {app_id}: ha 0 eventi, le impronte archiviate ne registrano 1 (eventi rimossi)",
        "Impronte archiviate del 03/03/2026 (1 domanda): DIFFERENZE in 1 domanda.",
        f"- domanda {app_id}: ha 0 eventi, le impronte archiviate ne registrano 2 (eventi rimossi)",
    ]


def test_a_record_that_cannot_be_read_changes_nothing(session: Session, tmp_path: Path) -> None:
    mail = tmp_path / "altra.eml"
    mail.write_bytes(b"Subject: altro\r\nContent-Type: text/plain\r\n\r\nnessuna impronta qui\r\n")
    code, output = _audit_verify(session, "--teste", str(mail))
    assert (code, output.strip()) == (
        2,
        f"ERRORE: {mail}: non contiene un registro delle impronte giornaliere dell'audit",
    )
    code, output = _audit_verify(session, "--teste", str(tmp_path / "manca.eml"))
    assert code == 2 and "impossibile leggere il file" in output


def test_production_without_the_audit_key_refuses(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from registro.settings import get_settings

    monkeypatch.setattr(get_settings(), "environment", "production")
    monkeypatch.setattr(get_settings(), "audit_key", "")
    code, output = _audit_verify(session)
    assert code == 2 and "in produzione la credenziale chiave-audit va impostata" in output


def test_the_record_is_read_from_a_pec_envelope(factory: Factory, session: Session, tmp_path: Path) -> None:
    """A PEC mailbox receives the message inside a transport envelope, as the attachment postacert.eml."""
    from email.mime.message import MIMEMessage
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    from notifications.sender import build_message
    from tasks.audit_heads import KIND, queue_audit_heads

    Journey(factory).do(Event.SUBMIT)
    session.close()
    queue_audit_heads(session, as_of=date(2026, 3, 3), now=datetime(2026, 3, 3, 22, 50, tzinfo=UTC))
    row = session.exec(select(Notification).where(Notification.kind == KIND)).one()
    session.commit()
    sent = build_message(
        recipient=row.recipient,
        subject=row.subject,
        body_text=row.body_text,
        body_html=row.body_html,
        idempotency_key=row.idempotency_key,
        mail_from="registro@regione.example",
        date=datetime(2026, 3, 3, 22, 51, tzinfo=UTC),
    )
    envelope = MIMEMultipart("mixed")
    envelope["Subject"] = f"POSTA CERTIFICATA: {row.subject}"
    envelope.attach(MIMEText("Messaggio di posta certificata: il messaggio originale è incluso in allegato.", "plain"))
    original = MIMEMessage(message_from_bytes(sent))
    original.add_header("Content-Disposition", "attachment", filename="postacert.eml")
    envelope.attach(original)
    path = tmp_path / "busta.eml"
    path.write_bytes(envelope.as_bytes())

    code, output = _audit_verify(session, "--teste", str(path))
    assert code == 0, output
    assert output.splitlines()[1] == "Impronte archiviate del 03/03/2026 (1 domanda): corrispondono."
