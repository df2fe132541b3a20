"""apply_event: guards, competence, clock ledger, act numbering, registry entry, outbox, optimistic lock."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from models.application import Application, ProtocolEntry
from models.district import District
from models.enums import ApplicationKind, DocumentKind, Event, Role, State
from models.errors import ConcurrentChange, Forbidden, InvalidInput, NotFound, RuleViolation
from models.notification import Notification
from models.people import User
from models.procedure import AuditEvent, ClockSuspension
from models.registry import RecognitionAct, RegistryEntry
from models.service import apply_event, evaluation_round
from tests.factories import Factory, Journey


def test_happy_path_to_registry_entry(factory: Factory, session: Session) -> None:
    j = Journey(factory)
    j.do(Event.SUBMIT)
    protocol = session.get(ProtocolEntry, j.app.protocol_id)
    assert protocol is not None and protocol.number == 1 and len(protocol.sha256) == 64
    j.do(Event.START_REVIEW)
    assert j.app.responsible_official_id == j.official.id
    j.do(Event.DECLARE_COMPLETE)
    j.score(75)
    j.do(Event.APPROVE)
    j.do(Event.ISSUE_ACT, publication_ref="BURP n. 5")
    assert j.app.state == State.ACTIVE
    act = session.exec(select(RecognitionAct).where(RecognitionAct.application_id == j.app.id)).one()
    entry = session.exec(select(RegistryEntry).where(RegistryEntry.district_id == j.district.id)).one()
    assert act.number == 1 and act.valid_from == j.day.date()
    assert act.valid_until == date(j.day.year + 3, j.day.month, j.day.day) - timedelta(days=1)
    assert (entry.valid_until, entry.enterprises, entry.employees) == (act.valid_until, 50, 150)
    events = session.exec(
        select(AuditEvent.event).where(AuditEvent.application_id == j.app.id).order_by(col(AuditEvent.id))
    ).all()
    assert events == [Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE, Event.APPROVE, Event.ISSUE_ACT]


@pytest.mark.parametrize(
    ("enterprises", "employees_each", "documents", "fragment"),
    [
        (49, 4, None, "almeno 50 imprese"),
        (50, 2, None, "almeno 150 addetti"),
        (50, 3, [DocumentKind.PACT], "Programma di Sviluppo"),
    ],
)
def test_submission_refused_when_not_eligible(
    factory: Factory, session: Session, enterprises: int, employees_each: int, documents: object, fragment: str
) -> None:
    j = Journey(factory, enterprises=enterprises, employees_each=employees_each, documents=documents)
    with pytest.raises(RuleViolation, match=fragment):
        j.do(Event.SUBMIT)
    session.refresh(j.app)
    assert j.app.state == State.DRAFT and j.app.protocol_id is None
    assert session.exec(select(AuditEvent)).all() == []


def test_integration_suspends_once_and_answer_resumes(factory: Factory, session: Session) -> None:
    j = Journey(factory)
    j.do(Event.SUBMIT)
    j.do(Event.START_REVIEW)
    with pytest.raises(InvalidInput, match="al massimo 30 giorni") as refused:  # the profile's limit
        j.do(Event.REQUEST_INTEGRATION, missing_items=["patto firmato"], deadline_days=90)
    assert refused.value.details["field"] == "deadline_days" and session.exec(select(ClockSuspension)).all() == []
    j.do(Event.REQUEST_INTEGRATION, missing_items=["patto firmato"], deadline_days=30)
    suspension = session.exec(select(ClockSuspension)).one()
    assert suspension.reason == "integrazione documentale"
    assert j.app.integration_deadline is not None
    assert (j.app.integration_deadline - suspension.started_on).days >= 30  # moved off holidays
    assert (j.app.integration_deadline - suspension.started_on).days <= 33
    j.do(Event.ANSWER_INTEGRATION, days_later=5)
    session.refresh(suspension)
    assert suspension.ended_on == j.day.date()
    with pytest.raises(RuleViolation, match="una sola volta"):
        j.do(Event.REQUEST_INTEGRATION, missing_items=["altro"])


def test_integration_lapses_only_after_deadline(factory: Factory, session: Session) -> None:
    j = Journey(factory)
    j.do(Event.SUBMIT)
    j.do(Event.START_REVIEW)
    j.do(Event.REQUEST_INTEGRATION, missing_items=["patto firmato"], deadline_days=10)
    with pytest.raises(RuleViolation, match="non è ancora scaduto"):
        j.do(Event.INTEGRATION_LAPSED)
    j.do(Event.INTEGRATION_LAPSED, days_later=15)
    assert j.app.state == State.INADMISSIBLE and j.app.closed_on == j.day.date()


def test_rejection_needs_notice_and_observations_restart_clock(factory: Factory, session: Session) -> None:
    j = Journey(factory)
    for event in (Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE):
        j.do(event)
    j.score(40)
    with pytest.raises(RuleViolation, match="preavviso di rigetto"):
        j.do(Event.REJECT)
    with pytest.raises(RuleViolation, match="occorre il preavviso"):
        j.do(Event.APPROVE)
    j.do(Event.NOTIFY_REJECTION_INTENT, reason="programma generico")
    assert j.app.observations_deadline is not None
    j.do(Event.SUBMIT_OBSERVATIONS, days_later=4, observations="abbiamo dettagliato il programma")
    notice = session.exec(select(ClockSuspension).where(ClockSuspension.reason == "preavviso di rigetto")).one()
    assert notice.ended_on == j.day.date() + timedelta(days=10)  # art. 10-bis: restarts ten days later
    assert j.app.state == State.COMMITTEE_EVALUATION and evaluation_round(j.app) == 2
    with pytest.raises(RuleViolation, match="servono almeno"):
        j.do(Event.REJECT)  # the committee must score again
    j.score(45)
    j.do(Event.REJECT, reason="osservazioni non sufficienti")
    assert j.app.state == State.REJECTED


def test_official_of_other_office_is_refused(factory: Factory, session: Session) -> None:
    j = Journey(factory, section=6)
    j.do(Event.SUBMIT)
    outsider = factory.user(Role.OFFICIAL, office="ricerca")
    with pytest.raises(Forbidden):
        apply_event(
            session, application=j.app, event=Event.START_REVIEW, actor=outsider, profile=factory.profile, now=j.day
        )


def test_representative_of_other_district_and_wrong_role_are_refused(factory: Factory, session: Session) -> None:
    j = Journey(factory)
    other = factory.user(Role.REPRESENTATIVE, district=factory.district())
    with pytest.raises(NotFound):  # another district's draft: not even its existence (models.access)
        apply_event(session, application=j.app, event=Event.SUBMIT, actor=other, profile=factory.profile, now=j.day)
    with pytest.raises(Forbidden, match="ruolo"):
        apply_event(
            session, application=j.app, event=Event.SUBMIT, actor=j.official, profile=factory.profile, now=j.day
        )


def test_notifications_queued_once_per_event_and_recipient(factory: Factory, session: Session) -> None:
    j = Journey(factory)
    j.do(Event.SUBMIT)
    rows = session.exec(select(Notification)).all()
    assert {r.recipient for r in rows} == {j.district.pec_email, j.rep.email}
    assert all(r.kind == "procedure_started" and "Avvio del procedimento" in r.subject for r in rows)
    assert all(j.district.name in r.body_text and "<html" in r.body_html for r in rows)
    assert len({r.idempotency_key for r in rows}) == len(rows)


def test_stale_version_is_a_concurrent_change(factory: Factory, session: Session, clean_db) -> None:  # type: ignore[no-untyped-def]
    j = Journey(factory)
    with Session(clean_db, expire_on_commit=False) as other:
        stale = other.get(Application, j.app.id)
        assert stale is not None
        j.do(Event.SUBMIT)
        rep = other.get(User, j.rep.id)
        assert rep is not None
        with pytest.raises(ConcurrentChange):
            apply_event(other, application=stale, event=Event.SUBMIT, actor=rep, profile=factory.profile, now=j.day)
    assert session.exec(select(AuditEvent)).all().__len__() == 1


def test_census_path_registers_without_act(factory: Factory, session: Session) -> None:
    j = Journey(factory, section=5, kind=ApplicationKind.CENSUS)
    for event in (Event.SUBMIT, Event.START_REVIEW, Event.REGISTER):
        j.do(event)
    entry = session.exec(select(RegistryEntry).where(RegistryEntry.district_id == j.district.id)).one()
    assert j.app.state == State.REGISTERED and entry.act_id is None and entry.valid_until is None


def test_renewal_runs_on_from_old_end_date(factory: Factory, session: Session) -> None:
    j, original = _renewal_of_active_entry(factory, session)
    first_end = session.exec(select(RegistryEntry).where(RegistryEntry.district_id == j.district.id)).one().valid_until
    assert first_end is not None
    j.day = j.day.replace(year=j.day.year + 2, month=10)
    j.do(Event.SUBMIT)
    session.refresh(original)
    assert original.state == State.RENEWAL_REQUESTED
    for event in (Event.START_REVIEW, Event.DECLARE_COMPLETE):
        j.do(event)
    j.score(70)
    j.do(Event.APPROVE)
    j.do(Event.ISSUE_ACT)
    session.refresh(original)
    entry = session.exec(select(RegistryEntry).where(RegistryEntry.district_id == j.district.id)).one()
    assert original.state == State.RENEWED and j.app.state == State.ACTIVE
    assert entry.application_id == j.app.id and entry.valid_from <= first_end + timedelta(days=1)
    assert entry.valid_until == date(first_end.year + 3, first_end.month, first_end.day)


def _renewal_of_active_entry(factory: Factory, session: Session) -> tuple[Journey, Application]:
    j = Journey(factory)
    for event in (Event.SUBMIT, Event.START_REVIEW, Event.DECLARE_COMPLETE):
        j.do(event)
    j.score(80)
    j.do(Event.APPROVE)
    j.do(Event.ISSUE_ACT)
    district = session.get(District, j.district.id)
    assert district is not None
    renewal = factory.application(district, kind=ApplicationKind.RENEWAL)
    renewal.renewal_of_id = j.app.id
    session.add(renewal)
    session.commit()
    original, j.app = j.app, renewal
    return j, original


def test_a_renewal_withdrawn_moves_its_entry_only_once_submitted(factory: Factory, session: Session) -> None:
    j, original = _renewal_of_active_entry(factory, session)
    j.do(Event.WITHDRAW, reason="presentata per errore")  # a draft: the entry never left the active state
    session.refresh(original)
    assert j.app.state == State.WITHDRAWN and original.state == State.ACTIVE
    j, original = _renewal_of_active_entry(factory, session)
    j.do(Event.SUBMIT)
    j.do(Event.WITHDRAW, reason="ci ripensiamo")
    session.refresh(original)
    assert original.state == State.ACTIVE  # the renewal refused: the entry is active again
    trail = select(AuditEvent.event).where(AuditEvent.application_id == original.id).order_by(col(AuditEvent.id))
    assert list(session.exec(trail))[-2:] == [Event.REQUEST_RENEWAL, Event.RENEWAL_REFUSED]
