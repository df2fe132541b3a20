"""What the routes share: accept a lifecycle action, guard the representative's edits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import col

from api.deps import Context, DispatchFn, start_flow
from api.schemas import ActionAccepted, ActionRead, ApplicationStatus
from models.actions import request_action
from models.application import Application
from models.enums import Event, Role, State
from models.errors import ConcurrentChange, Forbidden
from models.labels import STATE_LABELS
from models.lifecycle import not_in_state


def accept(
    ctx: Context,
    application: Application,
    event: Event,
    dispatch: DispatchFn,
    payload: BaseModel | dict[str, Any] | None = None,
) -> ActionAccepted:
    """parse → service → start the flow → the file's status and the action. The flow applies the
    event later; the answer reads two rows, not the whole file (the client follows the action)."""
    data = payload.model_dump(exclude_none=True) if isinstance(payload, BaseModel) else dict(payload or {})
    action = request_action(
        ctx.session,
        application=application,
        event=event,
        actor=ctx.user,
        profile=ctx.profile,
        now=ctx.now,
        payload=data,
    )
    assert action.id is not None
    start_flow(dispatch, action.id)
    ctx.session.refresh(application)
    ctx.session.refresh(action)
    return ActionAccepted(
        application=ApplicationStatus(
            id=action.application_id,
            state=application.state,
            state_label=STATE_LABELS[application.state],
            version=application.version,
            pending_action_id=application.pending_action_id,
        ),
        action=ActionRead.model_validate(action),
    )


def ensure_editable(ctx: Context, application: Application, states: Iterable[State], what: str) -> None:
    """Only the district's representative edits, only in the given states, never during an action."""
    if ctx.user.role != Role.REPRESENTATIVE or ctx.user.district_id != application.district_id:
        raise Forbidden("solo il rappresentante del distretto può modificare la domanda")
    if application.state not in set(states):
        raise not_in_state(application, ctx.user.role, what)
    if application.pending_action_id is not None:
        raise ConcurrentChange("è in corso un'azione su questa pratica: attendere il suo completamento")


def claim_edit(ctx: Context, application: Application) -> None:
    """Optimistic lock for an edit: fails if an action was accepted meanwhile or the file changed."""
    result = ctx.session.execute(
        update(Application)
        .where(
            col(Application.id) == application.id,
            col(Application.version) == application.version,
            col(Application.pending_action_id).is_(None),
        )
        .values(version=application.version + 1, updated_at=ctx.now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        ctx.session.rollback()
        raise ConcurrentChange("la pratica è stata modificata da un'altra operazione: ricaricare e riprovare")
    application.version += 1
    application.updated_at = ctx.now
