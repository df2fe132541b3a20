"""Starting the stage flow of an accepted action (``StageAction``): in the stage worker, in-process
or as a deployment.

``settings.flow_dispatch``:
- ``worker`` (embedded default, set by ``registro run``): the action's id goes in a signed UDP datagram to
  the stage worker process (``registro.stage_worker``), which runs the flow; nothing here waits.
- ``inprocess`` (the API started alone): the flow runs in this process, on an event loop of its own
  in a background thread — not on the API's loop, which keeps answering requests while Prefect's
  engine works; ``drain()`` awaits the ones still running (call it at shutdown). About 0.2 s per run.
- ``deployment``: ``run_deployment(..., timeout=0)`` creates a run of ``<flow>/<deployment_suffix>``
  that a worker (or ``registro.serve``) executes; returns in about 0.1 s.

``dispatch`` never raises for a run that cannot start: the action is already stored as queued,
so ``flows.recovery.redispatch_stale_actions`` will carry it out; the failure is logged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import anyio
from prefect import Flow
from sqlmodel import select

from flows.stages import STAGE_FLOWS
from models.application import StageAction
from models.enums import Event
from models.lifecycle import STAGE_OF_EVENT
from registro import worker_channel
from registro.db import refuse_writes, session_scope
from registro.settings import FlowDispatch, get_settings
from tasks.stage_work import run_name

logger = logging.getLogger("registro.dispatch")

STAGE_FLOW_OF_EVENT: dict[Event, Flow[..., Any]] = {
    event: STAGE_FLOWS[stage] for event, stage in STAGE_OF_EVENT.items()
}

_running: set[concurrent.futures.Future[None]] = set()
_flow_loop: asyncio.AbstractEventLoop | None = None
_flow_loop_lock = threading.Lock()


def flow_loop() -> asyncio.AbstractEventLoop:
    """The event loop of the in-process stage flows, started on first use in a daemon thread."""
    global _flow_loop
    with _flow_loop_lock:
        if _flow_loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="stage-flows", daemon=True).start()
            _flow_loop = loop
        return _flow_loop


def deployment_name(flow: Flow[..., Any]) -> str:
    return f"{flow.name}/{get_settings().deployment_suffix}"


def _load(action_id: int) -> tuple[Event, int]:
    with session_scope() as session:
        refuse_writes(session)
        row = session.exec(
            select(StageAction.event, StageAction.application_id).where(StageAction.id == action_id)
        ).first()
    if row is None:
        raise LookupError(f"azione {action_id} inesistente")
    return Event(row[0]), int(row[1])


async def _stage_flow(action_id: int) -> tuple[Flow[..., Any] | None, int]:
    """The stage flow of a stored action and its application (None, logged, for an event without one)."""
    event, application_id = await anyio.to_thread.run_sync(_load, action_id)
    flow = STAGE_FLOW_OF_EVENT.get(event)
    if flow is None:
        logger.error("azione %s: nessun flusso per l'evento %s", action_id, event)
    return flow, application_id


def dispatcher() -> Callable[[int], None] | Callable[[int], Coroutine[Any, Any, None]]:
    """What the API calls with an accepted action's id: with a stage worker, a plain function that
    sends the datagram from the request's own thread (no hop to the event loop and back); otherwise
    ``dispatch``, a coroutine function run on the event loop."""
    settings = get_settings()
    if settings.flow_dispatch == FlowDispatch.WORKER:
        return functools.partial(notify_worker, port=settings.stage_worker_port, key=settings.effective_secret_key)
    return dispatch


async def dispatch(action_id: int) -> None:
    """Starts the stage flow of a stored action and returns at once (the API then answers 202)."""
    settings = get_settings()
    if settings.flow_dispatch == FlowDispatch.WORKER:
        notify_worker(action_id, settings.stage_worker_port, settings.effective_secret_key)
        return
    flow, application_id = await _stage_flow(action_id)
    if flow is None:
        return
    parameters = {"action_id": action_id}
    if settings.flow_dispatch == FlowDispatch.DEPLOYMENT:
        await _run_deployment(flow, parameters, run_name(flow.name, action_id, application_id))
        return
    future = asyncio.run_coroutine_threadsafe(_run_inprocess(flow, parameters), flow_loop())
    _running.add(future)
    future.add_done_callback(_running.discard)


def notify_worker(action_id: int, port: int, key: str) -> None:
    """One datagram with the action's id, signed with ``key`` (``registro.worker_channel``), to the
    stage worker on 127.0.0.1 — fire and forget: if the worker is down, it finds the queued action in
    the database when it starts (and the recovery sweep would after a minute)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(worker_channel.encode(action_id, key), ("127.0.0.1", port))
    except OSError as error:
        logger.warning("azione %s: esecutore delle fasi non raggiungibile (%s)", action_id, error)


async def run_stage_flow(action_id: int) -> None:
    """Runs the stage flow of a stored action on the caller's event loop, to its end (the stage
    worker). Errors are logged: the action is then still queued (transient) or marked failed (bug)."""
    flow, _application_id = await _stage_flow(action_id)
    if flow is not None:
        await _run_inprocess(flow, {"action_id": action_id})


@contextlib.asynccontextmanager
async def shared_prefect_clients() -> AsyncIterator[bool]:
    """One async and one sync Prefect client for every flow run started inside (a long-lived process).

    Without it Prefect's engine builds both clients anew for each flow run, and each one loads the CA
    bundle into a new TLS context (``ssl.create_default_context``, 17 ms of CPU here, even for an
    ``http://`` API): measured with py-spy in the stage worker under the lifecycle benchmark, 42 % of
    its CPU. Yields False, after a warning, if the Prefect API cannot be reached now: the runs then
    make their own clients, as Prefect does by default.
    """
    from prefect.context import AsyncClientContext, SyncClientContext

    async with contextlib.AsyncExitStack() as stack:
        try:
            sync_context = stack.enter_context(SyncClientContext.get_or_create())
            async_context = await stack.enter_async_context(AsyncClientContext.get_or_create())
            # one request that changes nothing but needs the server's CSRF token (a POST): each client
            # fetches its token now, before the runs share it. Fetched by runs at once, each new token
            # voids the one before (one per client id): the others get 403 and retry after 2, 4, 8 s
            # (measured: 8 empty flows at once on a shared client, 7 of 300 failed, 155 s against 46 s)
            await async_context.client.read_flows(limit=1)
            await anyio.to_thread.run_sync(lambda: sync_context.client.read_flows(limit=1))
        except Exception as error:
            await stack.aclose()
            logger.warning("client Prefect condiviso non disponibile (%s): un client per flusso", error)
            yield False
            return
        yield True


async def _run_inprocess(flow: Flow[..., Any], parameters: dict[str, Any]) -> None:
    try:
        await flow(**parameters)
    except Exception:
        # the action stays queued (transient error) or is already marked failed (bug): never lost
        logger.exception("flusso %s (azione %s) terminato con errore", flow.name, parameters["action_id"])


async def _run_deployment(flow: Flow[..., Any], parameters: dict[str, Any], flow_run_name: str) -> None:
    from prefect.deployments import arun_deployment

    name = deployment_name(flow)
    try:
        await arun_deployment(
            name=name,
            parameters=parameters,
            timeout=0,
            flow_run_name=flow_run_name,  # given at creation: no extra API call
        )
    except Exception:
        logger.exception("impossibile avviare %s per l'azione %s: la riprenderà il recupero", name, parameters)


def running() -> int:
    """How many in-process stage flows are still running."""
    return len(_running)


async def drain() -> None:
    """Awaits every in-process stage flow still running (API shutdown). Errors are already logged."""
    while _running:
        await asyncio.gather(*(asyncio.wrap_future(f) for f in list(_running)), return_exceptions=True)


def dispatch_sync(action_id: int) -> None:
    """For scripts (no running event loop): in-process, runs the flow to its end; else starts the deployment."""

    async def run() -> None:
        await dispatch(action_id)
        await drain()

    asyncio.run(run())
