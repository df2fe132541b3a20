"""The outcome of an accepted action, read at once or awaited for a few seconds (``?wait=``).

Awaiting spares the client one request every few hundred milliseconds: the server looks at the
action's row every ``POLL_SECONDS`` — a read by primary key, without the write lock on SQLite and
without holding a connection or a WAL snapshot in between — and answers as soon as the stage flow
has finished or the wait is over, whichever comes first. The waiting request does not count
against the in-flight limit while it sleeps.
"""

from __future__ import annotations

import time

import anyio
from fastapi import Request
from sqlmodel import Session

from api.inflight import outside_inflight_limit
from models.access import ensure_can_see
from models.application import Application, StageAction
from models.enums import ActionStatus
from models.errors import NotFound
from models.people import User
from models.profiles import RegionProfile

POLL_SECONDS = 0.05
MAX_WAIT_SECONDS = 10.0  # below the 15 s a stopping API is given (registro.embedded.STOP_TIMEOUT)
FINISHED = frozenset({ActionStatus.DONE, ActionStatus.FAILED})


def visible_action(session: Session, action_id: int, user: User, profile: RegionProfile) -> StageAction:
    """The action, if the user may see its application (404 / 403 otherwise); the session's
    transaction is then over, so no snapshot or connection is held while the caller waits."""
    action = session.get(StageAction, action_id)
    application = session.get(Application, action.application_id) if action else None
    if action is None or application is None:
        raise NotFound(f"azione {action_id} non trovata")
    ensure_can_see(user, application, profile)
    session.commit()
    return action


def reread(session: Session, action_id: int) -> StageAction | None:
    action = session.get(StageAction, action_id, populate_existing=True)
    session.commit()
    return action


async def await_outcome(request: Request, session: Session, action: StageAction, wait: float) -> StageAction:
    """``action`` once finished, or as it stands after ``wait`` seconds."""
    deadline = time.monotonic() + min(wait, MAX_WAIT_SECONDS)
    async with outside_inflight_limit(request):
        while action.status not in FINISHED and time.monotonic() < deadline:
            await anyio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            assert action.id is not None
            fresh = await anyio.to_thread.run_sync(reread, session, action.id)
            action = fresh or action
    return action
