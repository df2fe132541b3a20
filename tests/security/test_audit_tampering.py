"""Attack 6 of issue 15: rewriting the audit trail and recomputing the chain.

1. Someone with write access to the database (not to the key) edits an event and recomputes the whole
   chain with the published algorithm (plain SHA-256, or the HMAC with a key they guess):
   ``registro audit-verify`` exits 1 and names the application and the event.
2. Someone who also has the key (the database's writer, e.g. the application's own user) rewrites an
   event and recomputes everything: the chain verifies, but not against the day's heads archived by
   mail (``--teste``), which names the application.
3. An untouched chain verifies (exit 0), against the archived heads too; events written after the
   archived day do not count as differences.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from models.audit_chain import canonical
from models.enums import Event
from models.notification import Notification
from models.procedure import AuditEvent
from notifications.sender import build_message
from registro.cli import app
from registro.settings import get_settings
from tests.factories import Factory, Journey

GENESIS = "0" * 64
ARCHIVED_DAY = date(2026, 3, 20)
ARCHIVED_AT = datetime(2026, 3, 20, 22, 50, tzinfo=UTC)


def _audit_verify(session: Session, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit-verify", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _plain_sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _hmac_with(key: str) -> Any:
    return lambda payload: hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()


def _rewrite(session: Session, application_id: int, event_id: int, digest: Any) -> None:
    """The attack: edit one event through SQL, then recompute every hash of the chain and the head."""
    session.execute(text("UPDATE audit_event SET reason = 'motivazione riscritta' WHERE id = :id"), {"id": event_id})
    session.commit()
    session.expire_all()
    events = session.exec(
        select(AuditEvent).where(AuditEvent.application_id == application_id).order_by(col(AuditEvent.id))
    ).all()
    prev = GENESIS
    for event in events:
        new = digest(canonical(event, prev))
        session.execute(
            text("UPDATE audit_event SET prev_hash = :prev, hash = :hash WHERE id = :id"),
            {"prev": prev, "hash": new, "id": event.id},
        )
        prev = new
    session.execute(
        text("UPDATE application SET audit_head = :head WHERE id = :id"), {"head": prev, "id": application_id}
    )
    session.commit()
    session.expire_all()


def _two_applications(factory: Factory) -> tuple[Journey, Journey]:
    j = Journey(factory)
    j.to_active()
    other = Journey(factory)
    other.do(Event.SUBMIT)
    return j, other


def _event_ids(session: Session, application_id: int | None) -> list[int]:
    return [
        int(i)
        for i in session.exec(
            select(AuditEvent.id).where(AuditEvent.application_id == application_id).order_by(col(AuditEvent.id))
        ).all()
        if i is not None
    ]


@pytest.mark.parametrize(
    "digest",
    [_plain_sha256, _hmac_with("sviluppo-non-usare-in-produzione")],
    ids=["sha256-as-published", "hmac-with-a-guessed-key"],
)
def test_a_chain_recomputed_without_the_key_is_named(factory: Factory, session: Session, digest: Any) -> None:
    j, other = _two_applications(factory)
    app_id, other_id = j.app.id or 0, other.app.id
    ids = _event_ids(session, app_id)
    _rewrite(session, app_id, ids[2], digest)

    code, output = _audit_verify(session)
    assert code == 1, output
    assert output.startswith("Catena dell'audit ROTTA in 1 domanda su 6 eventi, 2 domande."), output
    assert (
        f"- evento {ids[0]} (domanda {app_id}): l'impronta non corrisponde al contenuto (modificato dopo la scrittura)"
    ) in output.splitlines()
    assert f"domanda {other_id}" not in output


def _archived_heads(session: Session, folder: Path) -> Path:
    """The day's heads as the archive receives them: the mail the outbox sends, saved as .eml."""
    from tasks.audit_heads import KIND, queue_audit_heads  # the fix's module: absent on main

    session.close()
    queue_audit_heads(session, as_of=ARCHIVED_DAY, now=ARCHIVED_AT)
    row = session.exec(select(Notification).where(Notification.kind == KIND)).one()
    session.commit()
    message = build_message(
        recipient=row.recipient,
        subject=row.subject,
        body_text=row.body_text,
        body_html=row.body_html,
        idempotency_key=row.idempotency_key,
        mail_from=get_settings().mail_from,
        date=ARCHIVED_AT,
    )
    path = folder / "impronte.eml"
    path.write_bytes(message)
    return path


def test_a_chain_rewritten_with_the_key_is_caught_by_the_archived_heads(
    factory: Factory, session: Session, tmp_path: Path
) -> None:
    j, _ = _two_applications(factory)
    archived = _archived_heads(session, tmp_path)
    ids = _event_ids(session, j.app.id)
    _rewrite(session, j.app.id or 0, ids[1], _hmac_with(get_settings().effective_audit_key))

    code, output = _audit_verify(session)
    assert code == 0, output  # with the key, the chain alone cannot tell

    code, output = _audit_verify(session, "--teste", str(archived))
    assert code == 1, output
    lines = output.splitlines()
    assert lines[0].startswith("Catena dell'audit integra: 6 eventi, 2 domande.")
    assert lines[1:] == [
        "Impronte archiviate del 20/03/2026 (2 domande): DIFFERENZE in 1 domanda.",
        f"- domanda {j.app.id}: l'impronta dell'evento n. 5 (evento {ids[4]}) non è quella archiviata:"
        " un evento fino a questo è stato riscritto",
    ]


def test_an_untouched_chain_verifies_against_the_archived_heads(
    factory: Factory, session: Session, tmp_path: Path
) -> None:
    _, other = _two_applications(factory)
    code, output = _audit_verify(session)
    assert code == 0, output
    assert output.startswith("Catena dell'audit integra: 6 eventi, 2 domande.")

    archived = _archived_heads(session, tmp_path)
    other.app = session.get(type(other.app), other.app.id)  # type: ignore[assignment]
    other.do(Event.START_REVIEW)  # after the archived day: not a difference
    Journey(factory).do(Event.SUBMIT)  # an application the archive does not know yet
    code, output = _audit_verify(session, "--teste", str(archived))
    assert code == 0, output
    assert output.splitlines()[1] == "Impronte archiviate del 20/03/2026 (2 domande): corrispondono."


def test_removed_events_and_a_forged_record_are_named(factory: Factory, session: Session, tmp_path: Path) -> None:
    j, _ = _two_applications(factory)
    archived = _archived_heads(session, tmp_path)
    ids = _event_ids(session, j.app.id)
    # the last two events removed and the head moved back, as the writer with the key could do
    session.execute(text("DELETE FROM audit_event WHERE id IN (:a, :b)"), {"a": ids[3], "b": ids[4]})
    session.execute(
        text("UPDATE application SET audit_head = (SELECT hash FROM audit_event WHERE id = :id) WHERE id = :app"),
        {"id": ids[2], "app": j.app.id},
    )
    session.commit()
    code, output = _audit_verify(session, "--teste", str(archived))
    assert code == 1, output
    assert (
        f"- domanda {j.app.id}: ha 3 eventi, le impronte archiviate ne registrano 5 (eventi rimossi)"
        in output.splitlines()
    )

    # a record edited to match the rewritten database is refused: its own HMAC no longer matches
    from registro.audit import read_record

    record = read_record(archived)
    record["domande"] = [d for d in record["domande"] if d["domanda"] != j.app.id]
    forged = tmp_path / "contraffatto.json"
    forged.write_text(json.dumps(record), encoding="utf-8")
    code, output = _audit_verify(session, "--teste", str(forged))
    assert code == 2, output
    assert "non è autentico" in output
