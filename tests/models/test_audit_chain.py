"""The audit hash chain: keyed, written by the service, verified link by link, tampering named, compared with
archived heads, migrations 0003 (backfill) and 0005 (re-keying, refused on a broken chain)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.application import Application
from models.audit_chain import (
    GENESIS,
    HASHED_FIELDS,
    ChainReport,
    Head,
    Witness,
    canonical,
    chain_key,
    event_hash,
    keyed,
    legacy_event_hash,
    verify,
    walk,
)
from models.base import ROME
from models.enums import Event, State, Subject
from models.procedure import AuditEvent
from models.profiles import RegionProfile
from registro.bootstrap import alembic_config
from registro.db import make_engine
from tests.factories import Factory, Journey


def _events(session: Session, application_id: int | None) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.application_id == application_id).order_by(col(AuditEvent.id))
        ).all()
    )


def _verify(session: Session, *witnesses: Witness) -> ChainReport:
    return verify(session, key=chain_key(), witnesses=witnesses)


def _sql(session: Session, statement: str, **params: object) -> None:
    session.execute(text(statement), params)
    session.commit()
    session.expire_all()


def test_known_answer_freezes_the_canonical_form() -> None:
    """Changing the canonical form would invalidate every stored chain: this hash must never change."""
    event = AuditEvent(
        subject=Subject.APPLICATION,
        application_id=12,
        report_id=None,
        event=Event.SUBMIT,
        from_state=State.DRAFT,
        to_state=State.SUBMITTED,
        actor_id=3,
        actor_role="representative",
        at=datetime(2026, 3, 3, 10, 30, 0, 250, tzinfo=ROME),
        reason="perché sì",
        flow_run_id=None,
        details={"b": [1, 2.5], "a": {"z": None, "y": "€"}},
        prev_hash="",
        hash="",
    )
    assert canonical(event, GENESIS).decode() == (
        '{"actor_id":3,"actor_role":"representative","application_id":12,"at":"2026-03-03T09:30:00.000250Z",'
        '"details":{"a":{"y":"€","z":null},"b":[1,2.5]},"event":"submit","flow_run_id":null,"from_state":"draft",'
        f'"prev_hash":"{GENESIS}","reason":"perché sì","report_id":null,"subject":"application",'
        '"to_state":"submitted"}'
    )
    key = b"chiave di prova"
    digest = event_hash(event, GENESIS, key)  # HMAC-SHA256 (as `openssl dgst -sha256 -hmac` gives it)
    assert digest == "4fb929755836f05ae635c0520dd3ac74da05ba4914cd22cc70b3d9a9b19dfe99"
    assert keyed(key)(event, GENESIS) == digest
    naive_utc = datetime(2026, 3, 3, 9, 30, 0, 250)  # what a raw SQL read returns
    assert event_hash(event.model_copy(update={"at": naive_utc}), GENESIS, key) == digest
    reordered = event.model_copy(update={"details": {"a": {"y": "€", "z": None}, "b": [1, 2.5]}})
    assert event_hash(reordered, GENESIS, key) == digest
    assert event_hash(event, "1" * 64, key) != digest
    assert event_hash(event, GENESIS, b"un'altra chiave") != digest
    # the chains written before migration 0005: plain SHA-256 of the same canonical form
    assert legacy_event_hash(event, GENESIS) == "7d0add0333d0857274b68e82ea6e3222bca940e766a3012264f8ec93ff3ad71a"


def test_service_writes_a_chain_that_verifies(factory: Factory, session: Session) -> None:
    j = Journey(factory)
    j.day = j.day.astimezone(ROME)  # an aware non-UTC clock: hashed as UTC, stable after the read
    j.do(Event.SUBMIT, nota="perché €", punteggio=1.5, annidato={"b": 1, "a": [1, 2.25, None]})
    j.do(Event.START_REVIEW)
    j.do(Event.DECLARE_COMPLETE)
    j.score(80)
    j.do(Event.APPROVE)
    j.do(Event.ISSUE_ACT, publication_ref="BURP n. 1")
    other = Journey(factory)
    other.do(Event.SUBMIT)
    Journey(factory)  # a draft: no events, no head

    events = _events(session, j.app.id)
    assert len(events) == 5
    assert events[0].prev_hash == GENESIS
    for previous, event in pairwise(events):
        assert event.prev_hash == previous.hash
    for event in events:  # recomputed from what the database returns
        assert len(event.hash) == 64 and event.hash == event_hash(event, event.prev_hash, chain_key())
    application = session.get(Application, j.app.id)
    assert application is not None and application.audit_head == events[-1].hash

    report = _verify(session)
    assert report.ok, report.broken
    assert (report.events, report.applications) == (6, 3)
    assert report.heads == {
        j.app.id: Head(5, events[-1].hash),
        other.app.id: Head(1, _events(session, other.app.id)[0].hash),
    }


def test_a_chain_verified_with_another_key_breaks_at_the_first_event(factory: Factory, session: Session) -> None:
    j = Journey(factory)
    j.do(Event.SUBMIT)
    j.do(Event.START_REVIEW)
    first = _events(session, j.app.id)[0]
    report = verify(session, key=b"una chiave indovinata")
    assert [(link.application_id, link.event_id) for link in report.broken] == [(j.app.id, first.id)]


@pytest.fixture
def chained(factory: Factory, session: Session) -> tuple[Journey, Journey, list[AuditEvent]]:
    """Two applications with interleaved events (ids not consecutive per application)."""
    j, other = Journey(factory), Journey(factory)
    for event in (Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE):
        j.do(event)
        other.do(event)
    j.score(80)
    j.do(Event.APPROVE)
    j.do(Event.ISSUE_ACT, publication_ref="BURP n. 1")
    events = _events(session, j.app.id)
    assert len(events) == 5 and _verify(session).ok
    for audit in events:  # snapshots: the tests change the rows behind them
        session.expunge(audit)
    return j, other, events


def _only_break(session: Session, application_id: int | None) -> tuple[int | None, str]:
    report = _verify(session)
    assert len(report.broken) == 1, report.broken  # the other application stays intact
    link = report.broken[0]
    assert link.application_id == application_id
    return link.event_id, link.message


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_event SET reason = 'motivazione riscritta' WHERE id = :id",
        "UPDATE audit_event SET to_state = 'rejected' WHERE id = :id",
        "UPDATE audit_event SET actor_id = NULL WHERE id = :id",
        'UPDATE audit_event SET details = \'{"publication_ref": "altro"}\' WHERE id = :id',
    ],
)
def test_an_edited_event_is_named(
    session: Session, chained: tuple[Journey, Journey, list[AuditEvent]], tamper: str
) -> None:
    j, _, events = chained
    _sql(session, tamper, id=events[2].id)
    event_id, message = _only_break(session, j.app.id)
    assert event_id == events[2].id
    assert message == (
        f"evento {events[2].id} (domanda {j.app.id}): l'impronta non corrisponde al contenuto"
        " (modificato dopo la scrittura)"
    )


def test_an_edited_timestamp_is_named(session: Session, chained: tuple[Journey, Journey, list[AuditEvent]]) -> None:
    j, _, events = chained
    moved = events[1].at.replace(tzinfo=None).replace(microsecond=1)
    _sql(session, "UPDATE audit_event SET at = :at WHERE id = :id", at=moved, id=events[1].id)
    assert _only_break(session, j.app.id)[0] == events[1].id


def test_only_the_first_broken_link_is_named(
    session: Session, chained: tuple[Journey, Journey, list[AuditEvent]]
) -> None:
    j, _, events = chained
    _sql(session, "UPDATE audit_event SET reason = 'x' WHERE id IN (:a, :b)", a=events[1].id, b=events[3].id)
    assert _only_break(session, j.app.id)[0] == events[1].id


def test_a_removed_middle_event_is_named(session: Session, chained: tuple[Journey, Journey, list[AuditEvent]]) -> None:
    j, _, events = chained
    _sql(session, "DELETE FROM audit_event WHERE id = :id", id=events[2].id)
    event_id, message = _only_break(session, j.app.id)
    assert event_id == events[3].id
    assert message == (
        f"evento {events[3].id} (domanda {j.app.id}): prev_hash non corrisponde all'evento precedente"
        f" {events[1].id} (un evento è stato tolto o inserito)"
    )


def test_a_removed_first_event_is_named(session: Session, chained: tuple[Journey, Journey, list[AuditEvent]]) -> None:
    j, _, events = chained
    _sql(session, "DELETE FROM audit_event WHERE id = :id", id=events[0].id)
    event_id, message = _only_break(session, j.app.id)
    assert event_id == events[1].id and "è il primo evento della domanda" in message


def test_removed_last_events_are_named(session: Session, chained: tuple[Journey, Journey, list[AuditEvent]]) -> None:
    j, _, events = chained
    _sql(session, "DELETE FROM audit_event WHERE id IN (:a, :b)", a=events[3].id, b=events[4].id)
    event_id, message = _only_break(session, j.app.id)
    assert event_id is None
    assert message == (
        f"domanda {j.app.id}: l'ultimo evento ({events[2].id}) non corrisponde all'impronta registrata"
        " sulla domanda (eventi finali rimossi)"
    )


def test_all_events_removed_is_named(session: Session, chained: tuple[Journey, Journey, list[AuditEvent]]) -> None:
    j, _, _ = chained
    _sql(session, "DELETE FROM audit_event WHERE application_id = :app", app=j.app.id)
    event_id, message = _only_break(session, j.app.id)
    assert event_id is None and "nessun evento" in message


def _forge(session: Session, model: AuditEvent, *, prev_hash: str, digest: str | None, event_id: int) -> None:
    """An INSERT by hand, as someone with write access to the database would do it."""
    fields = model.model_dump(exclude={"id", "reason", "prev_hash", "hash"})
    forged = AuditEvent(id=event_id, reason="evento inventato", prev_hash=prev_hash, hash="", **fields)
    forged.hash = digest if digest is not None else event_hash(forged, prev_hash, chain_key())
    session.add(forged)
    session.commit()
    session.expire_all()


def test_a_forged_event_with_a_wrong_hash_is_named(
    session: Session, chained: tuple[Journey, Journey, list[AuditEvent]]
) -> None:
    j, _, events = chained
    _forge(session, events[4], prev_hash=events[4].hash, digest=events[4].hash, event_id=10_000)
    event_id, message = _only_break(session, j.app.id)
    assert event_id == 10_000 and "l'impronta non corrisponde al contenuto" in message


def test_a_well_forged_event_at_the_end_is_named(
    session: Session, chained: tuple[Journey, Journey, list[AuditEvent]]
) -> None:
    """Right prev_hash and right hash: only the head recorded on the application tells."""
    j, _, events = chained
    _forge(session, events[4], prev_hash=events[4].hash, digest=None, event_id=10_000)
    event_id, message = _only_break(session, j.app.id)
    assert event_id is None
    assert message == (
        f"domanda {j.app.id}: l'impronta registrata sulla domanda è quella dell'evento {events[4].id};"
        " gli eventi successivi (fino al 10000) sono stati aggiunti fuori dal procedimento"
    )


def test_a_well_forged_event_in_the_middle_is_named(
    session: Session, chained: tuple[Journey, Journey, list[AuditEvent]]
) -> None:
    """The tail is renumbered to make room; the forged event chains to its predecessor, not its successor."""
    j, _, events = chained
    freed = events[3].id or 0
    _sql(
        session,
        "UPDATE audit_event SET id = id + 20000 WHERE application_id = :app AND id > :id",
        app=j.app.id,
        id=events[2].id,
    )
    _forge(session, events[2], prev_hash=events[2].hash, digest=None, event_id=freed)
    event_id, message = _only_break(session, j.app.id)
    assert event_id == freed + 20000
    assert f"prev_hash non corrisponde all'evento precedente {freed}" in message


def test_archived_heads_tell_later_events_from_missing_applications(
    session: Session, chained: tuple[Journey, Journey, list[AuditEvent]]
) -> None:
    j, other, events = chained
    archived = dict(_verify(session).heads)
    assert archived[j.app.id or 0] == Head(5, events[4].hash)
    other.score(80)
    other.do(Event.APPROVE)  # written after the record: the archived position is unchanged
    archived[424242] = Head(2, "a" * 64)  # an application the record knew, gone since
    report = _verify(session, archived, {})
    assert report.ok and report.differences[1] == []
    assert [(link.application_id, link.message) for link in report.differences[0]] == [
        (424242, "domanda 424242: non è più nel database (le impronte archiviate ne registrano 2 eventi)")
    ]


def test_the_chain_continues_after_a_failed_move(factory: Factory, session: Session) -> None:
    """A refused or conflicting move rolls back: the head stays on the last written event."""
    from models.errors import TransitionNotAllowed

    j = Journey(factory)
    j.do(Event.SUBMIT)
    with pytest.raises(TransitionNotAllowed):
        j.do(Event.ISSUE_ACT)
    session.rollback()
    session.refresh(j.app)
    j.do(Event.START_REVIEW)
    assert _verify(session).ok


# ---- migration 0003: the existing events are chained exactly as the service chains them ----------


@contextmanager
def _fresh_database(test_engine: Engine) -> Iterator[Engine]:
    """An empty database of its own, on the test database's server."""
    server = create_engine(test_engine.url, isolation_level="AUTOCOMMIT")
    name = f"registro_migr_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(test_engine.url.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def _alembic(engine: Engine, action: Callable[..., None], revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def test_migration_backfills_the_chain_of_existing_events(engine: Engine, profile: RegionProfile) -> None:
    with _fresh_database(engine) as engine:
        _alembic(engine, command.upgrade, "head")
        with Session(engine, expire_on_commit=False) as session:
            factory = Factory(session=session, profile=profile, now=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
            first, second = Journey(factory), Journey(factory)
            first.do(Event.SUBMIT, nota="perché €", annidato={"b": 1, "a": [2.25]})
            second.do(Event.SUBMIT)
            first.do(Event.START_REVIEW)
            Journey(factory)  # a draft
            written = session.exec(select(AuditEvent.id, AuditEvent.prev_hash, AuditEvent.hash)).all()
            heads = session.exec(select(Application.id, Application.audit_head)).all()

        _alembic(engine, command.downgrade, "0002")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 3
        _alembic(engine, command.upgrade, "head")

        with Session(engine) as session:
            assert sorted(session.exec(select(AuditEvent.id, AuditEvent.prev_hash, AuditEvent.hash)).all()) == sorted(
                written
            )
            assert sorted(session.exec(select(Application.id, Application.audit_head)).all()) == sorted(heads)
            report = _verify(session)
            assert report.ok and (report.events, report.applications) == (3, 3)
            # the service goes on from the backfilled head
            factory.session = session
            first.app = session.get(Application, first.app.id)  # type: ignore[assignment]
            first.do(Event.DECLARE_COMPLETE)
            report = _verify(session)
            assert report.ok and report.events == 4
            # and the columns are required
            with pytest.raises(Exception, match=r"NOT NULL|null value"):
                session.execute(
                    text(
                        "INSERT INTO audit_event (subject, application_id, event, from_state, to_state, actor_role,"
                        " at, details) VALUES ('application', :app, 'submit', 'draft', 'submitted', 'system',"
                        " :at, '{}')"
                    ),
                    {"app": first.app.id, "at": datetime(2026, 3, 9, 9, 0)},
                )
            session.rollback()


# ---- migration 0005: an unkeyed chain is verified, then keyed; a broken one is refused ------------


def _stored(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        events = conn.execute(text("SELECT id, prev_hash, hash FROM audit_event ORDER BY id")).all()
        heads = conn.execute(text("SELECT id, audit_head FROM application ORDER BY id")).all()
    return [*events, *heads]


def _revision(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def _walk_unkeyed(session: Session) -> ChainReport:
    columns = [col(AuditEvent.id), col(AuditEvent.prev_hash), col(AuditEvent.hash)]
    columns += [col(getattr(AuditEvent, name)) for name in HASHED_FIELDS]
    rows = session.execute(select(*columns).order_by(col(AuditEvent.application_id), col(AuditEvent.id))).all()
    heads = {int(i): h for i, h in session.exec(select(Application.id, Application.audit_head)).all() if i is not None}
    return walk([rows], heads, legacy_event_hash)


def test_migration_keys_an_unkeyed_chain_and_refuses_a_broken_one(engine: Engine, profile: RegionProfile) -> None:
    with _fresh_database(engine) as engine:
        _alembic(engine, command.upgrade, "head")
        with Session(engine, expire_on_commit=False) as session:
            factory = Factory(session=session, profile=profile, now=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
            first, second = Journey(factory), Journey(factory)
            first.do(Event.SUBMIT)
            second.do(Event.SUBMIT)
            first.do(Event.START_REVIEW)
            Journey(factory)  # a draft
            second_id = second.app.id
            tampered = _events(session, second_id)[0].id
        keyed_chain = _stored(engine)

        _alembic(engine, command.downgrade, "0004")  # as a database of the previous version holds it
        with Session(engine) as session:
            assert _walk_unkeyed(session).ok
            assert len(_verify(session).broken) == 2  # not a keyed chain
        unkeyed_chain = _stored(engine)
        assert unkeyed_chain != keyed_chain

        _alembic(engine, command.upgrade, "0005")
        assert _stored(engine) == keyed_chain and _revision(engine) == "0005"
        with Session(engine) as session:
            assert _verify(session).ok

        # an event edited while the chain was unkeyed: the upgrade refuses and changes nothing
        _alembic(engine, command.downgrade, "0004")
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_event SET reason = 'ritoccato' WHERE id = :id"), {"id": tampered})
        before = _stored(engine)
        expected = (
            f"catena dell'audit (SHA-256) già rotta in 1 domanda: non viene ricalcolata con la nuova chiave,"
            f" il database resta com'era. evento {tampered} (domanda {second_id}): l'impronta non corrisponde"
        )
        with pytest.raises(Exception, match=re.escape(expected)):
            _alembic(engine, command.upgrade, "0005")
        assert _stored(engine) == before and _revision(engine) == "0004"

        # and the way back verifies the keyed chain first too
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_event SET reason = NULL WHERE id = :id"), {"id": tampered})
        _alembic(engine, command.upgrade, "0005")
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_event SET reason = 'ritoccato' WHERE id = :id"), {"id": tampered})
        with pytest.raises(Exception, match=re.escape("catena dell'audit (HMAC) già rotta in 1 domanda")):
            _alembic(engine, command.downgrade, "0004")
        assert _revision(engine) == "0005"
