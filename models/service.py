"""The only code that changes an application's (or a report's) state: ``apply_event``.

It checks the lifecycle table, the actor's role and competence and the guard, writes the
new state and its timestamp, runs the event's effects (clock ledger, act, registry entry; on a
renewal, the move of the entry it renews), appends the audit event and commits. The notices of the
event are queued in the same transaction by ``notifications.outbox.apply_and_notify``, which is what
the stage work, the sweeps and the simulation call: the domain renders nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from models import audit_chain, effects
from models.access import ensure_can_see
from models.application import Application, Document
from models.base import local_date
from models.district import member_totals
from models.enums import ApplicationKind, DocumentKind, Event, Role, Subject
from models.errors import ConcurrentChange, Forbidden, RuleViolation, TransitionNotAllowed
from models.labels import ROLE_LABELS, STATE_LABELS
from models.lifecycle import (
    ENTRY_STATES,
    EVENT_LABELS,
    STAGE_TIMESTAMPS,
    GuardContext,
    Transition,
    allowed_events,
    find_transition,
    labels_of,
)
from models.people import User, system_user
from models.procedure import AuditEvent, ClockSuspension, Evaluation
from models.profiles import RegionProfile
from models.registry import AnnualReport, RegistryEntry


def check_event(
    session: Session,
    *,
    application: Application,
    event: Event,
    actor: User,
    profile: RegionProfile,
    now: datetime,
    payload: dict[str, Any] | None = None,
    report: AnnualReport | None = None,
) -> Transition:
    """Everything ``apply_event`` checks, without writing: the API answers 409/403/422 from here."""
    state = report.state if report is not None else application.state
    transition = find_transition(state, event, application.kind)
    if transition is None or (transition.subject == Subject.REPORT) != (report is not None):
        allowed = allowed_events(state, application.kind, actor.role)
        what = EVENT_LABELS.get(event, event)
        raise TransitionNotAllowed(
            f"azione «{what}» non consentita nello stato «{STATE_LABELS[state]}»; "
            f"azioni consentite: {labels_of(allowed)}",
            state=state,
            allowed=allowed,
        )
    if actor.role not in transition.roles:
        raise Forbidden(f"l'azione «{transition.label}» non è consentita al ruolo «{ROLE_LABELS[actor.role]}»")
    if actor.role != Role.SYSTEM:
        ensure_can_see(session, actor, application, profile)
    if transition.check is not None:
        transition.check(session, application, payload or {}, profile)
    if transition.guard is None:
        return transition
    context = build_context(session, application=application, profile=profile, now=now, payload=payload or {})
    if reason := transition.guard(context):
        raise RuleViolation(reason, event=event, state=state)
    return transition


def apply_event(
    session: Session,
    *,
    application: Application,
    event: Event,
    actor: User,
    profile: RegionProfile,
    now: datetime,
    payload: dict[str, Any] | None = None,
    reason: str | None = None,
    flow_run_id: str | None = None,
    report: AnnualReport | None = None,
    commit: bool = True,
) -> AuditEvent:
    payload = dict(payload or {})
    transition = check_event(
        session,
        application=application,
        event=event,
        actor=actor,
        profile=profile,
        now=now,
        payload=payload,
        report=report,
    )
    source = report.state if report is not None else application.state
    _bump_version(session, application)
    if report is not None:
        report.state = transition.target
        session.add(report)
    else:
        application.state = transition.target
        if column := STAGE_TIMESTAMPS.get(transition.target):
            setattr(application, column, now)
    application.updated_at = now
    session.add(application)
    move = effects.Move(session, application, actor, profile, now, payload, report)
    if transition.clock is not None:
        effects.clock(move, transition.clock)
    if transition.effect is not None:
        transition.effect(move)
    if transition.renewed_entry is not None and application.kind == ApplicationKind.RENEWAL:
        _move_renewed_entry(session, application, transition.renewed_entry, profile, now)
    audit = AuditEvent(
        subject=transition.subject,
        application_id=application.id,  # type: ignore[arg-type]
        report_id=report.id if report is not None else None,
        event=event,
        from_state=source,
        to_state=transition.target,
        actor_id=actor.id,
        actor_role=actor.role,
        at=now,
        reason=reason or payload.get("reason"),
        flow_run_id=flow_run_id,
        details=_jsonable(payload),
        prev_hash=application.audit_head or audit_chain.GENESIS,
        hash="",  # set next, over the fields above
    )
    audit.hash = audit_chain.event_hash(audit, audit.prev_hash, audit_chain.chain_key())
    application.audit_head = audit.hash  # same row as the version bump: one chain per application
    session.add(audit)
    session.flush()
    if commit:
        session.commit()
    return audit


def _move_renewed_entry(
    session: Session, renewal: Application, event: Event, profile: RegionProfile, now: datetime
) -> None:
    """A renewal moves the application of the entry it renews too (its row's ``renewed_entry``)."""
    previous = session.get(Application, renewal.renewal_of_id) if renewal.renewal_of_id else None
    if previous is not None:
        actor = system_user(session)
        apply_event(session, application=previous, event=event, actor=actor, profile=profile, now=now, commit=False)


def _bump_version(session: Session, application: Application) -> None:
    """Optimistic lock: exactly one of two concurrent moves on the same file succeeds."""
    expected = application.version
    result = session.execute(
        update(Application)
        .where(col(Application.id) == application.id, col(Application.version) == expected)
        .values(version=expected + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ConcurrentChange("la pratica è stata modificata da un'altra operazione: ricaricare e riprovare")
    application.version = expected + 1


def build_context(
    session: Session,
    *,
    application: Application,
    profile: RegionProfile,
    now: datetime,
    payload: dict[str, Any],
) -> GuardContext:
    app_id = application.id
    enterprises, employees = member_totals(session, app_id)
    kinds = session.exec(select(Document.kind).where(Document.application_id == app_id).distinct()).all()
    reasons = session.exec(select(ClockSuspension.reason).where(ClockSuspension.application_id == app_id)).all()
    count, average = session.exec(
        select(func.count(col(Evaluation.id)), func.avg(Evaluation.total)).where(
            Evaluation.application_id == app_id, Evaluation.round == evaluation_round(application)
        )
    ).one()
    valid_until = None
    if application.state in ENTRY_STATES or application.kind == ApplicationKind.RENEWAL:
        entry_app = application.renewal_of_id or app_id
        entry = session.exec(select(RegistryEntry).where(RegistryEntry.application_id == entry_app)).first()
        valid_until = entry.valid_until if entry is not None else None
    return GuardContext(
        profile=profile,
        today=local_date(now),
        kind=application.kind,
        section=application.section,
        enterprises=enterprises,
        employees=employees,
        documents=frozenset(DocumentKind(k) for k in kinds),
        integration_requests=sum(1 for r in reasons if r == effects.INTEGRATION),
        rejection_notices=sum(1 for r in reasons if r == effects.REJECTION_NOTICE),
        evaluations=int(count),
        average_score=float(average) if average is not None else None,
        integration_deadline=application.integration_deadline,
        observations_deadline=application.observations_deadline,
        valid_until=valid_until,
    )


def deadline_context(application: Application, profile: RegionProfile, now: datetime) -> GuardContext:
    """The facts the deadline guards read (``models.lifecycle.DEADLINE_GUARDS``), without a query."""
    return GuardContext(
        profile=profile,
        today=local_date(now),
        kind=application.kind,
        section=application.section,
        integration_deadline=application.integration_deadline,
        observations_deadline=application.observations_deadline,
    )


def evaluation_round(application: Application) -> int:
    """Round 1, plus one for each rejection notice answered with observations."""
    return 1 + application.observation_rounds


def _jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v if isinstance(v, str | int | float | bool | list | dict | type(None)) else str(v))
        for k, v in payload.items()
    }
