"""The outbox view: which mails were queued, sent or refused, to whom and when; a failed one back in the queue.

Officials and heads see the mails of their office's sections, the administrator all of them (also those
without an application), a representative only the mails addressed to their district; others get 403.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import and_, func, not_, or_, update
from sqlalchemy import select as select_columns
from sqlmodel import col, select

from api.deps import Context, Ctx, CurrentApplication
from api.notification_schemas import NotificationDetail, NotificationRead, kind_label
from api.schemas import Page
from models.access import private_condition, sections_of
from models.application import Application
from models.base import ROME
from models.district import District
from models.enums import NotificationStatus, Role
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.notices import NOTICES
from models.notification import Notification
from models.search import contains_folded

log = logging.getLogger("registro.api")
router = APIRouter(tags=["Comunicazioni"])

READERS = frozenset({Role.ADMIN, Role.OFFICIAL, Role.HEAD, Role.REPRESENTATIVE})
RETRIERS = frozenset({Role.ADMIN, Role.OFFICIAL, Role.HEAD})
DISTRICT_KINDS = sorted(kind for kind, message in NOTICES.items() if not message.to_office)
LIST_COLUMNS = (
    col(Notification.id),
    col(Notification.application_id),
    col(Notification.kind),
    col(Notification.recipient),
    col(Notification.subject),
    col(Notification.status),
    col(Notification.attempts),
    col(Notification.last_error),
    col(Notification.created_at),
    col(Notification.sent_at),
    col(Notification.next_attempt_at),
)
Filters = list[Any]


def visible(ctx: Context) -> Any:
    """The SQL condition of the rows the user may read (403 for the roles that read none)."""
    user = ctx.user
    if user.role not in READERS:
        raise Forbidden("le comunicazioni sono consultabili solo dagli uffici regionali e dai distretti")
    if user.role == Role.REPRESENTATIVE:
        district_id = user.district_id if user.district_id is not None else -1
        return and_(col(Application.district_id) == district_id, col(Notification.kind).in_(DISTRICT_KINDS))
    submitted = or_(col(Notification.application_id).is_(None), not_(private_condition()))  # models.access
    if user.role == Role.ADMIN:
        return submitted
    return and_(col(Application.section).in_(sections_of(user, ctx.profile)), submitted)


def _joined(statement: Any) -> Any:
    return statement.join(Application, col(Notification.application_id) == col(Application.id), isouter=True).join(
        District, col(Application.district_id) == col(District.id), isouter=True
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ROME)


def filters(
    status: Annotated[
        NotificationStatus | None, Query(description="Stato: queued (in coda), sent (inviata), failed (non recapitata)")
    ] = None,
    kind: Annotated[str | None, Query(max_length=64, description="Tipo di comunicazione (es. decision)")] = None,
    recipient: Annotated[str | None, Query(max_length=254, description="Parte dell'indirizzo del destinatario")] = None,
    created_from: Annotated[date | None, Query(description="Creata dal giorno (AAAA-MM-GG, ora italiana)")] = None,
    created_to: Annotated[date | None, Query(description="Creata fino al giorno compreso (AAAA-MM-GG)")] = None,
) -> Filters:
    if created_from and created_to and created_from > created_to:
        raise InvalidInput("la data iniziale è successiva a quella finale", field="created_from")
    conditions: Filters = []
    if status is not None:
        conditions.append(col(Notification.status) == status)
    if kind:
        conditions.append(col(Notification.kind) == kind)
    if recipient and recipient.strip():
        conditions.append(contains_folded(col(Notification.recipient), recipient.strip()))
    if created_from is not None:
        conditions.append(col(Notification.created_at) >= _day_start(created_from))
    if created_to is not None:
        conditions.append(col(Notification.created_at) < _day_start(created_to + timedelta(days=1)))
    return conditions


@dataclass(frozen=True)
class Attention:
    failed: int  # not delivered: the reason is in last_error
    uncertain: int  # a dead sender left them: to check against the PEC receipts


def attention(ctx: Context) -> Attention:
    """The mails of the user's competence a person must look at (the outbox's and the dashboard's figures)."""
    rows = ctx.session.exec(
        _joined(select_columns(col(Notification.status), func.count()))
        .where(visible(ctx), col(Notification.status).in_(RETRYABLE))
        .group_by(col(Notification.status))
    ).all()
    counts = {NotificationStatus(status): int(n) for status, n in rows}
    return Attention(counts.get(NotificationStatus.FAILED, 0), counts.get(NotificationStatus.UNCERTAIN, 0))


FiltersDep = Annotated[Filters, Depends(filters)]
PageNo = Annotated[int, Query(ge=1)]
PageSize = Annotated[int, Query(ge=1, le=200)]


def _page(ctx: Context, conditions: Filters, page: int, page_size: int) -> Page[NotificationRead]:
    query = _joined(select_columns(*LIST_COLUMNS, col(District.name).label("district_name"))).where(
        visible(ctx), *conditions
    )
    total = ctx.session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = ctx.session.exec(
        query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    items = [NotificationRead(**row._mapping, kind_label=kind_label(row.kind)) for row in rows]
    return Page(items=items, total=int(total), page=page, page_size=page_size)


def _one(ctx: Context, notification_id: int) -> tuple[Notification, str | None]:
    found = ctx.session.exec(
        _joined(select(Notification, col(District.name))).where(col(Notification.id) == notification_id, visible(ctx))
    ).first()
    if found is None:
        raise NotFound(f"comunicazione {notification_id} non trovata")
    return found[0], found[1]


def _detail(row: Notification, district_name: str | None) -> NotificationDetail:
    return NotificationDetail(**row.model_dump(), district_name=district_name, kind_label=kind_label(row.kind))


@router.get("/notifications", response_model=Page[NotificationRead], summary="Comunicazioni inviate e in coda")
def list_notifications(
    ctx: Ctx,
    conditions: FiltersDep,
    application_id: Annotated[int | None, Query(description="Solo le comunicazioni di questa pratica")] = None,
    page: PageNo = 1,
    page_size: PageSize = 50,
) -> Page[NotificationRead]:
    if application_id is not None:
        conditions = [*conditions, col(Notification.application_id) == application_id]
    return _page(ctx, conditions, page, page_size)


@router.get(
    "/applications/{application_id}/notifications",
    response_model=Page[NotificationRead],
    summary="Comunicazioni di una domanda",
)
def application_notifications(
    application: CurrentApplication, ctx: Ctx, conditions: FiltersDep, page: PageNo = 1, page_size: PageSize = 50
) -> Page[NotificationRead]:
    return _page(ctx, [*conditions, col(Notification.application_id) == application.id], page, page_size)


@router.get("/notifications/{notification_id}", response_model=NotificationDetail, summary="Una comunicazione")
def read_notification(notification_id: int, ctx: Ctx) -> NotificationDetail:
    return _detail(*_one(ctx, notification_id))


@router.post(
    "/notifications/{notification_id}/retry",
    response_model=NotificationDetail,
    summary="Rimette in coda una comunicazione non recapitata",
)
def retry_notification(notification_id: int, ctx: Ctx) -> NotificationDetail:
    if ctx.user.role not in RETRIERS:
        raise Forbidden("solo gli uffici regionali e l'amministratore possono rimettere in coda una comunicazione")
    row, district_name = _one(ctx, notification_id)
    # conditional: a row sent (or queued again) meanwhile is never touched, so a sent mail is never resent
    requeued = ctx.session.exec(
        update(Notification)
        .where(col(Notification.id) == notification_id, col(Notification.status).in_(RETRYABLE))
        .values(status=NotificationStatus.QUEUED, next_attempt_at=ctx.now)
    ).rowcount
    if requeued != 1:
        ctx.session.rollback()
        ctx.session.refresh(row)
        raise Conflict(_not_failed(row), notification_status=row.status.value)
    ctx.session.commit()
    ctx.session.refresh(row)
    log.info("comunicazione %s rimessa in coda da %s", notification_id, ctx.user.username)
    return _detail(row, district_name)


RETRYABLE = (NotificationStatus.FAILED, NotificationStatus.UNCERTAIN)  # a person decides to send again


def _not_failed(row: Notification) -> str:
    if row.status == NotificationStatus.SENT:
        return f"la comunicazione {row.id} è già stata inviata: una comunicazione inviata non viene mai rispedita"
    return f"la comunicazione {row.id} è già in coda di invio: si rimette in coda solo una comunicazione non recapitata"
