"""Read models built from the tables: batched queries, no state changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.schemas import (
    ActionRead,
    AllowedAction,
    ApplicationDetail,
    ApplicationRead,
    ClockRead,
    DocumentRead,
    SuspensionRead,
    TimelineItem,
)
from models.access import visible_filter
from models.application import Application, Document, ProtocolEntry, StageAction
from models.base import local_date
from models.clock import ClockReading, clock_of, suspensions_by_application
from models.district import District, MemberEnterprise
from models.enums import Event, Role, State
from models.labels import DOCUMENT_LABELS, STATE_LABELS
from models.lifecycle import EVENT_LABELS, find_transition, offered_events
from models.people import User
from models.procedure import AuditEvent
from models.profiles import RegionProfile
from models.service import deadline_context

API = "/api/v1"
READ_FIELDS = {
    "id",
    "district_id",
    "kind",
    "section",
    "state",
    "version",
    "programme_summary",
    "specificity",
    "renewal_of_id",
    "integration_deadline",
    "observations_deadline",
    "pending_action_id",
    "created_at",
    "updated_at",
    "submitted_at",
    "decided_at",
    "activated_at",
    "closed_at",
}


def action_path(application_id: int, event: Event) -> str:
    return f"{API}/applications/{application_id}/actions/{event.value}"


def allowed_actions(application: Application, user: User, profile: RegionProfile, now: datetime) -> list[AllowedAction]:
    """The actions offered to ``user``: the lifecycle's, less those a deadline refuses today."""
    if application.pending_action_id is not None or user.role == Role.SYSTEM:
        return []
    result = []
    deadlines = deadline_context(application, profile, now)
    for event in offered_events(application.state, application.kind, user.role, deadlines):
        transition = find_transition(application.state, event, application.kind)
        assert transition is not None
        result.append(AllowedAction(event=event, label=transition.label, path=action_path(application.id or 0, event)))
    return result


def is_overdue(clock: ClockReading | None, application: Application) -> bool:
    return clock is not None and application.closed_on is None and clock.status == "fuori termine"


def application_reads(
    session: Session, applications: Sequence[Application], *, user: User, profile: RegionProfile, now: datetime
) -> list[ApplicationRead]:
    ids = [a.id for a in applications if a.id is not None]
    if not ids:
        return []
    districts = {
        d.id: d
        for d in session.exec(select(District).where(col(District.id).in_({a.district_id for a in applications}))).all()
    }
    totals = {
        app_id: (int(n), int(e))
        for app_id, n, e in session.exec(
            select(
                MemberEnterprise.application_id,
                func.count(col(MemberEnterprise.id)),
                func.coalesce(func.sum(MemberEnterprise.employees), 0),
            )
            .where(col(MemberEnterprise.application_id).in_(ids))
            .group_by(col(MemberEnterprise.application_id))
        ).all()
    }
    protocol_ids = [a.protocol_id for a in applications if a.protocol_id is not None]
    protocols = _protocol_labels(session, protocol_ids)
    suspensions = suspensions_by_application(session, ids)
    today = local_date(now)
    reads = []
    for app in applications:
        assert app.id is not None
        clock = clock_of(app, suspensions.get(app.id, []), profile, today)
        reads.append(
            _read(app, districts[app.district_id], totals.get(app.id, (0, 0)), protocols, clock, user, profile, now)
        )
    return reads


def application_read(
    session: Session, application: Application, *, user: User, profile: RegionProfile, now: datetime
) -> ApplicationRead:
    return application_reads(session, [application], user=user, profile=profile, now=now)[0]


def _read(
    app: Application,
    district: District,
    totals: tuple[int, int],
    protocols: dict[int, str],
    clock: ClockReading | None,
    user: User,
    profile: RegionProfile,
    now: datetime,
) -> ApplicationRead:
    section = profile.section(app.section) if profile.has_section(app.section) else None
    return ApplicationRead(
        **app.model_dump(include=READ_FIELDS),
        district_name=district.name,
        section_name=section.name if section else "",
        office=profile.office_of(app.section).name if section else "",
        state_label=STATE_LABELS[app.state],
        protocol=protocols.get(app.protocol_id) if app.protocol_id else None,
        enterprises=totals[0],
        employees=totals[1],
        term_deadline=clock.deadline if clock else None,
        clock=ClockRead(**clock.__dict__) if clock else None,
        overdue=is_overdue(clock, app),
        allowed_actions=allowed_actions(app, user, profile, now),
    )


def _protocol_labels(session: Session, ids: Sequence[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(ProtocolEntry).where(col(ProtocolEntry.id).in_(wanted))).all()
    return {p.id: p.label for p in rows if p.id is not None}


def document_reads(session: Session, application: Application) -> list[DocumentRead]:
    docs = session.exec(
        select(Document).where(Document.application_id == application.id).order_by(col(Document.id))
    ).all()
    protocols = _protocol_labels(session, [d.protocol_id for d in docs])
    return [
        DocumentRead(
            **d.model_dump(include={"id", "kind", "filename", "content_type", "size", "sha256", "uploaded_at"}),
            kind_label=DOCUMENT_LABELS.get(d.kind, str(d.kind)),
            protocol=protocols.get(d.protocol_id) if d.protocol_id else None,
            download_url=f"{API}/applications/{application.id}/documents/{d.id}/file",
        )
        for d in docs
    ]


def timeline(session: Session, application: Application) -> list[TimelineItem]:
    rows = session.exec(
        select(AuditEvent, User.full_name)
        .join(User, col(User.id) == col(AuditEvent.actor_id), isouter=True)
        .where(AuditEvent.application_id == application.id)
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    ).all()
    return [
        TimelineItem(
            at=audit.at,
            event=audit.event,
            event_label=EVENT_LABELS.get(audit.event, audit.event.value),
            from_state=audit.from_state,
            from_label=STATE_LABELS[audit.from_state],
            to_state=audit.to_state,
            to_label=STATE_LABELS[audit.to_state],
            actor_id=audit.actor_id,
            actor_name=name,
            actor_role=audit.actor_role,
            reason=audit.reason,
            flow_run_id=audit.flow_run_id,
            details=audit.details or {},
        )
        for audit, name in rows
    ]


def application_detail(
    session: Session, application: Application, *, user: User, profile: RegionProfile, now: datetime
) -> ApplicationDetail:
    base = application_read(session, application, user=user, profile=profile, now=now)
    pending = session.get(StageAction, application.pending_action_id) if application.pending_action_id else None
    assert application.id is not None
    return ApplicationDetail(
        **base.model_dump(),
        timeline=timeline(session, application),
        suspensions=[
            SuspensionRead.model_validate(s)
            for s in suspensions_by_application(session, [application.id])[application.id]
        ],
        documents=document_reads(session, application),
        pending_action=ActionRead.model_validate(pending) if pending else None,
    )


# ---- listing -------------------------------------------------------------------------------


def list_applications(
    session: Session,
    *,
    user: User,
    profile: RegionProfile,
    now: datetime,
    state: State | None,
    section: int | None,
    sections: list[int] | None,
    district_id: int | None,
    overdue: bool | None,
    page: int,
    page_size: int,
) -> tuple[list[ApplicationRead], int]:
    query = select(Application).where(visible_filter(user, profile))
    if state is not None:
        query = query.where(Application.state == state)
    if section is not None:
        query = query.where(Application.section == section)
    if sections is not None:
        query = query.where(col(Application.section).in_(sections))
    if district_id is not None:
        query = query.where(Application.district_id == district_id)
    query = query.order_by(col(Application.updated_at).desc(), col(Application.id).desc())
    if overdue is None:
        total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
        page_rows = session.exec(query.offset((page - 1) * page_size).limit(page_size)).all()
        return application_reads(session, page_rows, user=user, profile=profile, now=now), int(total)
    # overdue depends on the clock (suspensions, holidays): read it for the open procedures
    candidates = session.exec(
        query.where(col(Application.term_start).is_not(None), col(Application.closed_on).is_(None))
        if overdue
        else query
    ).all()
    suspensions = suspensions_by_application(session, [a.id for a in candidates if a.id is not None])
    today = local_date(now)
    matching = [
        a for a in candidates if is_overdue(clock_of(a, suspensions.get(a.id or 0, []), profile, today), a) == overdue
    ]
    page_rows = matching[(page - 1) * page_size : page * page_size]
    return application_reads(session, page_rows, user=user, profile=profile, now=now), len(matching)
