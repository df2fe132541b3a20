"""``registro audit-verify``: exit 0 and a summary on an intact chain, exit 1 and the broken links otherwise."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models.enums import Event
from models.procedure import AuditEvent
from registro.cli import app
from tests.factories import Factory, Journey


def _audit_verify(session: Session) -> tuple[int, str]:
    session.close()  # no open transaction: on SQLite every BEGIN takes the write lock
    result = CliRunner().invoke(app, ["audit-verify"])
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
