"""The committee's pages: the member's assignments, the scoring form, the decision page.

Scores go through ``api.routers.committee.score`` (the JSON route, called as a function); the
decision forms post to the application's action route (``/pratiche/{id}/azioni/{event}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from api.deps import Context, get_current_application
from api.pages.web import CsrfChecked, PageCtx, page, redirect, require_role, validation_messages
from api.read import allowed_actions
from api.routers import committee
from api.schemas import EvaluationIn
from models import italian
from models.access import is_assigned, visible_filter
from models.application import Application
from models.district import District
from models.enums import Event, Role, State
from models.errors import DomainError, Forbidden, InvalidInput, NotFound
from models.labels import STATE_LABELS
from models.lifecycle import find_transition
from models.people import User
from models.procedure import Evaluation
from models.service import evaluation_round
from models.text import digits

router = APIRouter(include_in_schema=False, dependencies=[CsrfChecked])

READERS = Depends(require_role(Role.COMMITTEE, Role.OFFICIAL, Role.HEAD, Role.ADMIN))
MEMBERS_ONLY = Depends(require_role(Role.COMMITTEE))
IN_COMMITTEE = (State.COMMITTEE_EVALUATION, State.REJECTION_NOTICE)
DECISIONS = (Event.APPROVE, Event.NOTIFY_REJECTION_INTENT, Event.REJECT)
FIELD_PREFIX = "punteggio_"


@dataclass(frozen=True)
class Row:
    """One application in a list of the committee's work."""

    application_id: int
    district_name: str
    section: int
    state_label: str
    open: bool  # in committee evaluation: scores can be given now
    scored: bool
    evaluations: int

    @property
    def to_do(self) -> bool:
        return self.open and not self.scored


def decimal(value: float | None) -> str:
    """66.666 → «66,67» (Italian decimal comma); «—» when there is no figure."""
    return "—" if value is None else italian.fixed(value)


# ---- reading ---------------------------------------------------------------------------------


def _application(ctx: Context, application_id: int) -> Application:
    """The application, with the JSON API's own check (``models.access``: a committee member reads
    only the files assigned to them)."""
    return get_current_application(ctx.session, ctx.user, ctx.profile, application_id)


def _current_evaluations(ctx: Context, applications: list[Application]) -> list[Evaluation]:
    rounds = {a.id: evaluation_round(a) for a in applications}
    if not rounds:
        return []
    rows = ctx.session.exec(select(Evaluation).where(col(Evaluation.application_id).in_(list(rounds)))).all()
    return [e for e in rows if rounds.get(e.application_id) == e.round]


def _rows(ctx: Context, applications: list[Application]) -> list[Row]:
    districts = {
        d.id: d.name
        for d in ctx.session.exec(
            select(District).where(col(District.id).in_({a.district_id for a in applications}))
        ).all()
    }
    current = _current_evaluations(ctx, applications)
    return [
        Row(
            application_id=a.id or 0,
            district_name=districts.get(a.district_id, ""),
            section=a.section,
            state_label=STATE_LABELS[a.state],
            open=a.state == State.COMMITTEE_EVALUATION,
            scored=any(e.application_id == a.id and e.member_id == ctx.user.id for e in current),
            evaluations=sum(1 for e in current if e.application_id == a.id),
        )
        for a in applications
    ]


def _visible(ctx: Context, *states: State) -> list[Application]:
    """The files the user sees (a member: those assigned to them), in the given states if any."""
    query = select(Application).where(visible_filter(ctx.user, ctx.profile))
    if states:
        query = query.where(col(Application.state).in_(states))
    return list(ctx.session.exec(query.order_by(col(Application.id).desc())).all())


def _criteria(ctx: Context) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "field": FIELD_PREFIX + c.code,
            "label": c.label,
            "description": getattr(c, "description", ""),
            "max_score": c.max_score,
        }
        for c in ctx.profile.committee.criteria
    ]


def _district_name(ctx: Context, application: Application) -> str:
    district = ctx.session.get(District, application.district_id)
    return district.name if district else ""


def _names(ctx: Context, ids: set[int]) -> dict[int, str]:
    users = ctx.session.exec(select(User).where(col(User.id).in_(ids))).all() if ids else []
    return {u.id or 0: u.full_name for u in users}


def _rounds(ctx: Context, evaluations: list[Evaluation]) -> list[dict[str, Any]]:
    """The evaluations grouped by round, newest round first, each with its averages."""
    names = _names(ctx, {e.member_id for e in evaluations})
    codes = [c.code for c in ctx.profile.committee.criteria]
    result = []
    for number in sorted({e.round for e in evaluations}, reverse=True):
        rows = [e for e in evaluations if e.round == number]
        averages = {code: fmean(float(e.scores.get(code, 0)) for e in rows) for code in codes}
        result.append(
            {
                "number": number,
                "rows": [{"name": names.get(e.member_id, str(e.member_id)), "evaluation": e} for e in rows],
                "averages": averages,
                "average_total": fmean(e.total for e in rows),
            }
        )
    return result


def _decision_forms(ctx: PageCtx, application: Application) -> list[dict[str, Any]]:
    forms = []
    for action in allowed_actions(application, ctx.user, ctx.profile, ctx.now):
        if action.event not in DECISIONS:
            continue
        transition = find_transition(application.state, action.event, application.kind)
        forms.append(
            {
                "event": action.event.value,
                "label": action.label,
                "needs_reason": transition is not None and "reason" in transition.payload_fields,
                "url": f"/pratiche/{application.id}/azioni/{action.event.value}",
            }
        )
    return forms


# ---- the member's list -----------------------------------------------------------------------


@router.get("/comitato", response_class=HTMLResponse, dependencies=[READERS])
def committee_home(request: Request, ctx: PageCtx) -> HTMLResponse:
    member = ctx.user.role == Role.COMMITTEE
    applications = _visible(ctx) if member else _visible(ctx, *IN_COMMITTEE)
    rows = sorted(_rows(ctx, applications), key=lambda r: (not r.to_do, -r.application_id))  # work to do first
    return page(
        request, "committee/list.html.j2", rows=rows, member=member,
        quorum=ctx.profile.committee.quorum, committee_name=ctx.profile.committee.name,
    )  # fmt: skip


# ---- scoring ---------------------------------------------------------------------------------


def _scoring_page(
    request: Request,
    ctx: Context,
    application: Application,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    remarks: str = "",
    errors: list[str] | None = None,
) -> HTMLResponse:
    round_ = evaluation_round(application)
    mine = ctx.session.exec(
        select(Evaluation)
        .where(Evaluation.application_id == application.id, Evaluation.member_id == ctx.user.id)
        .order_by(col(Evaluation.round).desc())
    ).all()
    scored_now = any(e.round == round_ for e in mine)
    return page(
        request, "committee/score.html.j2", status_code,
        application=application, district_name=_district_name(ctx, application),
        state_label=STATE_LABELS[application.state], criteria=_criteria(ctx), round=round_,
        open=application.state == State.COMMITTEE_EVALUATION and not scored_now, mine=list(mine),
        values=values or {}, remarks=remarks, errors=errors or [],
        top=sum(c.max_score for c in ctx.profile.committee.criteria), decimal=decimal,
    )  # fmt: skip


def _ensure_assigned(ctx: Context, application: Application) -> None:
    if not is_assigned(ctx.session, ctx.user, application.id):
        raise Forbidden("solo i membri del comitato assegnati alla domanda possono attribuire punteggi")


@router.get("/comitato/pratiche/{application_id}/valutazione", response_class=HTMLResponse, dependencies=[MEMBERS_ONLY])
def scoring_form(request: Request, application_id: int, ctx: PageCtx) -> HTMLResponse:
    application = _application(ctx, application_id)
    _ensure_assigned(ctx, application)
    return _scoring_page(request, ctx, application)


def _read_scores(form: Any, criteria: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, int], list[str]]:
    """The raw values (to show again), the integer scores, the errors naming each criterion."""
    values: dict[str, str] = {}
    scores: dict[str, int] = {}
    errors: list[str] = []
    for criterion in criteria:
        raw = form.get(criterion["field"])
        text = raw.strip() if isinstance(raw, str) else ""
        values[criterion["code"]] = text[:20]
        if not text:
            errors.append(f"{criterion['label']}: punteggio mancante")
        elif not digits(text.lstrip("-")) or len(text) > 9:
            errors.append(f"{criterion['label']}: deve essere un numero intero")
        else:
            scores[criterion["code"]] = int(text)
    return values, scores, errors


def _problems(exc: DomainError, criteria: list[dict[str, Any]]) -> list[str]:
    """The JSON route's problems ("filiera: da 0 a 25") with the criterion's label."""
    labels = {c["code"]: c["label"] for c in criteria}
    problems = exc.details.get("problems")
    if not isinstance(problems, list):
        return [exc.message]
    named = []
    for problem in problems:
        code, _, reason = str(problem).partition(": ")
        named.append(f"{labels.get(code, code)}: {reason}" if reason else str(problem))
    return named


@router.post(
    "/comitato/pratiche/{application_id}/valutazione", response_class=HTMLResponse, dependencies=[MEMBERS_ONLY]
)
async def score(request: Request, application_id: int, ctx: PageCtx) -> Response:
    form = await request.form()  # the criteria are profile data: read the fields by name
    return await run_in_threadpool(_score, request, ctx, application_id, form)


def _score(request: Request, ctx: Context, application_id: int, form: Any) -> Response:
    application = _application(ctx, application_id)
    _ensure_assigned(ctx, application)
    criteria = _criteria(ctx)
    values, scores, errors = _read_scores(form, criteria)
    raw_remarks = form.get("remarks")
    remarks = raw_remarks if isinstance(raw_remarks, str) else ""

    def again(status_code: int, messages: list[str]) -> HTMLResponse:
        return _scoring_page(request, ctx, application, status_code, values, remarks[:5000], messages)

    if errors:
        return again(422, errors)
    try:
        evaluation = committee.score(EvaluationIn(scores=scores, remarks=remarks), application, ctx)
    except ValidationError as exc:
        return again(422, validation_messages(exc, {"remarks": "Osservazioni"}))
    except (Forbidden, NotFound):
        raise
    except InvalidInput as exc:
        return again(422, _problems(exc, criteria))
    except DomainError as exc:
        ctx.session.rollback()
        return again(exc.status_code, [exc.message])
    done = f"Punteggi registrati: {decimal(evaluation.total)} su 100."
    return redirect(f"/comitato/pratiche/{application_id}/valutazione", done)


# ---- the decision ----------------------------------------------------------------------------


@router.get("/comitato/pratiche/{application_id}/decisione", response_class=HTMLResponse, dependencies=[READERS])
def decision(request: Request, application_id: int, ctx: PageCtx) -> HTMLResponse:
    application = _application(ctx, application_id)
    evaluations = committee.list_evaluations(application, ctx)  # the others' scores once one has scored
    members = committee._members(ctx, application)
    round_ = evaluation_round(application)
    rounds = _rounds(ctx, evaluations)
    current = next((r for r in rounds if r["number"] == round_), None)
    setting = ctx.profile.committee
    count = sum(1 for m in members if m.scored_this_round)
    sealed = count > (len(current["rows"]) if current else 0)  # a member who has not scored this round yet
    average = current["average_total"] if current and not sealed else None
    return page(
        request, "committee/decision.html.j2",
        application=application, district_name=_district_name(ctx, application),
        state_label=STATE_LABELS[application.state], criteria=_criteria(ctx), rounds=rounds, round=round_,
        members=members, count=count, average=average, sealed=sealed,
        quorum=setting.quorum, pass_score=setting.pass_score, quorum_reached=count >= setting.quorum,
        passed=average is not None and average >= setting.pass_score, forms=_decision_forms(ctx, application),
        pending=application.pending_action_id is not None,
        top=sum(c.max_score for c in setting.criteria), decimal=decimal,
    )  # fmt: skip
