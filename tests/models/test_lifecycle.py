"""Every (state, event) pair of the lifecycle table: allowed pairs move, the others are refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from models.application import Application
from models.enums import ApplicationKind, Event, Role, State, Subject
from models.errors import TransitionNotAllowed
from models.lifecycle import TRANSITIONS, Transition, find_transition
from models.procedure import AuditEvent, ClockSuspension, Evaluation
from models.profiles import RegionProfile
from models.registry import AnnualReport, RegistryEntry
from models.service import apply_event
from tests.factories import Factory

APPLICATION_STATES = [s for s in State if not s.value.startswith("report_")]
REPORT_STATES = [State.REPORT_OPEN, State.REPORT_FILED, State.REPORT_ACCEPTED]
APPLICATION_EVENTS = sorted({t.event for t in TRANSITIONS if t.subject == Subject.APPLICATION})
REPORT_EVENTS = sorted({t.event for t in TRANSITIONS if t.subject == Subject.REPORT})


def _kind_for(transition: Transition) -> ApplicationKind:
    if transition.kinds is None or ApplicationKind.RECOGNITION in transition.kinds:
        return ApplicationKind.RECOGNITION
    return next(iter(transition.kinds))


def _actor_role(transition: Transition) -> Role:
    for role in (Role.REPRESENTATIVE, Role.OFFICIAL, Role.HEAD, Role.COMMITTEE, Role.SYSTEM):
        if role in transition.roles:
            return role
    raise AssertionError(transition)


def _scores(factory: Factory, app: Application, total: float, round_: int = 1) -> None:
    for _ in range(factory.profile.committee.quorum):
        member = factory.user(Role.COMMITTEE, office="ricerca")
        factory.session.add(
            Evaluation(
                application_id=app.id,
                member_id=member.id,
                round=round_,
                scores={},
                total=total,  # type: ignore[arg-type]
                created_at=factory.now,
            )
        )


def _suspension(factory: Factory, app: Application, reason: str, start: date, end: date) -> None:
    factory.session.add(
        ClockSuspension(
            application_id=app.id,
            reason=reason,
            legal_basis="L. 241/1990",
            started_on=start,  # type: ignore[arg-type]
            ends_by=end,
        )
    )


def _entry(factory: Factory, app: Application, valid_until: date) -> None:
    factory.session.add(
        RegistryEntry(
            district_id=app.district_id,
            application_id=app.id,
            section=app.section,  # type: ignore[arg-type]
            registered_on=valid_until - timedelta(days=1000),
            valid_from=valid_until - timedelta(days=1000),
            valid_until=valid_until,
        )
    )


def _arrange(factory: Factory, app: Application, transition: Transition) -> dict[str, object]:
    """Makes the guard of `transition` pass; returns the payload to send."""
    today = factory.now.date()
    s, event = transition.sources, transition.event
    if event == Event.REQUEST_INTEGRATION:
        return {"missing_items": ["Programma di Sviluppo firmato"], "deadline_days": 20}
    if event == Event.INTEGRATION_LAPSED:
        app.integration_deadline = today - timedelta(days=1)
    if event == Event.APPROVE:
        _scores(factory, app, 80)
    if event == Event.NOTIFY_REJECTION_INTENT:
        _scores(factory, app, 40)
    if event == Event.REJECT:
        _scores(factory, app, 40)
        _suspension(factory, app, "preavviso di rigetto", today - timedelta(days=20), today - timedelta(days=10))
        app.observations_deadline = today - timedelta(days=10)
    if event in (Event.REQUEST_RENEWAL, Event.REVOKE, Event.CONFIRM_RENEWAL, Event.RENEWAL_REFUSED):
        _entry(factory, app, today + timedelta(days=60))
    if event == Event.EXPIRE:
        _entry(factory, app, today - timedelta(days=1))
    assert s
    return {"reason": "motivazione di prova"}


@pytest.fixture
def make_app(factory: Factory) -> Callable[[State, ApplicationKind], Application]:
    def make(state: State, kind: ApplicationKind) -> Application:
        district = factory.district(section=5 if kind == ApplicationKind.CENSUS else 1)
        app = factory.application(district, kind=kind)
        app.state = state
        factory.session.add(app)
        factory.session.commit()
        return app

    return make


def _actor(factory: Factory, role: Role, app: Application):  # type: ignore[no-untyped-def]
    if role == Role.REPRESENTATIVE:
        from models.district import District

        district = factory.session.get(District, app.district_id)
        return factory.user(role, district=district)
    if role == Role.SYSTEM:
        from models.people import system_user

        return system_user(factory.session)
    return factory.user(role, office=factory.profile.office_of(app.section).code)


@pytest.mark.parametrize("event", APPLICATION_EVENTS)
@pytest.mark.parametrize("state", APPLICATION_STATES)
def test_application_pair(state: State, event: Event, factory: Factory, make_app, session: Session) -> None:  # type: ignore[no-untyped-def]
    candidates = [
        t for t in TRANSITIONS if t.event == event and state in t.sources and t.subject == Subject.APPLICATION
    ]
    transition = candidates[0] if candidates else None
    kind = _kind_for(transition) if transition else ApplicationKind.RECOGNITION
    app = make_app(state, kind)
    if transition is None:
        actor = factory.user(Role.HEAD, office="ricerca")
        with pytest.raises(TransitionNotAllowed) as refused:
            apply_event(session, application=app, event=event, actor=actor, profile=factory.profile, now=factory.now)
        assert refused.value.details["state"] == state
        session.refresh(app)
        assert app.state == state
        return
    payload = _arrange(factory, app, transition)
    session.add(app)
    session.commit()
    actor = _actor(factory, _actor_role(transition), app)
    version = app.version
    audit = apply_event(
        session, application=app, event=event, actor=actor, profile=factory.profile, now=factory.now, payload=payload
    )
    session.refresh(app)
    assert app.state == transition.target
    assert app.version == version + 1 + (1 if event == Event.SUBMIT and kind == ApplicationKind.RENEWAL else 0)
    assert (audit.from_state, audit.to_state, audit.event) == (state, transition.target, event)
    assert session.exec(select(AuditEvent).where(AuditEvent.application_id == app.id)).all()


@pytest.mark.parametrize("event", REPORT_EVENTS)
@pytest.mark.parametrize("state", REPORT_STATES)
def test_report_pair(state: State, event: Event, factory: Factory, make_app, session: Session) -> None:  # type: ignore[no-untyped-def]
    app = make_app(State.ACTIVE, ApplicationKind.RECOGNITION)
    _entry(factory, app, factory.now.date() + timedelta(days=300))
    session.commit()
    entry = session.exec(select(RegistryEntry).where(RegistryEntry.application_id == app.id)).one()
    report = AnnualReport(
        registry_entry_id=entry.id,
        application_id=app.id,
        year=2025,
        state=state,  # type: ignore[arg-type]
        opened_on=date(2026, 1, 1),
        due_on=date(2026, 3, 31),
    )
    session.add(report)
    session.commit()
    transition = find_transition(state, event)
    if transition is None:
        actor = factory.user(Role.OFFICIAL, office="ricerca")
        with pytest.raises(TransitionNotAllowed):
            apply_event(
                session,
                application=app,
                event=event,
                actor=actor,
                profile=factory.profile,
                now=factory.now,
                report=report,
            )
        return
    actor = _actor(factory, _actor_role(transition), app)
    payload = {"content": {"attivita": "fiere"}} if event == Event.FILE_REPORT else {"remarks": "manca il KPI"}
    apply_event(
        session,
        application=app,
        event=event,
        actor=actor,
        profile=factory.profile,
        now=factory.now,
        payload=payload,
        report=report,
    )
    session.refresh(report)
    session.refresh(app)
    assert report.state == transition.target
    assert app.state == State.ACTIVE


def test_every_state_is_reachable_or_initial() -> None:
    targets = {t.target for t in TRANSITIONS}
    assert set(State) - targets == {State.DRAFT}


def test_timestamp_is_written_for_stage(factory: Factory, make_app, session: Session) -> None:  # type: ignore[no-untyped-def]
    app = make_app(State.DRAFT, ApplicationKind.RECOGNITION)
    rep = _actor(factory, Role.REPRESENTATIVE, app)
    when = factory.now + timedelta(hours=2)
    apply_event(session, application=app, event=Event.SUBMIT, actor=rep, profile=factory.profile, now=when)
    session.refresh(app)
    assert app.submitted_at == when
    assert app.term_start == when.date() and app.term_days == 30
    assert isinstance(app.updated_at, datetime)


def test_the_actions_offered_leave_out_what_a_deadline_refuses_today(profile: RegionProfile) -> None:
    """Closing for a missing integration is offered only once its deadline has passed, and the answer
    only until then; a guard that needs more than the file's dates is never filtered here."""
    from models.lifecycle import GuardContext, allowed_events, offered_events

    deadline = date(2026, 3, 23)

    def offered(state: State, role: Role, today: date, **dates: date) -> list[Event]:
        ctx = GuardContext(profile=profile, today=today, kind=ApplicationKind.RECOGNITION, section=1, **dates)
        return offered_events(state, ApplicationKind.RECOGNITION, role, ctx)

    lapsing = State.INTEGRATION_REQUESTED
    assert allowed_events(lapsing, ApplicationKind.RECOGNITION, Role.OFFICIAL) == [Event.INTEGRATION_LAPSED]
    assert offered(lapsing, Role.OFFICIAL, deadline, integration_deadline=deadline) == []
    assert offered(lapsing, Role.OFFICIAL, date(2026, 3, 24), integration_deadline=deadline) == [
        Event.INTEGRATION_LAPSED
    ]
    assert Event.ANSWER_INTEGRATION in offered(lapsing, Role.REPRESENTATIVE, deadline, integration_deadline=deadline)
    assert Event.ANSWER_INTEGRATION not in offered(
        lapsing, Role.REPRESENTATIVE, date(2026, 3, 24), integration_deadline=deadline
    )
    # the committee's approval needs the quorum (evaluations): still offered, checked when requested
    assert offered(State.COMMITTEE_EVALUATION, Role.OFFICIAL, deadline) == allowed_events(
        State.COMMITTEE_EVALUATION, ApplicationKind.RECOGNITION, Role.OFFICIAL
    )
    # one integration request only: once answered, the completeness check no longer offers another
    checking = State.COMPLETENESS_CHECK
    assert Event.REQUEST_INTEGRATION in offered(checking, Role.OFFICIAL, deadline)
    assert Event.REQUEST_INTEGRATION not in offered(checking, Role.OFFICIAL, deadline, integration_deadline=deadline)
