"""The technical committee: which members the office assigns to a file, and a member's scores.

Every rule of assignment and scoring lives here; the routes only parse and present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from models.access import is_assigned
from models.application import Application
from models.enums import ApplicationKind, Role, State
from models.errors import ConcurrentChange, Conflict, Forbidden, InvalidInput
from models.lifecycle import not_in_state
from models.payloads import committee_members_fit
from models.people import User
from models.procedure import CommitteeAssignment, Evaluation
from models.profiles import RegionProfile
from models.service import evaluation_round

ASSIGNABLE = frozenset(
    {
        State.SUBMITTED,
        State.COMPLETENESS_CHECK,
        State.INTEGRATION_REQUESTED,
        State.COMMITTEE_EVALUATION,
        State.REJECTION_NOTICE,
    }
)
ASSIGNERS = frozenset({Role.OFFICIAL, Role.HEAD, Role.ADMIN})


def assign_members(
    session: Session, *, actor: User, application: Application, member_ids: list[int], profile: RegionProfile
) -> None:
    """Adds the members named (active, competent for the section) to the file's committee (committed)."""
    if actor.role not in ASSIGNERS:
        raise Forbidden("l'assegnazione del comitato spetta all'ufficio competente")
    if application.kind == ApplicationKind.CENSUS or application.state not in ASSIGNABLE:
        raise not_in_state(application, actor.role, "assegnare il comitato")
    committee_members_fit(session, application, {"member_ids": member_ids}, profile)
    existing = set(
        session.exec(select(CommitteeAssignment.user_id).where(CommitteeAssignment.application_id == application.id))
    )
    for user_id in dict.fromkeys(member_ids):
        if user_id not in existing:
            session.add(CommitteeAssignment(application_id=application.id, user_id=user_id))  # type: ignore[arg-type]
    session.commit()


def score_total(scores: dict[str, int], profile: RegionProfile) -> float:
    """The total out of 100 of a member's scores, each criterion of the profile scored once, within its maximum."""
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


def scoring_round(session: Session, actor: User, application: Application) -> int:
    """The member may score the file now, once per evaluation round: the round's number."""
    if actor.role != Role.COMMITTEE or not is_assigned(session, actor, application.id):
        raise Forbidden("solo i membri del comitato assegnati alla domanda possono attribuire punteggi")
    if application.state != State.COMMITTEE_EVALUATION:
        raise not_in_state(application, actor.role, "attribuire punteggi")
    if application.pending_action_id is not None:
        raise ConcurrentChange("è in corso un'azione su questa pratica: attendere il suo completamento")
    round_ = evaluation_round(application)
    done = select(Evaluation.id).where(
        Evaluation.application_id == application.id, Evaluation.member_id == actor.id, Evaluation.round == round_
    )
    if session.exec(done).first() is not None:
        raise Conflict(f"punteggi già registrati per la valutazione n. {round_}", round=round_)
    return round_


def record_scores(
    session: Session,
    *,
    actor: User,
    application: Application,
    scores: dict[str, int],
    remarks: Any,
    profile: RegionProfile,
    now: datetime,
) -> Evaluation:
    """A member's scores for the current round (committed)."""
    # the file as it is now, its row share-locked until the commit: an action claiming it meanwhile
    # waits, then its own checks see this score (a member's second score breaks the unique index: 409)
    session.refresh(application, with_for_update={"read": True})
    round_ = scoring_round(session, actor, application)
    evaluation = Evaluation(
        application_id=application.id,  # type: ignore[arg-type]
        member_id=actor.id,  # type: ignore[arg-type]
        round=round_,
        scores=dict(scores),
        total=score_total(scores, profile),
        remarks=remarks,
        created_at=now,
    )
    session.add(evaluation)
    session.commit()
    return evaluation
