"""One Prefect client pair for a process that runs many flows (the stage worker)."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest

from flows.dispatch import run_stage_flow, shared_prefect_clients
from models.enums import ActionStatus, Event, State
from tests.factories import Factory
from tests.tasks.stage_driver import StageDriver

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]


@pytest.fixture
def clients_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the Prefect client classes built from now on."""
    from prefect.client.orchestration import PrefectClient, SyncPrefectClient

    made: list[str] = []
    for cls in (PrefectClient, SyncPrefectClient):

        def counting(self: Any, *args: Any, __init: Any = cls.__init__, **kwargs: Any) -> None:
            made.append(type(self).__name__)
            __init(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)
    return made


def test_flow_runs_inside_reuse_the_shared_clients(factory: Factory, clients_made: list[str]) -> None:
    drivers = [StageDriver(factory) for _ in range(4)]
    actions = [d.request(Event.SUBMIT) for d in drivers]

    async def scenario() -> tuple[bool, int, int]:
        async with shared_prefect_clients() as shared:
            await run_stage_flow(actions[0].id)  # starts the process's log and event workers (one client each)
            before = len(clients_made)
            await asyncio.gather(*(run_stage_flow(a.id) for a in actions[1:3]))
            inside = len(clients_made) - before
        await run_stage_flow(actions[3].id)  # outside: Prefect's default, an async and a sync client per run
        return shared, inside, len(clients_made) - before - inside

    shared, inside, outside = asyncio.run(scenario())
    assert shared and inside == 0 and outside == 2
    for d, a in zip(drivers, actions, strict=True):
        assert d.action(a.id).status == ActionStatus.DONE and d.reload().state == State.SUBMITTED


def test_without_a_reachable_api_each_run_makes_its_own_clients(caplog: pytest.LogCaptureFixture) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens here

    async def scenario() -> bool:
        async with shared_prefect_clients() as shared:
            return shared

    with caplog.at_level(logging.WARNING), temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
        assert asyncio.run(scenario()) is False
    assert "client Prefect condiviso non disponibile" in caplog.text
