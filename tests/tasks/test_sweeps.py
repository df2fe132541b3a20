"""The daily sweeps on a real database, with explicit dates: what they move, what they queue, and that
a second run — or a run after a crash half-way — moves and queues nothing more."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from models.application import Application
from models.enums import ApplicationKind, Event, Role, State
from models.notification import Notification
from models.people import SYSTEM_USERNAME, User
from models.procedure import AuditEvent
from models.profiles import RegionProfile
from models.registry import AnnualReport, RegistryEntry
from notifications import outbox
from tasks.expiry import close_lapsed_terms
from tasks.reminders import queue_daily_reminders
from tasks.report_cycle import open_reports, report_mails
from tests.factories import Factory, Journey


def mails(session: Session, kind: str) -> list[Notification]:
    return list(session.exec(select(Notification).where(Notification.kind == kind).order_by(col(Notification.id))))


def active_journey(factory: Factory) -> Journey:
    j = Journey(factory)
    j.to_active()  # act issued on 2026-03-07: valid until 2029-03-06
    return j


def test_report_cycle_opens_once_reminds_and_escalates(
    factory: Factory, session: Session, profile: RegionProfile
) -> None:
    j = active_journey(factory)
    assert open_reports(session, profile=profile, as_of=date(2026, 12, 31)) == (2025, 0)  # not active in 2025
    assert open_reports(session, profile=profile, as_of=date(2027, 1, 1)) == (2026, 1)
    assert open_reports(session, profile=profile, as_of=date(2027, 1, 1)) == (2026, 0)
    report = session.exec(select(AnnualReport)).one()
    assert (report.year, report.state, report.due_on) == (2026, State.REPORT_OPEN, date(2027, 3, 31))

    assert report_mails(session, profile=profile, as_of=date(2027, 1, 1)) == (2, 0)  # district PEC + representative
    assert report_mails(session, profile=profile, as_of=date(2027, 1, 1)) == (0, 0)
    assert report_mails(session, profile=profile, as_of=date(2027, 1, 2)) == (0, 0)  # same step: nothing new
    assert report_mails(session, profile=profile, as_of=date(2027, 3, 1)) == (2, 0)  # 30 days before
    assert report_mails(session, profile=profile, as_of=date(2027, 4, 7)) == (2, 0)  # a week overdue
    assert report_mails(session, profile=profile, as_of=date(2027, 5, 30)) == (2, 1)  # 60 days: the official
    assert report_mails(session, profile=profile, as_of=date(2027, 5, 31)) == (0, 0)
    escalation = mails(session, "report_escalation")
    assert [m.recipient for m in escalation] == [j.official.email]
    assert "60 giorni" in escalation[0].body_text and j.district.name in escalation[0].subject
    subjects = [m.subject for m in mails(session, "report_due")]
    assert subjects[0].startswith("Relazione annuale 2026: apertura")
    assert subjects[-1].startswith("Sollecito: relazione annuale 2026 non pervenuta")


def test_filed_report_gets_no_more_reminders(factory: Factory, session: Session, profile: RegionProfile) -> None:
    j = active_journey(factory)
    open_reports(session, profile=profile, as_of=date(2027, 1, 1))
    report = session.exec(select(AnnualReport)).one()
    j.day = j.day.replace(year=2027, month=2, day=1)
    from notifications.outbox import apply_and_notify

    apply_and_notify(
        session,
        application=j.app,
        event=Event.FILE_REPORT,
        actor=j.rep,
        profile=profile,
        now=j.day,
        payload={"content": {"attivita": "fiere"}},
        report=report,
    )
    assert report_mails(session, profile=profile, as_of=date(2027, 3, 1)) == (0, 0)
    assert report_mails(session, profile=profile, as_of=date(2027, 5, 30)) == (0, 0)


def test_crash_half_way_then_rerun_sends_nothing_twice(
    factory: Factory, session: Session, profile: RegionProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        active_journey(factory)
    open_reports(session, profile=profile, as_of=date(2027, 1, 1))
    real_rendered = outbox.rendered
    calls = {"n": 0}

    def crash_on_the_second(message: outbox.Pending) -> outbox.Content:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("processo interrotto")
        return real_rendered(message)

    monkeypatch.setattr(outbox, "rendered", crash_on_the_second)
    with pytest.raises(RuntimeError):
        report_mails(session, profile=profile, as_of=date(2027, 1, 1))
    session.rollback()
    monkeypatch.setattr(outbox, "rendered", real_rendered)
    assert report_mails(session, profile=profile, as_of=date(2027, 1, 1)) == (6, 0)
    assert report_mails(session, profile=profile, as_of=date(2027, 1, 1)) == (0, 0)
    keys = session.exec(select(Notification.idempotency_key).where(Notification.kind == "report_due")).all()
    assert len(keys) == len(set(keys)) == 6


def test_expiry_moves_once_and_notifies(factory: Factory, session: Session, profile: RegionProfile) -> None:
    j = active_journey(factory)
    assert close_lapsed_terms(session, profile=profile, as_of=date(2029, 3, 6)).expired == []
    report = close_lapsed_terms(session, profile=profile, as_of=date(2029, 3, 7))
    assert report.expired == [j.app.id]
    session.refresh(j.app)
    assert j.app.state == State.EXPIRED
    audit = session.exec(select(AuditEvent).where(AuditEvent.event == Event.EXPIRE)).one()
    actor = session.get(User, audit.actor_id)
    assert actor is not None and actor.username == SYSTEM_USERNAME and audit.reason == "termine decorso"
    assert len(mails(session, "expired")) == 2
    assert close_lapsed_terms(session, profile=profile, as_of=date(2029, 3, 9)).expired == []
    assert len(mails(session, "expired")) == 2


def test_renewal_filed_in_time_keeps_the_entry_valid(
    factory: Factory, session: Session, profile: RegionProfile
) -> None:
    j = active_journey(factory)
    renewal = factory.application(j.district, kind=ApplicationKind.RENEWAL)
    renewal.renewal_of_id = j.app.id
    session.add(renewal)
    session.commit()
    j.app, old = renewal, j.app
    j.day = j.day.replace(year=2029, month=2, day=20)
    j.do(Event.SUBMIT)
    session.refresh(old)
    assert old.state == State.RENEWAL_REQUESTED
    assert close_lapsed_terms(session, profile=profile, as_of=date(2029, 3, 20)).expired == []  # kept valid
    j.day = j.day.replace(month=3, day=25)
    j.do(Event.START_REVIEW)
    j.do(Event.APPROVE_RENEWAL)
    j.do(Event.ISSUE_ACT, publication_ref="BURP n. 9")
    session.refresh(old)
    entry = session.exec(select(RegistryEntry).where(RegistryEntry.district_id == j.district.id)).one()
    assert (old.state, renewal.state) == (State.RENEWED, State.ACTIVE)
    assert (entry.application_id, entry.valid_from, entry.valid_until) == (
        renewal.id,
        date(2029, 3, 7),
        date(2032, 3, 6),
    )


def test_integration_reminders_then_lapse(factory: Factory, session: Session, profile: RegionProfile) -> None:
    j = Journey(factory)
    j.do(Event.SUBMIT)
    j.do(Event.START_REVIEW)
    j.do(Event.REQUEST_INTEGRATION, missing_items=["Patto di distretto firmato"], deadline_days=20)
    deadline = j.app.integration_deadline
    assert deadline == date(2026, 3, 25)
    counts = [
        queue_daily_reminders(session, profile=profile, as_of=date(2026, 3, d)).queued["answers_due"]
        for d in (17, 18, 19, 23, 24, 25)
    ]
    assert counts == [0, 2, 0, 2, 0, 2]  # 7 days before, 2 days before, on the day (PEC + representative)
    assert close_lapsed_terms(session, profile=profile, as_of=date(2026, 3, 25)).lapsed == []
    assert close_lapsed_terms(session, profile=profile, as_of=date(2026, 3, 26)).lapsed == [j.app.id]
    session.refresh(j.app)
    assert j.app.state == State.INADMISSIBLE


def test_term_warnings_go_to_the_responsible_official(
    factory: Factory, session: Session, profile: RegionProfile
) -> None:
    j = Journey(factory)
    j.do(Event.SUBMIT)  # 2026-03-03: 30-day term, deadline 2026-04-02
    j.do(Event.START_REVIEW)
    sent = {
        d: queue_daily_reminders(session, profile=profile, as_of=d).queued["terms_lapsing"]
        for d in (
            date(2026, 3, 22),
            date(2026, 3, 23),
            date(2026, 3, 30),
            date(2026, 4, 2),
            date(2026, 4, 3),
            date(2026, 4, 4),
        )
    }
    assert list(sent.values()) == [0, 1, 1, 1, 1, 0]
    rows = mails(session, "term_lapsing")
    assert {m.recipient for m in rows} == {j.official.email}
    assert "superato" in rows[-1].subject


def test_validity_ending_reminders_180_90_30(factory: Factory, session: Session, profile: RegionProfile) -> None:
    active_journey(factory)  # valid until 2029-03-06
    days = [date(2028, 9, 6), date(2028, 9, 7), date(2028, 9, 8), date(2028, 12, 6), date(2029, 2, 4), date(2029, 3, 1)]
    counts = [queue_daily_reminders(session, profile=profile, as_of=d).queued["validity_ending"] for d in days]
    assert counts == [0, 2, 0, 2, 2, 0]
    total = session.exec(
        select(func.count()).select_from(Notification).where(Notification.kind == "validity_ending")
    ).one()
    assert total == 6
    assert session.exec(select(Application).where(Application.state == State.ACTIVE)).one()
    assert Role.REPRESENTATIVE  # the mails went to the district, not to the office
