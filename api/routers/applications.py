"""Applications: create and edit the draft, list with filters, read one with its timeline; action status."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request, Response
from sqlmodel import col, select

from api.action_status import MAX_WAIT_SECONDS, await_outcome, visible_action
from api.actions import claim_edit, ensure_editable
from api.calendar import deadlines, to_ics
from api.deps import Ctx, CurrentApplication
from api.errors import Conflict
from api.read import application_detail, application_read, list_applications
from api.schemas import ActionRead, ApplicationCreateIn, ApplicationDetail, ApplicationRead, Page
from models.application import Application, ApplicationUpdate, StageAction
from models.base import local_date
from models.district import District
from models.enums import ApplicationKind, Role, State
from models.errors import Forbidden, InvalidInput, NotFound
from models.lifecycle import OPEN_STATES
from models.registry import RegistryEntry

router = APIRouter(tags=["Domande"])


def check_new_application(ctx: Ctx, body: ApplicationCreateIn, district: District) -> None:
    census = ctx.profile.section(district.section).census
    if census != (body.kind == ApplicationKind.CENSUS):
        reason = (
            "la sezione prevede solo l'iscrizione nel censimento"
            if census
            else "il censimento vale solo per la sezione informativa"
        )
        raise InvalidInput(reason, field="kind")
    open_app = ctx.session.exec(
        select(Application.id).where(Application.district_id == district.id, col(Application.state).in_(OPEN_STATES))
    ).first()
    if open_app is not None:
        raise Conflict(f"il distretto ha già una domanda in corso (n. {open_app})", application_id=open_app)
    active = ctx.session.exec(
        select(Application.id).where(Application.district_id == district.id, Application.state == State.ACTIVE)
    ).first()
    if body.kind == ApplicationKind.RENEWAL and active is None:
        _no_renewal_after_expiry(ctx, district)
    if body.kind == ApplicationKind.RENEWAL and (active is None or body.renewal_of_id != active):
        raise InvalidInput(
            "il rinnovo va riferito alla domanda attiva del distretto"
            + (f" (n. {active})" if active else ": non ce n'è"),
            field="renewal_of_id",
        )
    if body.kind == ApplicationKind.RECOGNITION and active is not None:
        raise Conflict("il distretto è già riconosciuto: presentare una domanda di rinnovo", application_id=active)
    if body.kind != ApplicationKind.RENEWAL and body.renewal_of_id is not None:
        raise InvalidInput("si indica solo per le domande di rinnovo", field="renewal_of_id")


def _no_renewal_after_expiry(ctx: Ctx, district: District) -> None:
    entry = ctx.session.exec(
        select(RegistryEntry)
        .join(Application, col(Application.id) == col(RegistryEntry.application_id))
        .where(RegistryEntry.district_id == district.id, Application.state == State.EXPIRED)
    ).first()
    if entry is not None and entry.valid_until is not None:
        raise Conflict(
            f"il riconoscimento è scaduto il {entry.valid_until:%d/%m/%Y}: il rinnovo non è più possibile, "
            "occorre presentare una nuova domanda di riconoscimento",
            state=State.EXPIRED,
        )


@router.post("/applications", status_code=201, response_model=ApplicationRead, summary="Crea una bozza di domanda")
def create_application(body: ApplicationCreateIn, ctx: Ctx) -> ApplicationRead:
    district_id = body.district_id or ctx.user.district_id
    if ctx.user.role != Role.REPRESENTATIVE or district_id is None or district_id != ctx.user.district_id:
        raise Forbidden("solo il rappresentante del distretto può presentare domande per esso")
    district = ctx.session.get(District, district_id)
    if district is None:
        raise NotFound(f"distretto {district_id} non trovato")
    check_new_application(ctx, body, district)
    application = Application(
        **body.model_dump(include={"kind", "renewal_of_id", "programme_summary", "specificity"}),
        district_id=district_id,
        section=district.section,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(application)
    ctx.session.commit()
    return application_read(ctx.session, application, user=ctx.user, profile=ctx.profile, now=ctx.now)


@router.patch("/applications/{application_id}", response_model=ApplicationRead, summary="Modifica la bozza")
def update_application(body: ApplicationUpdate, application: CurrentApplication, ctx: Ctx) -> ApplicationRead:
    ensure_editable(ctx, application, {State.DRAFT}, "modificare la domanda")
    claim_edit(ctx, application)
    for key, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(application, key, value)
    ctx.session.add(application)
    ctx.session.commit()
    return application_read(ctx.session, application, user=ctx.user, profile=ctx.profile, now=ctx.now)


@router.get("/applications", response_model=Page[ApplicationRead], summary="Elenco delle domande visibili")
def list_(
    ctx: Ctx,
    state: State | None = None,
    section: int | None = None,
    office: Annotated[str | None, Query(description="Codice dell'ufficio (es. ricerca, agricoltura)")] = None,
    district_id: int | None = None,
    overdue: Annotated[
        bool | None, Query(description="Solo i procedimenti oltre il termine (o solo quelli nei termini)")
    ] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ApplicationRead]:
    sections = None
    if office is not None:
        if not any(o.code == office for o in ctx.profile.offices):
            raise InvalidInput(f"ufficio «{office}» sconosciuto", field="office")
        sections = ctx.profile.office(office).sections
    items, total = list_applications(
        ctx.session, user=ctx.user, profile=ctx.profile, now=ctx.now, state=state, section=section,
        sections=sections, district_id=district_id, overdue=overdue, page=page, page_size=page_size,
    )  # fmt: skip
    return Page(items=items, total=total, page=page, page_size=page_size)


@router.get("/applications/{application_id}", response_model=ApplicationDetail, summary="Una domanda con la sua storia")
def read_application(application: CurrentApplication, ctx: Ctx) -> ApplicationDetail:
    return application_detail(ctx.session, application, user=ctx.user, profile=ctx.profile, now=ctx.now)


@router.get(
    "/applications/{application_id}/deadlines.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "Le scadenze in formato iCalendar"}},
    summary="Scadenze della domanda (iCalendar)",
)
def deadlines_calendar(application: CurrentApplication, ctx: Ctx) -> Response:
    items = deadlines(ctx.session, application=application, profile=ctx.profile, today=local_date(ctx.now))
    body = to_ics(items, application_id=application.id or 0, stamp=ctx.now.astimezone(UTC))
    headers = {"Content-Disposition": f'attachment; filename="scadenze-domanda-{application.id}.ics"'}
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


@router.get("/actions/{action_id}", response_model=ActionRead, summary="Stato di un'azione richiesta")
async def read_action(
    action_id: int,
    ctx: Ctx,
    request: Request,
    wait: Annotated[
        float,
        Query(ge=0, le=MAX_WAIT_SECONDS, description="Secondi da attendere al più che l'azione sia conclusa"),
    ] = 0,
) -> StageAction:
    action = await anyio.to_thread.run_sync(visible_action, ctx.session, action_id, ctx.user, ctx.profile)
    return await await_outcome(request, ctx.session, action, wait, request.app.state.finished_actions)
