"""The committee stage: members assigned by the office, scores against the profile's criteria, the decision."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import col, select

from api.deps import Ctx, CurrentApplication
from api.schemas import (
    ActionAccepted,
    CommitteeAssignIn,
    CommitteeMemberRead,
    EvaluationIn,
    EvaluationRead,
)
from models import committee
from models.access import visible_evaluations
from models.application import Application
from models.enums import Role
from models.errors import Forbidden
from models.people import User
from models.procedure import CommitteeAssignment, Evaluation
from models.service import evaluation_round

router = APIRouter(prefix="/applications/{application_id}", tags=["Comitato"])
ACCEPTED: dict[str, Any] = {"status_code": 202, "response_model": ActionAccepted}


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
    committee.assign_members(
        ctx.session, actor=ctx.user, application=application, member_ids=body.member_ids, profile=ctx.profile
    )
    return _members(ctx, application)


@router.get("/committee", response_model=list[CommitteeMemberRead], summary="I membri del comitato assegnati")
def list_members(application: CurrentApplication, ctx: Ctx) -> list[CommitteeMemberRead]:
    if ctx.user.role == Role.REPRESENTATIVE:  # as the evaluations: the application page never shows them either
        raise Forbidden("la composizione del comitato per la domanda è riservata all'ufficio")
    return _members(ctx, application)


@router.post("/evaluations", status_code=201, response_model=EvaluationRead, summary="Registra i punteggi di un membro")
def score(body: EvaluationIn, application: CurrentApplication, ctx: Ctx) -> Evaluation:
    return committee.record_scores(
        ctx.session,
        actor=ctx.user,
        application=application,
        scores=body.scores,
        remarks=body.remarks,
        profile=ctx.profile,
        now=ctx.now,
    )


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
