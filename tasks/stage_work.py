"""Carrying out one accepted stage action: the whole work of a stage flow.

``carry_out`` locks the action row, applies its event through ``models.service.apply_event``
(time = the action's ``requested_at``), marks the action done and frees the file — and commits
once. A crash anywhere rolls all of it back: the action stays queued and the recovery sweep runs
it again, so work is done exactly once.

An event that issues a document (receipt, letters, decree) commits in two steps, so that no
transaction holds its rows locked while the PDF is laid out (``tasks.documents``): the event and the
document's HTML (kept on the action, still queued, file still busy); then, after the layout, the
protocol entry and the document, and the action done. A run that finds the HTML on its action
goes straight to the second step. A layout that fails for a bug leaves the action queued (the
event is applied, the document still owed): logged, and taken again by the next scan.

A refusal of the rules (``DomainError``: the guard, competence, a concurrent change) is an
outcome, not an error: the action is marked failed with the Italian message and never retried.
Transient I/O errors (database unreachable or locked, file system) propagate so that the task's
retries run again; any other exception is a bug: the action fails with a generic message.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from sqlalchemy import exc as sa_exc
from sqlmodel import Session, col, select
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    wait_chain,
    wait_fixed,
)

from models.actions import finish_action
from models.application import Application, StageAction
from models.enums import ActionStatus, Stage, State
from models.errors import DomainError
from models.lifecycle import document_of, stage_of
from models.people import User
from models.procedure import AuditEvent
from models.profiles import load_profile
from notifications.outbox import apply_and_notify
from registro.db import refuse_writes, session_scope
from registro.settings import get_settings
from tasks.documents import draft_html, lay_out, record_document, store_file

logger = logging.getLogger("registro.stages")

INTERNAL_ERROR = "errore interno durante l'esecuzione dell'azione: segnalarlo all'assistenza (rif. {ref})"


@dataclass(frozen=True)
class ActionOutcome:
    action_id: int
    status: ActionStatus
    state: State | None = None  # the application's state after the action
    error: str | None = None
    audit_id: int | None = None
    document_id: int | None = None
    skipped: bool = False  # already finished by another run: nothing done


def is_transient(error: BaseException | Any) -> bool:
    """Errors worth retrying: the database or the file system, never a rule of the domain."""
    if isinstance(error, DomainError):
        return False
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.IntegrityError):
        return True  # unreachable/locked database; a numbering race on a unique key
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OSError)


def carry_out(action_id: int, *, flow_run_id: str | None, stage: Stage | None = None) -> ActionOutcome:
    """Applies a queued action: one transaction, or two for an event with a document (module docstring)."""
    with session_scope() as session:
        try:
            outcome = _apply(session, action_id, flow_run_id=flow_run_id, stage=stage)
        except DomainError as error:
            session.rollback()
            logger.warning("azione %s rifiutata: %s", action_id, error.message)
            return _fail(session, action_id, flow_run_id=flow_run_id, message=error.message)
        except Exception as error:
            session.rollback()
            if is_transient(error):
                raise  # the action stays queued: retried by the task, then by the recovery sweep
            logger.exception("azione %s: errore interno", action_id)
            _fail(session, action_id, flow_run_id=flow_run_id, message=INTERNAL_ERROR.format(ref=flow_run_id or "-"))
            raise
    return outcome if outcome is not None else _issue_drafted_document(action_id)


def _lock_queued(session: Session, action_id: int) -> StageAction | None:
    """The action row, locked until commit."""
    action = session.exec(select(StageAction).where(StageAction.id == action_id).with_for_update()).first()
    if action is None:
        raise LookupError(f"azione {action_id} inesistente")
    return action if action.status == ActionStatus.QUEUED else None


def _apply(session: Session, action_id: int, *, flow_run_id: str | None, stage: Stage | None) -> ActionOutcome | None:
    """Applies the event; None when the action now owes only its document (drafted, committed)."""
    action = _lock_queued(session, action_id)
    if action is None:
        return _already_finished(session, action_id)
    if action.document_html is not None:
        session.rollback()  # applied by an earlier run: only the document is left
        return None
    if stage is not None and stage_of(action.event) != stage:
        raise DomainError(f"l'azione «{action.event}» non appartiene alla fase «{stage}»")
    application = session.get(Application, action.application_id)
    actor = session.get(User, action.actor_id)
    if application is None or actor is None:
        raise DomainError("pratica o utente dell'azione non più presenti")
    settings = get_settings()
    profile = load_profile(settings.profile)
    now = action.requested_at
    audit = apply_and_notify(
        session,
        application=application,
        event=action.event,
        actor=actor,
        profile=profile,
        now=now,
        payload=dict(action.payload or {}),
        flow_run_id=flow_run_id,
        commit=False,
    )
    action.flow_run_id = flow_run_id
    if (spec := document_of(action.event)) is not None:
        payload = dict(action.payload or {})
        html = draft_html(session, spec=spec, application=application, audit=audit, profile=profile, payload=payload)
        action.document_html = html
        session.add(action)
        session.commit()  # the event and the draft; the action stays queued, the file busy
        return None
    finish_action(session, action=action, now=_finished_at(now))  # commits everything above
    return ActionOutcome(action_id=action_id, status=ActionStatus.DONE, state=application.state, audit_id=audit.id)


def _issue_drafted_document(action_id: int) -> ActionOutcome:
    """Lays out the drafted document outside any transaction, stores it, then protocols and records it
    and closes the action in one short transaction."""
    with session_scope() as session:
        refuse_writes(session)
        action = session.get(StageAction, action_id)
        assert action is not None
        event, html = action.event, action.document_html
    spec = document_of(event)
    assert spec is not None
    if html is None:  # finished meanwhile by another run
        with session_scope() as session:
            refuse_writes(session)
            return _already_finished(session, action_id)
    try:
        rendered = lay_out(html, template=spec.template)
        store_file(get_settings().files_dir, rendered.content)
    except Exception as error:
        if not is_transient(error):
            logger.exception("azione %s: documento «%s» non impaginato; l'azione resta in coda", action_id, spec.title)
        raise
    with session_scope() as session:
        action = _lock_queued(session, action_id)
        if action is None or action.document_html is None:
            return _already_finished(session, action_id)
        application = session.get(Application, action.application_id)
        assert application is not None
        audit = session.exec(
            select(AuditEvent)
            .where(AuditEvent.application_id == application.id, AuditEvent.event == action.event)
            .order_by(col(AuditEvent.id).desc())
        ).first()
        assert audit is not None
        document = record_document(
            session, spec=spec, application=application, audit=audit, rendered=rendered, now=action.requested_at
        )
        action.document_html = None
        finish_action(session, action=action, now=_finished_at(action.requested_at))  # commits
        return ActionOutcome(
            action_id=action_id,
            status=ActionStatus.DONE,
            state=application.state,
            audit_id=audit.id,
            document_id=document.id,
        )


def _fail(session: Session, action_id: int, *, flow_run_id: str | None, message: str) -> ActionOutcome:
    """Marks the action failed and frees the file, in a fresh transaction (unless another run finished it)."""
    action = _lock_queued(session, action_id)
    if action is None:
        return _already_finished(session, action_id)
    action.flow_run_id = flow_run_id
    finish_action(session, action=action, now=_finished_at(action.requested_at), error=message[:2000])
    application = session.get(Application, action.application_id)
    return ActionOutcome(
        action_id=action_id,
        status=ActionStatus.FAILED,
        state=application.state if application is not None else None,
        error=message,
    )


def _already_finished(session: Session, action_id: int) -> ActionOutcome:
    session.rollback()
    action = session.get(StageAction, action_id)
    assert action is not None
    return ActionOutcome(action_id=action_id, status=action.status, error=action.error, skipped=True)


def _finished_at(requested_at: datetime) -> datetime:
    """When the run ended: a technical record, never a rule input (simulated times may be ahead)."""
    return max(requested_at, datetime.now(UTC))


def run_name(stage: Stage | str | None, action_id: int, application_id: int | None = None) -> str:
    """``submission-app-12`` (``submission-action-34`` without the application): what an official reads."""
    prefix = str(stage) if stage else "azione"
    return f"{prefix}-app-{application_id}" if application_id is not None else f"{prefix}-action-{action_id}"


RETRY_DELAYS = (1.0, 5.0)  # seconds before the 2nd and 3rd attempt, transient errors only


async def carry_out_async(
    action_id: int,
    *,
    flow_run_id: str | None,
    stage: Stage | None = None,
    retry_delays: tuple[float, ...] = RETRY_DELAYS,
) -> ActionOutcome:
    """``carry_out`` in a worker thread (the caller's event loop, the API's in-process, never blocks on
    the database), retried on transient I/O errors only; a ``DomainError`` is an outcome, never retried.

    Deliberately not a Prefect task: measured against ``prefect server start``, one task adds
    about 25 ms to a stage run that costs about 160 ms empty, i.e. +15 % of the budget of 1.3x an empty
    flow run, on top of the work itself; the retry policy is the same as the task's would be.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception(is_transient),  # a DomainError or a bug: raised at once
        wait=wait_chain(*(wait_fixed(delay) for delay in retry_delays)) if retry_delays else wait_fixed(0),
        stop=stop_after_attempt(len(retry_delays) + 1),
        before_sleep=before_sleep_log(logger, logging.WARNING),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await anyio.to_thread.run_sync(
                functools.partial(carry_out, action_id, flow_run_id=flow_run_id, stage=stage)
            )
    raise AssertionError("unreachable: the last attempt returns or raises")
