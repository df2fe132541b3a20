"""Applications: create and edit the draft, list with filters, read one with its timeline; action status."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request, Response

from api.action_status import MAX_WAIT_SECONDS, await_outcome, visible_action
from api.actions import claim_edit, ensure_editable
from api.calendar import deadlines, to_ics
from api.deps import Ctx, CurrentApplication
from api.read import application_detail, application_read, list_applications
from api.schemas import ActionRead, ApplicationCreateIn, ApplicationDetail, ApplicationRead, Page
from models.application import ApplicationUpdate, StageAction
from models.applications import open_draft
from models.base import local_date
from models.enums import State
from models.errors import InvalidInput

router = APIRouter(tags=["Domande"])


@router.post("/applications", status_code=201, response_model=ApplicationRead, summary="Crea una bozza di domanda")
def create_application(body: ApplicationCreateIn, ctx: Ctx) -> ApplicationRead:
    application = open_draft(
        ctx.session,
        actor=ctx.user,
        **body.model_dump(include={"district_id", "kind", "renewal_of_id", "programme_summary", "specificity"}),
        profile=ctx.profile,
        now=ctx.now,
    )
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
