"""The committee's rules, without HTTP: the total of a member's scores, who may assign and score."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import Session

from models.application import Application
from models.committee import assign_members, record_scores, score_total
from models.enums import Role, State
from models.errors import Conflict, Forbidden, InvalidInput, TransitionNotAllowed
from models.profiles import RegionProfile
from tests.factories import Factory

FULL = {"filiera": 25, "programma": 30, "specificita": 20, "impatto": 25}


def test_the_total_is_out_of_100_over_the_profile_criteria(profile: RegionProfile) -> None:
    assert score_total(FULL, profile) == 100.0
    assert score_total({"filiera": 20, "programma": 24, "specificita": 10, "impatto": 20}, profile) == 74.0


def test_scores_must_cover_each_criterion_once_within_its_maximum(profile: RegionProfile) -> None:
    with pytest.raises(InvalidInput) as wrong:
        score_total({"filiera": 26, "programma": 30, "specificita": 20, "altro": 1}, profile)
    assert wrong.value.details["problems"] == [
        "altro: criterio sconosciuto",
        "impatto: punteggio mancante",
        "filiera: da 0 a 25",
    ]


def _in(factory: Factory, session: Session, state: State) -> Application:
    application = factory.application(factory.district(section=1))
    application.state = state
    session.add(application)
    session.commit()
    return application


def test_only_the_office_assigns_and_only_competent_members(factory: Factory, session: Session) -> None:
    application = _in(factory, session, State.COMPLETENESS_CHECK)
    official, member = factory.user(Role.OFFICIAL, office="ricerca"), factory.user(Role.COMMITTEE, office="ricerca")
    elsewhere = factory.user(Role.COMMITTEE, office="agricoltura")
    with pytest.raises(Forbidden):
        assign_members(
            session, actor=member, application=application, member_ids=[member.id or 0], profile=factory.profile
        )
    with pytest.raises(InvalidInput, match="non sono membri del comitato competenti"):
        assign_members(
            session, actor=official, application=application, member_ids=[elsewhere.id or 0], profile=factory.profile
        )
    assign_members(
        session, actor=official, application=application, member_ids=[member.id or 0], profile=factory.profile
    )


def test_a_member_scores_once_per_round_only_during_the_evaluation(
    factory: Factory, session: Session, now: datetime
) -> None:
    application = _in(factory, session, State.COMPLETENESS_CHECK)
    official, member = factory.user(Role.OFFICIAL, office="ricerca"), factory.user(Role.COMMITTEE, office="ricerca")
    assign_members(
        session, actor=official, application=application, member_ids=[member.id or 0], profile=factory.profile
    )
    score = {"actor": member, "application": application, "scores": FULL, "remarks": None, "profile": factory.profile}
    with pytest.raises(TransitionNotAllowed):
        record_scores(session, **score, now=now)
    application.state = State.COMMITTEE_EVALUATION
    session.add(application)
    session.commit()
    assert record_scores(session, **score, now=now).total == 100.0
    with pytest.raises(Conflict, match="punteggi già registrati"):
        record_scores(session, **score, now=now)
