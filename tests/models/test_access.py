"""models.access: the check of one file and the SQL condition of the lists say the same thing, for
every kind of user and every kind of file; a member's view of the committee's scores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from models.access import can_see, refusal, visible_evaluations, visible_filter
from models.application import Application
from models.enums import Role, State
from models.errors import Forbidden, NotFound
from models.people import User
from models.procedure import CommitteeAssignment, Evaluation
from tests.factories import Factory


def file(factory: Factory, district_id: int, section: int, state: State, *, submitted: bool) -> Application:
    application = Application(
        district_id=district_id,
        section=section,
        state=state,
        created_at=factory.now,
        updated_at=factory.now,
        submitted_at=factory.now + timedelta(days=1) if submitted else None,
    )
    factory.session.add(application)
    factory.session.commit()
    return application


Grid = tuple[dict[str, User], dict[str, Application]]


@pytest.fixture
def grid(factory: Factory) -> tuple[dict[str, User], dict[str, Application]]:
    ricerca, other, agri = factory.district(section=1), factory.district(section=2), factory.district(section=6)
    assert ricerca.id and other.id and agri.id
    files = {
        "bozza": file(factory, ricerca.id, 1, State.DRAFT, submitted=False),
        "bozza ritirata": file(factory, ricerca.id, 1, State.WITHDRAWN, submitted=False),
        "ritirata dopo la presentazione": file(factory, ricerca.id, 1, State.WITHDRAWN, submitted=True),
        "presentata": file(factory, ricerca.id, 1, State.SUBMITTED, submitted=True),
        "in valutazione": file(factory, other.id, 2, State.COMMITTEE_EVALUATION, submitted=True),
        "attiva": file(factory, ricerca.id, 1, State.ACTIVE, submitted=True),
        "bozza di rinnovo": file(factory, ricerca.id, 1, State.DRAFT, submitted=False),
        "agricoltura": file(factory, agri.id, 6, State.COMPLETENESS_CHECK, submitted=True),
        "bozza agricoltura": file(factory, agri.id, 6, State.DRAFT, submitted=False),
    }
    users = {
        "rappresentante": factory.user(Role.REPRESENTATIVE, district=ricerca),
        "altro rappresentante": factory.user(Role.REPRESENTATIVE, district=other),
        "rappresentante senza distretto": factory.user(Role.REPRESENTATIVE),
        "funzionario": factory.user(Role.OFFICIAL, office="ricerca"),
        "funzionario agricoltura": factory.user(Role.OFFICIAL, office="agricoltura"),
        "dirigente": factory.user(Role.HEAD, office="ricerca"),
        "amministratore": factory.user(Role.ADMIN),
        "sistema": factory.user(Role.SYSTEM),
        "membro assegnato": factory.user(Role.COMMITTEE, office="ricerca"),
        "membro non assegnato": factory.user(Role.COMMITTEE, office="ricerca"),
        "membro di un altro ufficio, assegnato": factory.user(Role.COMMITTEE, office="agricoltura"),
    }
    for member, name in (("membro assegnato", "in valutazione"), ("membro di un altro ufficio, assegnato", "attiva")):
        factory.session.add(CommitteeAssignment(application_id=files[name].id, user_id=users[member].id))  # type: ignore[arg-type]
    factory.session.commit()
    return users, files


def test_the_check_and_the_sql_condition_agree(factory: Factory, session: Session, grid: Grid) -> None:
    users, files = grid
    profile = factory.profile
    for who, user in users.items():
        listed = set(session.exec(select(Application.id).where(visible_filter(user, profile))).all())
        for name, application in files.items():
            assert can_see(session, user, application, profile) == (application.id in listed), (who, name)


def test_who_sees_what(factory: Factory, session: Session, grid: Grid) -> None:
    users, files = grid
    profile = factory.profile

    def seen(who: str) -> set[str]:
        return {name for name, a in files.items() if can_see(session, users[who], a, profile)}

    own = {"bozza", "bozza ritirata", "ritirata dopo la presentazione", "presentata", "attiva", "bozza di rinnovo"}
    submitted_ricerca = {"ritirata dopo la presentazione", "presentata", "in valutazione", "attiva"}
    assert seen("rappresentante") == own
    assert seen("altro rappresentante") == {"in valutazione"}
    assert seen("rappresentante senza distretto") == set()
    assert seen("funzionario") == seen("dirigente") == submitted_ricerca
    assert seen("funzionario agricoltura") == {"agricoltura"}
    assert seen("amministratore") == submitted_ricerca | {"agricoltura"}
    assert seen("sistema") == set(files)
    assert seen("membro assegnato") == {"in valutazione"}
    assert seen("membro non assegnato") == set()
    assert seen("membro di un altro ufficio, assegnato") == set()  # assigned, but not competent for section 1


def test_a_private_file_is_not_found_and_the_rest_forbidden(factory: Factory, session: Session, grid: Grid) -> None:
    users, files = grid
    profile = factory.profile
    for who in ("funzionario", "amministratore", "membro assegnato", "altro rappresentante", "funzionario agricoltura"):
        for name in ("bozza", "bozza ritirata", "bozza di rinnovo", "bozza agricoltura"):
            problem = refusal(session, users[who], files[name], profile)
            assert isinstance(problem, NotFound) and problem.message == f"pratica {files[name].id} non trovata"
    assert isinstance(refusal(session, users["membro non assegnato"], files["presentata"], profile), Forbidden)
    assert isinstance(refusal(session, users["funzionario agricoltura"], files["presentata"], profile), Forbidden)
    assert isinstance(refusal(session, users["altro rappresentante"], files["presentata"], profile), Forbidden)


def test_a_member_reads_the_others_scores_of_a_round_once_scored_or_over(factory: Factory) -> None:
    application = Application(id=1, district_id=1, section=1, state=State.COMMITTEE_EVALUATION,
                              created_at=factory.now, updated_at=factory.now)  # fmt: skip
    me = User(id=10, username="me", full_name="Me", email="me@example.it", role=Role.COMMITTEE, password_hash="",
              created_at=factory.now)  # fmt: skip

    def evaluation(member_id: int, round_: int) -> Evaluation:
        return Evaluation(application_id=1, member_id=member_id, round=round_, total=70.0, created_at=factory.now)

    first_other, second_other, second_mine = evaluation(11, 1), evaluation(11, 2), evaluation(10, 2)
    # round 2 under way, not scored by me: round 1 (over) is open, round 2 sealed
    assert visible_evaluations(me, application, [first_other, second_other], 2) == [first_other]
    # scored: round 2 open
    both = [first_other, second_other, second_mine]
    assert visible_evaluations(me, application, both, 2) == both
    # the evaluation over (rejection notice, decision…): every round open
    application.state = State.REJECTION_NOTICE
    assert visible_evaluations(me, application, [first_other, second_other], 2) == [first_other, second_other]
    # the office reads every score at any time
    application.state = State.COMMITTEE_EVALUATION
    official = User(id=12, username="off", full_name="Off", email="o@example.it", role=Role.OFFICIAL,
                    password_hash="", created_at=factory.now)  # fmt: skip
    assert visible_evaluations(official, application, [first_other, second_other], 2) == [first_other, second_other]
