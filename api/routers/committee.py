"""The committee stage: members assigned by the office, scores against the profile's criteria, the decision."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import col, select

from api.actions import ERROR_RESPONSES, not_in_state
from api.deps import Ctx, CurrentApplication
from api.errors import Conflict
from api.schemas import (
    ActionAccepted,
    CommitteeAssignIn,
    CommitteeMemberRead,
    EvaluationIn,
    EvaluationRead,
)
from models.access import is_assigned, visible_evaluations
from models.application import Application
from models.enums import ApplicationKind, Role, State
from models.errors import ConcurrentChange, Forbidden, InvalidInput
from models.payloads import committee_members_fit
from models.people import User
from models.procedure import CommitteeAssignment, Evaluation
from models.profiles import RegionProfile
from models.service import evaluation_round

router = APIRouter(prefix="/applications/{application_id}", tags=["Comitato"], responses=ERROR_RESPONSES)
ACCEPTED: dict[str, Any] = {"status_code": 202, "response_model": ActionAccepted}
ASSIGNABLE = {
    State.SUBMITTED,
    State.COMPLETENESS_CHECK,
    State.INTEGRATION_REQUESTED,
    State.COMMITTEE_EVALUATION,
    State.REJECTION_NOTICE,
}
OFFICE = {Role.OFFICIAL, Role.HEAD, Role.ADMIN}


def _members(ctx: Ctx, application: Application) -> list[CommitteeMemberRead]:
    round_ = evaluation_round(application)
    rows = ctx.session.exec(
        select(User, Evaluation.id)
        .join(CommitteeAssignment, col(CommitteeAssignment.user_id) == col(User.id))
        .join(
            Evaluation,
            (col(Evaluation.member_id) == col(User.id))
            & (col(Evaluation.application_id) == application.id)
            & (col(Evaluation.round) == round_),
            isouter=True,
        )
        .where(CommitteeAssignment.application_id == application.id)
        .order_by(col(User.full_name))
    ).all()
    return [CommitteeMemberRead(user_id=u.id, full_name=u.full_name, scored_this_round=e is not None) for u, e in rows]


@router.post("/committee", response_model=list[CommitteeMemberRead], summary="Assegna i membri del comitato")
def assign_members(body: CommitteeAssignIn, application: CurrentApplication, ctx: Ctx) -> list[CommitteeMemberRead]:
    if ctx.user.role not in OFFICE:
        raise Forbidden("l'assegnazione del comitato spetta all'ufficio competente")
    if application.kind == ApplicationKind.CENSUS or application.state not in ASSIGNABLE:
        raise not_in_state(application, ctx.user.role, "assegnare il comitato")
    committee_members_fit(ctx.session, application, {"member_ids": body.member_ids}, ctx.profile)
    existing = set(
        ctx.session.exec(
            select(CommitteeAssignment.user_id).where(CommitteeAssignment.application_id == application.id)
        ).all()
    )
    for user_id in dict.fromkeys(body.member_ids):
        if user_id not in existing:
            ctx.session.add(CommitteeAssignment(application_id=application.id, user_id=user_id))  # type: ignore[arg-type]
    ctx.session.commit()
    return _members(ctx, application)


@router.get("/committee", response_model=list[CommitteeMemberRead], summary="I membri del comitato assegnati")
def list_members(application: CurrentApplication, ctx: Ctx) -> list[CommitteeMemberRead]:
    if ctx.user.role == Role.REPRESENTATIVE:  # as the evaluations: the application page never shows them either
        raise Forbidden("la composizione del comitato per la domanda è riservata all'ufficio")
    return _members(ctx, application)


def _total(scores: dict[str, int], profile: RegionProfile) -> float:
    criteria = {c.code: c for c in profile.committee.criteria}
    problems = [f"{code}: criterio sconosciuto" for code in scores if code not in criteria]
    problems += [f"{code}: punteggio mancante" for code in criteria if code not in scores]
    problems += [
        f"{code}: da 0 a {criteria[code].max_score}"
        for code, value in scores.items()
        if code in criteria and not 0 <= value <= criteria[code].max_score
    ]
    if problems:
        raise InvalidInput("punteggi non validi: " + "; ".join(problems), field="scores", problems=problems)
    top = sum(c.max_score for c in criteria.values())
    return round(100 * sum(scores.values()) / top, 2)


@router.post("/evaluations", status_code=201, response_model=EvaluationRead, summary="Registra i punteggi di un membro")
def score(body: EvaluationIn, application: CurrentApplication, ctx: Ctx) -> Evaluation:
    # the file as it is now, its row share-locked until the commit: an action claiming it meanwhile
    # waits, then its own checks see this score (a member's second score breaks the unique index: 409)
    ctx.session.refresh(application, with_for_update={"read": True})
    round_ = check_scoring(ctx, application)
    total = _total(body.scores, ctx.profile)
    evaluation = Evaluation(
        application_id=application.id,  # type: ignore[arg-type]
        member_id=ctx.user.id,  # type: ignore[arg-type]
        round=round_,
        scores=dict(body.scores),
        total=total,
        remarks=body.remarks,
        created_at=ctx.now,
    )
    ctx.session.add(evaluation)
    ctx.session.commit()
    return evaluation


def check_scoring(ctx: Ctx, application: Application) -> int:
    """The member may score the file now, once per evaluation round: the round's number."""
    if ctx.user.role != Role.COMMITTEE or not is_assigned(ctx.session, ctx.user, application.id):
        raise Forbidden("solo i membri del comitato assegnati alla domanda possono attribuire punteggi")
    if application.state != State.COMMITTEE_EVALUATION:
        raise not_in_state(application, ctx.user.role, "attribuire punteggi")
    if application.pending_action_id is not None:
        raise ConcurrentChange("è in corso un'azione su questa pratica: attendere il suo completamento")
    round_ = evaluation_round(application)
    done = select(Evaluation.id).where(
        Evaluation.application_id == application.id, Evaluation.member_id == ctx.user.id, Evaluation.round == round_
    )
    if ctx.session.exec(done).first() is not None:
        raise Conflict(f"punteggi già registrati per la valutazione n. {round_}", round=round_)
    return round_


@router.get(
    "/evaluations",
    response_model=list[EvaluationRead],
    summary="Le valutazioni del comitato",
    description="Un membro del comitato legge i punteggi degli altri membri di una valutazione solo dopo "
    "aver registrato i propri, o a valutazione conclusa.",
)
def list_evaluations(application: CurrentApplication, ctx: Ctx) -> list[Evaluation]:
    if ctx.user.role == Role.REPRESENTATIVE:
        raise Forbidden("le valutazioni del comitato sono riservate all'ufficio")
    query = select(Evaluation).where(Evaluation.application_id == application.id)
    evaluations = ctx.session.exec(query.order_by(col(Evaluation.round), col(Evaluation.id))).all()
    return visible_evaluations(ctx.user, application, evaluations, evaluation_round(application))
