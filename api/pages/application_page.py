"""The application page: data, roster, documents, lifecycle, timeline, clock, deadlines, committee,
and the actions allowed now as forms (api.pages.actions); downloads and the deadlines calendar.

Access is the JSON API's (``get_current_application``); every change goes through the JSON route
functions, so the page holds no rule of the procedure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlmodel import col, select
from starlette.datastructures import FormData

from api.calendar import deadlines
from api.deps import Context, Dispatcher, get_current_application
from api.pages.actions import FIELD_LABELS, form_for, forms_allowed, number_limits, perform
from api.pages.web import ROLE_LABELS, CsrfChecked, PageCtx, page
from api.routers import applications, committee, documents, roster
from api.schemas import ApplicationDetail
from models.access import competent
from models.application import Application, StageAction
from models.base import local_date
from models.district import District, MemberEnterprise
from models.enums import ActionStatus, ApplicationKind, DocumentKind, Event, Role, State
from models.errors import NotFound
from models.labels import KIND_LABELS, STATE_LABELS
from models.lifecycle import EVENT_LABELS
from models.people import User
from models.registry import RecognitionAct, latest_act
from models.service import evaluation_round

router = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])

ROSTER_SHOWN = 50
S = State
# the main path of each kind, for the picture of the lifecycle (side states are placed where reached)
MAIN_PATH: dict[ApplicationKind, tuple[State, ...]] = {
    ApplicationKind.RECOGNITION: (S.DRAFT, S.SUBMITTED, S.COMPLETENESS_CHECK, S.COMMITTEE_EVALUATION,
                                  S.RECOGNISED, S.ACTIVE),
    ApplicationKind.RENEWAL: (S.DRAFT, S.SUBMITTED, S.COMPLETENESS_CHECK, S.RECOGNISED, S.ACTIVE),
    ApplicationKind.CENSUS: (S.DRAFT, S.SUBMITTED, S.COMPLETENESS_CHECK, S.REGISTERED),
}  # fmt: skip
COMMITTEE_STATES = {S.COMMITTEE_EVALUATION, S.REJECTION_NOTICE}


async def posted_form(request: Request) -> FormData:
    return await request.form()  # already read (and cached) by the CSRF check


PostedForm = Annotated[FormData, Depends(posted_form)]


def visible(ctx: Context, application_id: int) -> Application:
    """The JSON API's own check (``models.access``): 404 for an unknown id or another's draft, 403
    outside the user's competence or assignment."""
    return get_current_application(ctx.session, ctx.user, ctx.profile, application_id)


# ---- routes ------------------------------------------------------------------------------


@router.get("/pratiche/{application_id}", response_class=HTMLResponse)
def application_page(request: Request, application_id: int, ctx: PageCtx) -> HTMLResponse:
    application = visible(ctx, application_id)
    return page(request, "application/detail.html.j2", **view(ctx, application))


@router.post("/pratiche/{application_id}/azioni/{event}")
def application_action(
    application_id: int, event: str, ctx: PageCtx, dispatch: Dispatcher, form: PostedForm
) -> Response:
    application = visible(ctx, application_id)
    action = form_for(event)
    if action is None:
        raise NotFound(f"azione «{event[:40]}» sconosciuta")
    return perform(action, application=application, ctx=ctx, dispatch=dispatch, form=form)


@router.get("/pratiche/{application_id}/scadenze.ics")
def deadlines_calendar(application_id: int, ctx: PageCtx) -> Response:
    return applications.deadlines_calendar(application=visible(ctx, application_id), ctx=ctx)


@router.get("/pratiche/{application_id}/documenti/{document_id}")
def download(application_id: int, document_id: int, ctx: PageCtx) -> FileResponse:
    return documents.download_document(document_id=document_id, application=visible(ctx, application_id), ctx=ctx)


# ---- what the page shows -----------------------------------------------------------------


def view(ctx: Context, application: Application) -> dict[str, Any]:
    detail = applications.read_application(application=application, ctx=ctx)
    forms = forms_allowed([a.event for a in detail.allowed_actions])
    office_roles = ctx.user.role != Role.REPRESENTATIVE
    return {
        "app": detail,
        "kind_label": KIND_LABELS[application.kind],
        "district": ctx.session.get(District, application.district_id),
        "representatives": representatives(ctx, application),
        "roster_rows": roster_rows(ctx, application),
        "roster_shown": ROSTER_SHOWN,
        "stages": lifecycle(application, detail),
        "deadlines": deadlines(ctx.session, application=application, profile=ctx.profile, today=local_date(ctx.now)),
        "act": recognition_act(ctx, application),
        "committee": committee_summary(ctx, application) if office_roles else None,
        "forms": forms,
        "candidates": candidates(ctx, application) if any(f.event == Event.DECLARE_COMPLETE for f in forms) else [],
        "limits": number_limits(ctx.profile),
        "pending_label": EVENT_LABELS[detail.pending_action.event] if detail.pending_action else "",
        **dict(zip(("failed", "done"), last_outcome(ctx, application), strict=True)),
        "event_labels": EVENT_LABELS,
        "field_labels": FIELD_LABELS,
        "links": links(ctx, application),
        "is_representative": is_representative(ctx, application),
        "role_labels": ROLE_LABELS,
    }


def representatives(ctx: Context, application: Application) -> list[User]:
    query = select(User).where(
        User.role == Role.REPRESENTATIVE, User.district_id == application.district_id, col(User.active)
    )
    return list(ctx.session.exec(query.order_by(col(User.id))).all())


def roster_rows(ctx: Context, application: Application) -> list[MemberEnterprise]:
    query = select(MemberEnterprise).where(MemberEnterprise.application_id == application.id)
    return list(ctx.session.exec(query.order_by(col(MemberEnterprise.row_no)).limit(ROSTER_SHOWN)).all())


def lifecycle(application: Application, detail: ApplicationDetail) -> list[dict[str, str]]:
    """The main path with done/current/future; a side state (integration, closure…) where it was reached."""
    path = list(MAIN_PATH[application.kind])
    reached = {S.DRAFT} | {item.to_state for item in detail.timeline}
    last = max(i for i, state in enumerate(path) if state in reached or state == application.state)
    if application.state not in path:
        path.insert(last + 1, application.state)
        last += 1
    return [
        {
            "label": STATE_LABELS[state],
            "status": "current" if state == application.state else "done" if i < last else "future",
            "side": "" if state in MAIN_PATH[application.kind] else "side",
        }
        for i, state in enumerate(path)
    ]


def recognition_act(ctx: Context, application: Application) -> RecognitionAct | None:
    return latest_act(ctx.session, application.id, DocumentKind.RECOGNITION_ACT)


def committee_summary(ctx: Context, application: Application) -> dict[str, Any] | None:
    """Assigned members and scores, for the office and the committee (never the representative); a
    member reads the others' scores once they have given theirs (``models.access.visible_evaluations``)."""
    members = committee.list_members(application=application, ctx=ctx)
    evaluations = committee.list_evaluations(application=application, ctx=ctx)
    if not members and not evaluations:
        return None
    ids = {e.member_id for e in evaluations}
    names = {u.id: u.full_name for u in ctx.session.exec(select(User).where(col(User.id).in_(ids))).all()}
    round_ = evaluation_round(application)
    current = [e.total for e in evaluations if e.round == round_]
    count = sum(1 for m in members if m.scored_this_round)
    return {
        "members": members,
        "evaluations": evaluations,
        "names": names,
        "round": round_,
        "count": count,
        "average": sum(current) / len(current) if current and len(current) == count else None,
        "quorum": ctx.profile.committee.quorum,
        "pass_score": ctx.profile.committee.pass_score,
        "name": ctx.profile.committee.name,
    }


def candidates(ctx: Context, application: Application) -> list[User]:
    """The committee members competent for the application (the API checks the choice again)."""
    query = select(User).where(User.role == Role.COMMITTEE, col(User.active)).order_by(col(User.full_name))
    return [u for u in ctx.session.exec(query).all() if competent(u, application, ctx.profile)]


JUST_DONE = timedelta(minutes=10)  # how long the page tells its author that the last action went through


def last_outcome(ctx: Context, application: Application) -> tuple[StageAction | None, str]:
    """The latest action if it failed (shown to everyone), or else what the page says once it is done,
    to whoever asked for it in the last ``JUST_DONE`` (an action is carried out after the redirect)."""
    query = select(StageAction).where(StageAction.application_id == application.id)
    latest = ctx.session.exec(query.order_by(col(StageAction.id).desc())).first()
    if latest is None or latest.status == ActionStatus.FAILED:
        return latest, ""
    recent = latest.actor_id == ctx.user.id and ctx.now - latest.requested_at <= JUST_DONE
    action = form_for(latest.event.value)
    done = action.done if latest.status == ActionStatus.DONE and recent and action is not None else ""
    return None, done


def links(ctx: Context, application: Application) -> list[tuple[str, str]]:
    """Where the file is worked on elsewhere: the district's pages, the committee's pages."""
    base = f"/pratiche/{application.id}"
    found = []
    if is_representative(ctx, application):
        if application.state == State.DRAFT:
            found.append((f"{base}/modifica", "Modifica i dati della domanda"))
        if application.state in roster.ROSTER_STATES:
            found.append((f"{base}/elenco-imprese", "Elenco delle imprese aderenti"))
        if application.state in documents.UPLOAD_STATES:
            found.append((f"{base}/documenti", "Carica documenti"))
    elif application.state in COMMITTEE_STATES:
        if ctx.user.role == Role.COMMITTEE:
            found.append((f"/comitato{base}/valutazione", "Punteggi del comitato"))
        found.append((f"/comitato{base}/decisione", "Decisione del comitato"))
    return found


def is_representative(ctx: Context, application: Application) -> bool:
    return ctx.user.role == Role.REPRESENTATIVE and ctx.user.district_id == application.district_id
