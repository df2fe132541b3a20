"""dispatch (in-process and deployment mode), drain, and the recovery sweep of stale queued actions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from flows import dispatch as dispatch_module
from flows.dispatch import STAGE_FLOW_OF_EVENT, deployment_name, dispatch, drain, running
from flows.recovery import redispatch_stale_actions
from models.enums import ActionStatus, Event, State
from registro.settings import get_settings
from tests.factories import Factory
from tests.tasks.stage_driver import StageDriver

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]


@pytest.fixture
def deployment_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REGISTRO_FLOW_DISPATCH", "deployment")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_every_application_event_has_a_stage_flow() -> None:
    assert deployment_name(STAGE_FLOW_OF_EVENT[Event.SUBMIT]) == "submission/registro"
    assert {flow.name for flow in STAGE_FLOW_OF_EVENT.values()} == {
        "submission",
        "completeness",
        "committee",
        "recognition",
    }


def test_inprocess_dispatch_returns_at_once_and_drain_waits(factory: Factory) -> None:
    d = StageDriver(factory)
    first = d.request(Event.SUBMIT)

    async def scenario() -> int:
        await dispatch(first.id)
        started = running()
        await drain()
        return started

    assert asyncio.run(scenario()) == 1 and running() == 0
    assert d.reload().state == State.SUBMITTED
    stored = d.action(first.id)
    assert stored.status == ActionStatus.DONE and stored.flow_run_id


def test_inprocess_errors_are_logged_not_lost(
    factory: Factory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    d = StageDriver(factory)
    action = d.request(Event.SUBMIT)

    async def broken(**_kwargs: object) -> None:
        raise RuntimeError("flusso rotto")

    broken.name = "submission"  # type: ignore[attr-defined]
    monkeypatch.setitem(dispatch_module.STAGE_FLOW_OF_EVENT, Event.SUBMIT, broken)  # type: ignore[arg-type]

    async def scenario() -> None:
        await dispatch(action.id)
        await drain()

    with caplog.at_level(logging.ERROR, logger="registro.dispatch"):
        asyncio.run(scenario())
    assert "flusso rotto" in caplog.text
    assert d.action(action.id).status == ActionStatus.QUEUED  # the recovery sweep will run it


def test_deployment_dispatch_without_server_deployment_keeps_the_action_queued(
    factory: Factory, deployment_mode: None, caplog: pytest.LogCaptureFixture
) -> None:
    d = StageDriver(factory)
    action = d.request(Event.SUBMIT)
    with caplog.at_level(logging.ERROR, logger="registro.dispatch"):
        asyncio.run(dispatch(action.id))  # no deployment "submission/registro" on the test server
    assert "submission/registro" in caplog.text and running() == 0
    assert d.action(action.id).status == ActionStatus.QUEUED


def test_recovery_runs_stale_actions_once_in_one_flow_run(factory: Factory) -> None:
    old = StageDriver(factory)
    stale = old.request(Event.SUBMIT)
    recent_driver = StageDriver(factory)
    recent_driver.day = old.day + timedelta(minutes=10)
    recent = recent_driver.request(Event.SUBMIT, days_later=0)
    as_of = stale.requested_at + timedelta(minutes=5)

    state: Any = asyncio.run(redispatch_stale_actions(as_of=as_of, older_than_seconds=60, return_state=True))
    report = state.result()
    assert report.found == 1 and report.done == [stale.id]
    sweep_run = str(state.state_details.flow_run_id)
    assert old.reload().state == State.SUBMITTED
    assert old.action(stale.id).flow_run_id == sweep_run and old.audit(Event.SUBMIT).flow_run_id == sweep_run
    assert recent_driver.action(recent.id).status == ActionStatus.QUEUED  # not stale yet

    later = asyncio.run(redispatch_stale_actions(as_of=as_of + timedelta(hours=1), older_than_seconds=60))
    assert later.found == 1 and later.done == [recent.id]  # the first one is not run twice
    assert recent_driver.reload().state == State.SUBMITTED
