"""Start-up objects frozen out of the collector's reach in the long-lived processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import anyio
import pytest
from fastapi import FastAPI

import api.main
from registro import stage_worker


def recorder(steps: list[str], step: str) -> Callable[[], int]:
    def record() -> int:
        steps.append(step)
        return 0

    return record


def test_freezing_leaves_only_later_objects_to_the_collector() -> None:
    # in a process of its own: freezing this one would keep the test session's objects forever
    code = (
        "import gc, fastapi, sqlalchemy, prefect\n"
        "from registro.gc_tuning import freeze_startup_objects\n"
        "frozen = freeze_startup_objects()\n"
        "later = [[i] for i in range(1000)]\n"
        "print(frozen, len(gc.get_objects()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    frozen, tracked = map(int, out.stdout.split())
    assert frozen > 50_000  # the libraries' modules, classes and functions
    assert 1000 <= tracked < frozen // 10  # a full collection walks what came later, nothing else


def test_the_api_freezes_its_startup_objects_once_warmed_up(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[str] = []
    monkeypatch.setattr(api.main, "_warm_up", lambda _today: steps.append("flows loaded"))
    monkeypatch.setattr(api.main, "freeze_startup_objects", recorder(steps, "frozen"))

    async def start_and_stop() -> None:
        async with api.main.lifespan(FastAPI()):
            steps.append("serving")

    anyio.run(start_and_stop)
    assert steps[:3] == ["flows loaded", "frozen", "serving"]


def test_the_stage_worker_freezes_its_startup_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    import registro.gc_tuning

    steps: list[str] = []
    monkeypatch.setattr(registro.gc_tuning, "freeze_startup_objects", recorder(steps, "frozen"))
    monkeypatch.setattr("os.nice", lambda increment: increment)  # this test process keeps its priority
    monkeypatch.setattr(stage_worker.asyncio, "run", lambda coro: coro.close())  # start-up only, no serving
    assert stage_worker.main() == 0
    assert steps == ["frozen"]


def test_the_warm_up_loads_the_flows_and_this_years_holidays() -> None:
    import sys
    from datetime import date

    from models.clock import _italian_holidays

    _italian_holidays.cache_clear()
    api.main._warm_up(date(2026, 11, 28))
    assert "flows.dispatch" in sys.modules and _italian_holidays.cache_info().currsize == 1
