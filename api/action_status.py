"""The outcome of an accepted action, read at once or awaited for a few seconds (``?wait=``).

Awaiting spares the client one request every few hundred milliseconds, and answers as soon as the
stage flow has finished or the wait is over, whichever comes first. The waiting requests share one
watcher (``FinishedActions``): every ``POLL_SECONDS`` a single query asks which of all the awaited
actions have finished — not one read per waiting request (with 8 clients waiting, 20 queries a
second instead of 160, each a thread hop competing with the other requests for the interpreter).
It holds no connection in between. A waiting request does not count against the in-flight limit
while it sleeps.
"""

from __future__ import annotations

import asyncio
import logging

import anyio
from fastapi import Request
from sqlmodel import Session, col, select

from api.inflight import outside_inflight_limit
from models.access import refusal
from models.application import Application, StageAction
from models.enums import ActionStatus
from models.errors import NotFound
from models.people import User
from models.profiles import RegionProfile
from registro.db import refuse_writes, session_scope

logger = logging.getLogger("registro.api")

POLL_SECONDS = 0.05
MAX_WAIT_SECONDS = 10.0  # below the 15 s a stopping API is given (registro.embedded.STOP_TIMEOUT)
FINISHED = frozenset({ActionStatus.DONE, ActionStatus.FAILED})


def visible_action(session: Session, action_id: int, user: User, profile: RegionProfile) -> StageAction:
    """The action, if the user may see its application (404 / 403 otherwise, 404 for a private draft's
    as for a missing action); the session's transaction is then over, so no connection is held while
    the caller waits."""
    action = session.get(StageAction, action_id)
    application = session.get(Application, action.application_id) if action else None
    problem = refusal(session, user, application, profile) if application else None
    if action is None or application is None or isinstance(problem, NotFound):
        raise NotFound(f"azione {action_id} non trovata")
    if problem is not None:
        raise problem
    session.commit()
    return action


def reread(session: Session, action_id: int) -> StageAction | None:
    action = session.get(StageAction, action_id, populate_existing=True)
    session.commit()
    return action


def finished_among(action_ids: list[int]) -> list[int]:
    """Which of ``action_ids`` are done or failed: one query."""
    with session_scope() as session:
        refuse_writes(session)
        rows = session.exec(
            select(StageAction.id).where(col(StageAction.id).in_(action_ids), col(StageAction.status).in_(FINISHED))
        ).all()
    return [int(i) for i in rows if i is not None]


class FinishedActions:
    """Wakes the requests awaiting actions when they finish, with one query per ``poll_seconds`` for
    all of them. One poller per event loop (the server has one; a test client may run several), each
    running only while some request of its loop waits."""

    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self.queries = 0
        self._waiting: dict[asyncio.AbstractEventLoop, dict[int, set[asyncio.Event]]] = {}
        self._pollers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    async def wait(self, action_id: int, timeout: float) -> None:
        """Returns when ``action_id`` has finished or after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        waiting = self._waiting.setdefault(loop, {})
        finished = asyncio.Event()
        waiting.setdefault(action_id, set()).add(finished)
        poller = self._pollers.get(loop)
        if poller is None or poller.done():
            self._pollers[loop] = loop.create_task(self._poll(loop, waiting))
        try:
            with anyio.move_on_after(timeout):
                await finished.wait()
        finally:
            events = waiting.get(action_id, set())
            events.discard(finished)
            if not events:
                waiting.pop(action_id, None)

    async def _poll(self, loop: asyncio.AbstractEventLoop, waiting: dict[int, set[asyncio.Event]]) -> None:
        try:
            while waiting:
                await asyncio.sleep(self.poll_seconds)
                if not waiting:
                    break
                try:
                    finished = await anyio.to_thread.run_sync(finished_among, list(waiting))
                except Exception as error:  # the database unreachable: the waits end at their limit
                    logger.warning("stato delle azioni attese non leggibile: %s", error)
                    continue
                self.queries += 1
                for action_id in finished:
                    for event in waiting.get(action_id, ()):
                        event.set()
        finally:
            self._pollers.pop(loop, None)
            if not waiting:
                self._waiting.pop(loop, None)


async def await_outcome(
    request: Request, session: Session, action: StageAction, wait: float, watcher: FinishedActions
) -> StageAction:
    """``action`` once finished, or as it stands after ``wait`` seconds."""
    timeout = min(wait, MAX_WAIT_SECONDS)
    if action.status in FINISHED or timeout <= 0:
        return action
    assert action.id is not None
    async with outside_inflight_limit(request):
        await watcher.wait(action.id, timeout)
        fresh = await anyio.to_thread.run_sync(reread, session, action.id)
    return fresh or action
