"""An action's outcome, read at once or awaited (``GET /actions/{id}?wait=``)."""

from __future__ import annotations

import threading
import time

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col

from api import action_status
from api.action_status import FinishedActions
from api.inflight import SCOPE_KEY, outside_inflight_limit
from models.application import StageAction
from models.enums import ActionStatus, Event
from models.profiles import RegionProfile
from tests.api_support import API, Clock, Dispatched, Http, People, apply_stored_action, draft_ready
from tests.factories import Factory
from tests.tasks.stage_driver import StageDriver


def queued_submission(client: TestClient, rep: dict[str, str], dispatched: Dispatched) -> int:
    app_id = draft_ready(client, rep)
    dispatched.run = False  # the stage flow has not run yet
    response = client.post(f"{API}/applications/{app_id}/actions/submit", headers=rep)
    assert response.status_code == 202
    return int(response.json()["action"]["id"])


def test_waiting_answers_as_soon_as_the_flow_has_finished(
    client: TestClient, auth: Http, people: People, dispatched: Dispatched, session: Session,
    profile: RegionProfile, clock: Clock,
) -> None:  # fmt: skip
    rep = auth(people.rep)
    action_id = queued_submission(client, rep, dispatched)
    engine = session.get_bind()
    finisher = threading.Timer(0.4, apply_stored_action, (engine, profile, clock.now, action_id))
    started = time.monotonic()
    finisher.start()
    response = client.get(f"{API}/actions/{action_id}", params={"wait": 10}, headers=rep)
    elapsed = time.monotonic() - started
    finisher.join()
    assert response.status_code == 200
    assert response.json()["status"] == "done" and response.json()["finished_at"] is not None
    assert 0.35 <= elapsed < 3


def test_waiting_ends_at_the_limit_with_the_action_as_it_stands(
    client: TestClient, auth: Http, people: People, dispatched: Dispatched
) -> None:
    rep = auth(people.rep)
    action_id = queued_submission(client, rep, dispatched)
    started = time.monotonic()
    response = client.get(f"{API}/actions/{action_id}", params={"wait": 0.3}, headers=rep)
    assert response.status_code == 200 and response.json()["status"] == "queued"
    assert 0.25 <= time.monotonic() - started < 3


def test_a_finished_action_is_answered_at_once(client: TestClient, auth: Http, people: People) -> None:
    rep = auth(people.rep)
    app_id = draft_ready(client, rep)
    action_id = client.post(f"{API}/applications/{app_id}/actions/submit", headers=rep).json()["action"]["id"]
    started = time.monotonic()
    response = client.get(f"{API}/actions/{action_id}", params={"wait": 10}, headers=rep)
    assert response.json()["status"] == "done" and time.monotonic() - started < 2


def test_waiting_is_checked_like_reading(
    client: TestClient, auth: Http, people: People, dispatched: Dispatched
) -> None:
    rep = auth(people.rep)
    action_id = queued_submission(client, rep, dispatched)
    started = time.monotonic()
    other = client.get(f"{API}/actions/{action_id}", params={"wait": 10}, headers=auth(people.other_rep))
    assert other.status_code == 404 and time.monotonic() - started < 2  # refused before any wait
    assert other.json()["detail"] == f"azione {action_id} non trovata"  # a draft's action: as a missing one
    assert client.get(f"{API}/actions/999999", params={"wait": 10}, headers=rep).status_code == 404
    for wait in ("11", "-1", "presto"):
        response = client.get(f"{API}/actions/{action_id}", params={"wait": wait}, headers=rep)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "wait"


@pytest.mark.parametrize("with_slots", [True, False])
def test_a_waiting_request_gives_its_slot_back_and_takes_it_again(with_slots: bool) -> None:
    from starlette.requests import Request

    async def scenario() -> list[str]:
        slots = anyio.Semaphore(1)
        scope = {"type": "http", SCOPE_KEY: slots} if with_slots else {"type": "http"}
        events: list[str] = []
        await slots.acquire()  # the waiting request's own slot
        async with outside_inflight_limit(Request(scope)):
            with anyio.fail_after(1):
                async with slots:  # another request gets in meanwhile
                    events.append("other served")
        events.append(f"slot held again: {slots.value == 0}")
        return events

    if with_slots:
        assert anyio.run(scenario) == ["other served", "slot held again: True"]
    else:
        with pytest.raises(TimeoutError):  # nothing to give back: the other request would wait
            anyio.run(scenario)


def test_a_wait_ends_before_a_stopping_api_is_killed() -> None:
    from api.action_status import MAX_WAIT_SECONDS
    from registro.embedded import STOP_TIMEOUT

    assert MAX_WAIT_SECONDS < STOP_TIMEOUT


def test_the_waiting_requests_share_one_query_per_poll(factory: Factory, session: Session) -> None:
    actions = [StageDriver(factory).request(Event.SUBMIT) for _ in range(3)]
    ids = [a.id for a in actions if a.id is not None]
    watcher = FinishedActions(poll_seconds=0.02)

    def finish(action_id: int) -> None:
        session.execute(update(StageAction).where(col(StageAction.id) == action_id).values(status=ActionStatus.DONE))
        session.commit()

    async def scenario() -> list[float]:
        woken: list[float] = []
        started = time.monotonic()

        async def waiter(action_id: int) -> None:
            await watcher.wait(action_id, timeout=5)
            woken.append(time.monotonic() - started)

        async with anyio.create_task_group() as tasks:
            for action_id in ids:
                tasks.start_soon(waiter, action_id)
            for action_id in ids:  # finished one after another, 0.2 s apart
                await anyio.sleep(0.2)
                await anyio.to_thread.run_sync(finish, action_id)
        return woken

    woken = anyio.run(scenario)
    assert len(woken) == 3 and max(woken) < 2  # each woken when its action finished, not at the limit
    assert watcher.queries <= max(woken) / 0.02 + 3  # one query per poll for all three, not one each


def test_an_unreadable_database_ends_the_waits_at_their_limit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unreachable(_ids: list[int]) -> list[int]:
        raise OSError("database unreachable")

    monkeypatch.setattr(action_status, "finished_among", unreachable)
    watcher = FinishedActions(poll_seconds=0.02)
    started = time.monotonic()
    anyio.run(lambda: watcher.wait(1, timeout=0.3))
    assert 0.25 <= time.monotonic() - started < 3
    assert "stato delle azioni attese non leggibile" in caplog.text
