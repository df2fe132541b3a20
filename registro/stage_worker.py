"""Stage worker: the process that runs the stage flows of the accepted actions (embedded default).

``registro run`` starts it as a child and sets ``REGISTRO_FLOW_DISPATCH=worker`` for the API, which
then stores an action, sends its id in one UDP datagram, signed with the application's key
(``registro.worker_channel``), to ``127.0.0.1:<stage_worker_port>`` and answers 202. Here each id
becomes an async run of its stage flow (``flows.dispatch.run_stage_flow``), at most
``stage_worker_concurrency`` at a time, on this process's event loop; a datagram not signed with the
key is ignored and logged.

Why a process of its own: Prefect's engine costs about 65 ms of CPU per flow run in the process that
runs it (measured on 2 cores). Inside the API process that CPU time competed for the interpreter
with the requests, and an action's answer waited behind the flows of the other actions
(bench/lifecycle_http.py, 8 districts in flight: action p95 0.4-1.5 s). Here the operating system
shares the cores between the two processes.

Nothing is lost if a datagram is: every ``SCAN_SECONDS`` the worker also reads the queued actions
from the database (so, too, at start-up), and the recovery sweep still runs every minute. An action
whose run ended with the action still queued (a transient error, already retried three times by the
flow) is taken again by a scan only after ``RETRY_AFTER_SECONDS``. Two runs of one action are
harmless: ``tasks.stage_work.carry_out`` locks the row and skips an action no longer queued.

Run as ``python -m registro.stage_worker``; SIGINT or SIGTERM: no new runs, the runs in flight get
``DRAIN_SECONDS`` to finish (an unfinished action stays queued and is taken again at the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable

import anyio
from sqlmodel import col, select

from models.application import StageAction
from models.enums import ActionStatus
from registro import worker_channel
from registro.db import read_scope
from registro.settings import get_settings

logger = logging.getLogger("registro.stage_worker")

READY_LINE = "esecutore delle fasi pronto"
SCAN_SECONDS = 2.0
RETRY_AFTER_SECONDS = 30.0
DRAIN_SECONDS = 20.0
SCAN_LIMIT = 500
LOG_IGNORED_EVERY = 10.0


def queued_action_ids(limit: int = SCAN_LIMIT) -> list[int]:
    """The queued actions, oldest first."""
    with read_scope() as session:
        ids = session.exec(
            select(StageAction.id)
            .where(StageAction.status == ActionStatus.QUEUED)
            .order_by(col(StageAction.id))
            .limit(limit)
        ).all()
    return [int(i) for i in ids if i is not None]


class StageWorker:
    """Takes action ids (datagrams, scans) and runs each one's stage flow once at a time."""

    def __init__(
        self,
        *,
        concurrency: int,
        run: Callable[[int], Awaitable[None]],
        retry_after: float = RETRY_AFTER_SECONDS,
    ) -> None:
        self.run = run
        self.retry_after = retry_after
        self.slots = asyncio.Semaphore(concurrency)
        self.running: set[int] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.ran_at: dict[int, float] = {}  # action id → when its last run here ended
        self.accepting = True
        self.runs = 0

    def offer(self, action_id: int, *, from_scan: bool = False) -> bool:
        """Starts a run for the action unless one is running (or, for a scan, one ended recently)."""
        if not self.accepting or action_id in self.running:
            return False
        ended = self.ran_at.get(action_id)
        if from_scan and ended is not None and time.monotonic() - ended < self.retry_after:
            return False
        self.running.add(action_id)
        task = asyncio.get_running_loop().create_task(self._execute(action_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return True

    async def _execute(self, action_id: int) -> None:
        try:
            async with self.slots:
                await self.run(action_id)
        except Exception:
            logger.exception("azione %s: esecuzione del flusso non riuscita", action_id)
        finally:
            self.running.discard(action_id)
            self.ran_at[action_id] = time.monotonic()
            self.runs += 1

    async def scan(self) -> int:
        """Offers every queued action; returns how many runs it started."""
        ids = await anyio.to_thread.run_sync(queued_action_ids)
        now = time.monotonic()
        self.ran_at = {i: t for i, t in self.ran_at.items() if now - t < self.retry_after}
        return sum(self.offer(action_id, from_scan=True) for action_id in ids)

    async def drain(self, timeout: float) -> int:
        """Stops taking actions and waits up to ``timeout`` s for the runs in flight; returns those left."""
        self.accepting = False
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)
        return len(self.tasks)


class _Datagrams(asyncio.DatagramProtocol):
    """Takes the datagrams signed with the application's key (``registro.worker_channel``) only."""

    def __init__(self, worker: StageWorker, key: str) -> None:
        self.worker = worker
        self.key = key
        self.ignored = 0  # since the last line logged about them
        self.logged_at = -LOG_IGNORED_EVERY

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        action_id = worker_channel.decode(data, self.key)
        if action_id is not None:
            self.worker.offer(action_id)
            return
        # one line per LOG_IGNORED_EVERY seconds at most: a flood (a tester sent 218,800 in 10 s) must
        # not fill the disk with the log
        self.ignored += 1
        now = time.monotonic()
        if now - self.logged_at >= LOG_IGNORED_EVERY:
            logger.warning("%d datagrammi non autenticati ignorati (l'ultimo da %s: %r)", self.ignored, addr, data[:40])
            self.ignored, self.logged_at = 0, now


async def serve(
    worker: StageWorker,
    *,
    port: int,
    key: str,
    stop: asyncio.Event,
    scan_seconds: float = SCAN_SECONDS,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Listens on 127.0.0.1:``port`` (0: any free port, passed to ``on_ready``) for datagrams signed
    with ``key`` and scans the database until ``stop`` is set, then drains."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(worker, key), local_addr=("127.0.0.1", port))
    try:
        if on_ready is not None:
            on_ready(int(transport.get_extra_info("sockname")[1]))
        while not stop.is_set():
            try:
                await worker.scan()
            except Exception as error:  # the database unreachable: the datagrams still work
                logger.warning("lettura delle azioni in coda non riuscita: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=scan_seconds)
    finally:
        transport.close()
    left = await worker.drain(DRAIN_SECONDS)
    if left:
        print(f"{left} flussi non conclusi in {DRAIN_SECONDS:.0f} s: le azioni restano in coda", flush=True)


def main() -> int:

    from flows.dispatch import run_stage_flow, shared_prefect_clients

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        worker = StageWorker(concurrency=settings.stage_worker_concurrency, run=run_stage_flow)

        def ready(port: int) -> None:
            limit = settings.stage_worker_concurrency
            print(f"{READY_LINE} su 127.0.0.1:{port} (al più {limit} flussi insieme)", flush=True)

        async with shared_prefect_clients():
            await serve(
                worker, port=settings.stage_worker_port, key=settings.effective_secret_key, stop=stop, on_ready=ready
            )
        print(f"esecutore delle fasi fermato dopo {worker.runs} flussi", flush=True)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
