"""Officials acting on the same application at once: exactly one action is accepted (202), every other
gets 409, and the file moves once — one audit event, version + 1, the winner's target state.

Through the real HTTP stack: the app served by uvicorn on 127.0.0.1 in a thread (as tests/browser does,
without the browser), 50 clients released together by a barrier. The stage flow is stood in for by a
dispatcher that applies the action off the event loop (``apply_event`` in a worker thread), so requests
keep being served while the winner's action runs. Then the same race one level down: 50 threads, each
with its own session, apply moves to the same file loaded at the same version (the flow's optimistic lock).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from api.deps import get_dispatcher, get_now
from api.main import create_app
from models.application import Application, StageAction
from models.enums import Event, Role, State
from models.errors import ConcurrentChange, DomainError
from models.people import User
from models.procedure import AuditEvent
from models.profiles import RegionProfile
from notifications.outbox import apply_and_notify
from tests.api_support import API, Clock, Http, People, act, apply_stored_action, draft_ready, fetch, login
from tests.factories import Factory
from tests.live_server import serve_in_thread

pytestmark = pytest.mark.slow

CONTENDERS = 50
TIMEOUT_S = 60.0
# three verdicts on a file under completeness check: whichever lands first, the others no longer apply
VERDICTS: list[tuple[str, dict[str, Any] | None, State]] = [
    ("request_integration", {"missing_items": ["bilancio 2025"], "deadline_days": 10}, State.INTEGRATION_REQUESTED),
    ("declare_inadmissible", {"reason": "requisiti dimensionali non raggiunti"}, State.INADMISSIBLE),
    ("declare_complete", None, State.COMMITTEE_EVALUATION),
]


def applying_dispatcher(
    engine: Engine, profile: RegionProfile, clock: Clock
) -> Callable[[int], Coroutine[Any, Any, None]]:
    """Stands in for flows.dispatch.dispatch: applies the action like the stage flow, in a worker thread."""

    def apply(action_id: int) -> None:
        apply_stored_action(engine, profile, clock.now, action_id)

    async def dispatch(action_id: int) -> None:
        await anyio.to_thread.run_sync(apply, action_id)

    return dispatch


@dataclass
class Served:
    url: str


@pytest.fixture
def served(clean_db: Engine, clock: Clock, profile: RegionProfile) -> Iterator[Served]:
    """create_app() under uvicorn on 127.0.0.1 and a free port, for the test's duration."""
    app = create_app()
    app.dependency_overrides[get_now] = lambda: clock.now
    app.dependency_overrides[get_dispatcher] = lambda: applying_dispatcher(clean_db, profile, clock)
    with serve_in_thread(app, TIMEOUT_S, name="uvicorn-race") as url:
        yield Served(url=url)


def under_check(client: TestClient, auth: Http, people: People) -> int:
    """A submitted application the office has started to check (state completeness_check)."""
    rep, official = auth(people.rep), auth(people.official)
    app_id = draft_ready(client, rep)
    act(client, app_id, "submit", rep)
    act(client, app_id, "start_review", official)
    return app_id


def race(url: str, calls: list[tuple[str, dict[str, Any] | None, dict[str, str]]]) -> list[httpx.Response]:
    """Every call posted at the same moment (a barrier), one client per thread; all answers back."""
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response | BaseException | None] = [None] * len(calls)

    def post(i: int) -> None:
        path, body, headers = calls[i]
        with httpx.Client(base_url=url, timeout=TIMEOUT_S) as http:
            try:
                barrier.wait(timeout=TIMEOUT_S)
                answers[i] = http.post(path, json=body, headers=headers)
            except BaseException as exc:
                answers[i] = exc

    threads = [threading.Thread(target=post, args=(i,), name=f"contender-{i}") for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT_S)
    assert all(isinstance(a, httpx.Response) for a in answers), [
        a for a in answers if not isinstance(a, httpx.Response)
    ]
    return [a for a in answers if isinstance(a, httpx.Response)]


def file_state(session: Session, app_id: int) -> tuple[State, int, int | None, int]:
    state, version, pending = fetch(
        session, select(Application.state, Application.version, Application.pending_action_id).where(
            Application.id == app_id
        )
    )[0]  # fmt: skip
    audits = fetch(session, select(func.count()).select_from(AuditEvent).where(AuditEvent.application_id == app_id))
    return State(state), int(version), pending, int(audits[0])


@dataclass
class Race:
    app_id: int
    version: int
    audits: int
    actions_before: int
    answers: list[httpx.Response]
    elapsed: float


@pytest.fixture
def http_race(
    served: Served, client: TestClient, auth: Http, people: People, factory: Factory, session: Session
) -> Race:
    """50 verdicts (three kinds, three office users) posted at once on one file under completeness check."""
    second = factory.user(Role.OFFICIAL, office="ricerca")
    session.commit()
    app_id = under_check(client, auth, people)
    state, version, pending, audits = file_state(session, app_id)
    assert state == State.COMPLETENESS_CHECK and pending is None
    actions_before = len(fetch(session, select(StageAction.id).where(StageAction.application_id == app_id)))
    with httpx.Client(base_url=served.url) as http:
        tokens = [login(http, user) for user in (people.official, second, people.head)]
    calls = []
    for i in range(CONTENDERS):
        event, body, _ = VERDICTS[i % len(VERDICTS)]
        calls.append((f"{API}/applications/{app_id}/actions/{event}", body, tokens[i % len(tokens)]))
    started = time.monotonic()
    answers = race(served.url, calls)
    elapsed = time.monotonic() - started
    deadline = time.monotonic() + TIMEOUT_S  # accepted actions run after their 202: wait for them, bounded
    while file_state(session, app_id)[2] is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    statuses = Counter(a.status_code for a in answers)
    codes = Counter(a.json().get("code") for a in answers if a.status_code != 202)
    print(f"\n{CONTENDERS} concurrent verdicts over HTTP in {elapsed:.2f} s: {dict(statuses)}, codes {dict(codes)}")
    return Race(app_id, version, audits, actions_before, answers, elapsed)


def test_fifty_conflicting_verdicts_over_http_move_the_file_once(http_race: Race, session: Session) -> None:
    """Whatever each caller was told, the file moved exactly once and the trail says so."""
    app_id = http_race.app_id
    state, version, pending, audits = file_state(session, app_id)
    assert (version, pending, audits) == (http_race.version + 1, None, http_race.audits + 1)
    actions = fetch(
        session,
        select(StageAction.id, StageAction.event, StageAction.status)
        .where(StageAction.application_id == app_id)
        .order_by(col(StageAction.id)),
    )[http_race.actions_before :]
    accepted = [a for a in http_race.answers if a.status_code == 202]
    assert len(actions) == len(accepted) >= 1  # a refused request leaves no action behind
    done = [(i, Event(e)) for i, e, status in actions if str(status) == "done"]
    assert len(done) == 1 and all(str(status) in ("done", "failed") for _, _, status in actions)
    target = next(t for event, _, t in VERDICTS if event == done[0][1])
    assert state == target
    last = fetch(
        session,
        select(AuditEvent.event, AuditEvent.from_state, AuditEvent.to_state)
        .where(AuditEvent.application_id == app_id)
        .order_by(col(AuditEvent.id).desc())
        .limit(1),
    )[0]
    assert (Event(last[0]), State(last[1]), State(last[2])) == (done[0][1], State.COMPLETENESS_CHECK, target)


def test_fifty_conflicting_verdicts_over_http_one_202_the_rest_409(http_race: Race) -> None:
    """What the callers see: one 202 (the action accepted), 409 with an Italian reason for every other."""
    statuses = Counter(a.status_code for a in http_race.answers)
    assert statuses == {202: 1, 409: CONTENDERS - 1}, statuses
    refused = [a.json() for a in http_race.answers if a.status_code == 409]
    assert {r["code"] for r in refused} <= {"modifica_concorrente", "azione_non_consentita"}
    assert all(r["detail"] for r in refused)


def test_fifty_threads_applying_to_the_same_version_exactly_one_wins(
    client: TestClient, auth: Http, people: People, session: Session, profile: RegionProfile, clock: Clock
) -> None:
    """The flow's optimistic lock: each thread holds the file as read at the same version."""
    app_id = under_check(client, auth, people)
    _, version, _, audits = file_state(session, app_id)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    actors = [people.official, people.head]
    barrier = threading.Barrier(CONTENDERS)
    outcomes: list[str] = [""] * CONTENDERS

    def contend(i: int) -> None:
        event, body, _ = VERDICTS[i % len(VERDICTS)]
        with Session(engine, expire_on_commit=False) as own:
            application = own.get(Application, app_id)
            actor = own.get(User, actors[i % len(actors)].id)
            assert application is not None and actor is not None
            own.commit()  # read, then give the connection back (50 threads, 30 in the pool); the version read stays
            barrier.wait(timeout=TIMEOUT_S)
            try:
                apply_and_notify(
                    own, application=application, event=Event(event), actor=actor, profile=profile,
                    now=clock.now, payload=dict(body or {}),
                )  # fmt: skip
                outcomes[i] = f"applied:{event}"
            except ConcurrentChange:
                outcomes[i] = "conflict"
            except DomainError as exc:  # a guard reading fresh rows (one integration request only)
                outcomes[i] = type(exc).__name__

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(CONTENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT_S)
    applied = [o for o in outcomes if o.startswith("applied:")]
    assert len(applied) == 1, Counter(outcomes)
    refused = Counter(o for o in outcomes if not o.startswith("applied:"))
    assert sum(refused.values()) == CONTENDERS - 1 and set(refused) <= {"conflict", "RuleViolation"}, refused
    target = next(t for event, _, t in VERDICTS if f"applied:{event}" == applied[0])
    state, new_version, _, new_audits = file_state(session, app_id)
    assert (state, new_version, new_audits) == (target, version + 1, audits + 1)
