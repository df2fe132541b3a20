"""Accepting an action: checked now against the lifecycle, carried out by its stage flow.

``request_action`` is what an API route calls: it runs every check of ``apply_event``
without writing the state, marks the file as busy (one action at a time per file) and
stores the request. The stage flow then calls ``apply_event`` with its flow-run id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.application import Application, StageAction
from models.enums import ActionStatus, Event
from models.errors import ConcurrentChange, DomainError
from models.people import User
from models.profiles import RegionProfile
from models.service import check_event

CHANGED = "la pratica è cambiata o è in corso un'altra azione: ricaricare e riprovare"


def _stored_version(session: Session, application: Application) -> int:
    return int(session.exec(select(Application.version).where(col(Application.id) == application.id)).one())


def request_action(
    session: Session,
    *,
    application: Application,
    event: Event,
    actor: User,
    profile: RegionProfile,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> StageAction:
    payload = dict(payload or {})
    try:
        check_event(
            session, application=application, event=event, actor=actor, profile=profile, now=now, payload=payload
        )
    except DomainError:
        # the rules may have read what another action committed meanwhile (PostgreSQL reads each
        # statement's latest data): if the file moved on, the honest answer is the conflict, not the rule
        if _stored_version(session, application) != application.version:
            session.rollback()
            raise ConcurrentChange(CHANGED) from None
        raise
    # the claim below refuses a file that changed since it was checked (exactly one of concurrent
    # requests at the same version wins: the others wait for its row lock, then match no row)
    action = StageAction(
        application_id=application.id,  # type: ignore[arg-type]
        event=event,
        actor_id=actor.id,  # type: ignore[arg-type]
        payload=payload,
        requested_at=now,
    )
    session.add(action)
    session.flush()
    claimed = session.execute(
        update(Application)
        .where(
            col(Application.id) == application.id,
            col(Application.pending_action_id).is_(None),
            col(Application.version) == application.version,  # unchanged since it was checked
        )
        .values(pending_action_id=action.id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise ConcurrentChange(CHANGED)
    # checked again under the claim: the file's row is now locked, so the rules see one state — an action
    # that ended meanwhile cannot change it half-way through the check
    try:
        check_event(
            session, application=application, event=event, actor=actor, profile=profile, now=now, payload=payload
        )
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return action


def finish_action(session: Session, *, action: StageAction, now: datetime, error: str | None = None) -> None:
    """Marks the action done (or failed, with the reason) and frees the file."""
    action.status = ActionStatus.FAILED if error else ActionStatus.DONE
    action.error = error
    action.finished_at = now
    session.add(action)
    session.execute(
        update(Application)
        .where(col(Application.id) == action.application_id, col(Application.pending_action_id) == action.id)
        .values(pending_action_id=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
