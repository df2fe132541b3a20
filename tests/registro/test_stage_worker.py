"""The stage worker: datagrams and database scans become stage flow runs, once per action, bounded."""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Iterator

import pytest

from api.deps import start_flow
from flows.dispatch import dispatch, dispatcher, notify_worker, run_stage_flow
from models.enums import ActionStatus, Event, State
from registro import worker_channel
from registro.settings import get_settings
from registro.stage_worker import StageWorker, queued_action_ids, serve
from tests.factories import Factory
from tests.tasks.stage_driver import StageDriver


class Recorder:
    """A stand-in for the flow run that records the ids and waits until released."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, action_id: int) -> None:
        self.started.append(action_id)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1


def test_an_action_is_run_once_at_a_time_and_concurrency_is_bounded() -> None:
    async def scenario() -> tuple[Recorder, list[bool]]:
        recorder = Recorder()
        worker = StageWorker(concurrency=2, run=recorder)
        offered = [worker.offer(1), worker.offer(1), worker.offer(2), worker.offer(3)]
        await asyncio.sleep(0.05)
        assert recorder.started == [1, 2] and recorder.most_in_flight == 2  # the third waits for a slot
        recorder.release.set()
        assert await worker.drain(5) == 0
        return recorder, offered

    recorder, offered = asyncio.run(scenario())
    assert offered == [True, False, True, True]
    assert sorted(recorder.started) == [1, 2, 3] and recorder.most_in_flight == 2


def test_a_scan_retakes_a_still_queued_action_only_after_the_pause() -> None:
    async def scenario() -> list[bool]:
        async def quick(_action_id: int) -> None:
            return None

        worker = StageWorker(concurrency=1, run=quick, retry_after=0.2)
        first = worker.offer(7, from_scan=True)
        await worker.drain(5)
        worker.accepting = True
        too_soon = worker.offer(7, from_scan=True)
        by_datagram = worker.offer(7)  # a new request for it: at once
        await worker.drain(5)
        worker.accepting = True
        await asyncio.sleep(0.25)
        later = worker.offer(7, from_scan=True)
        await worker.drain(5)
        return [first, too_soon, by_datagram, later]

    assert asyncio.run(scenario()) == [True, False, True, True]


@pytest.fixture
def worker_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REGISTRO_FLOW_DISPATCH", "worker")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_harness", "worker_mode")
def test_the_api_dispatch_reaches_the_worker_and_a_scan_finds_what_was_queued_before(factory: Factory) -> None:
    """An action queued while the worker was down is found by the first scan; one accepted while it
    runs arrives by datagram; both are carried out by their stage flows (flow-run id on the action)."""
    d = StageDriver(factory)
    before = d.request(Event.SUBMIT)
    assert queued_action_ids() == [before.id]

    requested = [before.id]

    key = get_settings().effective_secret_key

    async def scenario() -> None:
        stop = asyncio.Event()
        ports: list[int] = []
        worker = StageWorker(concurrency=4, run=run_stage_flow)
        server = asyncio.create_task(serve(worker, port=0, key=key, stop=stop, scan_seconds=0.2, on_ready=ports.append))
        while not ports:
            await asyncio.sleep(0.01)
        for _ in range(600):  # the first scan carries out the action queued before the start
            if d.action(before.id).status != ActionStatus.QUEUED:
                break
            await asyncio.sleep(0.05)
        get_settings().stage_worker_port = ports[0]
        after = d.request(Event.START_REVIEW)
        await dispatch(after.id)  # worker mode: one datagram, nothing awaited here
        for _ in range(600):
            if d.action(after.id).status != ActionStatus.QUEUED:
                break
            await asyncio.sleep(0.05)
        requested.append(after.id)
        stop.set()
        await server
        assert worker.runs == 2

    asyncio.run(scenario())
    for action_id in requested:
        stored = d.action(action_id)
        assert stored.status == ActionStatus.DONE and stored.flow_run_id
    assert d.reload().state == State.COMPLETENESS_CHECK
    assert queued_action_ids() == []


def test_notify_worker_never_raises_without_a_worker() -> None:
    notify_worker(123, 9, "chiave")  # nobody listens on port 9: the datagram is dropped, the action stays queued


@pytest.fixture
def worker_dispatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """Settings as ``registro run`` sets them for the API, with a socket standing in for the worker."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    monkeypatch.setenv("REGISTRO_FLOW_DISPATCH", "worker")
    monkeypatch.setenv("REGISTRO_STAGE_WORKER_PORT", str(listener.getsockname()[1]))
    get_settings.cache_clear()
    try:
        yield listener
    finally:
        listener.close()
        monkeypatch.undo()
        get_settings.cache_clear()


def test_with_a_stage_worker_the_request_thread_sends_the_datagram_itself(worker_dispatch: socket.socket) -> None:
    handover = dispatcher()
    assert not inspect.iscoroutinefunction(handover)
    start_flow(handover, 42)  # a plain thread, no event loop to hop to
    assert worker_dispatch.recv(128) == worker_channel.encode(42, get_settings().effective_secret_key)


def test_without_a_stage_worker_the_flow_is_started_on_the_event_loop() -> None:
    assert get_settings().flow_dispatch != "worker"
    assert dispatcher() is dispatch
