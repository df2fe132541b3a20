"""Sweep: stage actions still queued after a while (the API process died, a deployment run was lost,
the database was unreachable) are carried out here, so no accepted request is ever lost.

One flow run, one task, one set-based query; each action is carried out by the same plain function
the stage flows run (``tasks.stage_work.carry_out``), one transaction per action, in request order.
Not one subflow per action: a flow run costs about 0.2 s in-process and 2–3 s as a deployment, the
result would be identical, and the audit event names this sweep's flow run, which did the work.
An action a stage flow is running right now is safe: ``carry_out`` locks the row and skips one
that is no longer queued.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from sqlmodel import col, select

from flows.stages import current_flow_run_id
from models.application import StageAction
from models.enums import ActionStatus
from registro.db import session_scope
from tasks.stage_work import carry_out, is_transient

logger = logging.getLogger("registro.recovery")


@dataclass
class RecoveryReport:
    found: int = 0
    done: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # refused by the rules now: marked failed
    skipped: list[int] = field(default_factory=list)  # finished meanwhile by their own flow
    left_queued: list[int] = field(default_factory=list)  # transient error: next sweep


def stale_actions(*, as_of: datetime, older_than_seconds: int) -> list[int]:
    """Queued actions requested at least ``older_than_seconds`` before ``as_of``, oldest first."""
    cutoff = as_of - timedelta(seconds=older_than_seconds)
    with session_scope() as session:
        ids = session.exec(
            select(StageAction.id)
            .where(StageAction.status == ActionStatus.QUEUED, col(StageAction.requested_at) <= cutoff)
            .order_by(col(StageAction.requested_at), col(StageAction.id))
        ).all()
    return [int(i) for i in ids if i is not None]


def recover(*, as_of: datetime, older_than_seconds: int, flow_run_id: str | None) -> RecoveryReport:
    """Carries out every stale queued action; one failing for I/O does not stop the others."""
    report = RecoveryReport()
    ids = stale_actions(as_of=as_of, older_than_seconds=older_than_seconds)
    report.found = len(ids)
    for action_id in ids:
        try:
            outcome = carry_out(action_id, flow_run_id=flow_run_id)
        except Exception as error:
            if not is_transient(error):
                report.failed.append(action_id)  # a bug: carry_out marked it failed and logged it
                continue
            logger.warning("azione %s lasciata in coda: %s", action_id, error)
            report.left_queued.append(action_id)
            continue
        if outcome.skipped:
            report.skipped.append(action_id)
        elif outcome.status == ActionStatus.DONE:
            report.done.append(action_id)
        else:
            report.failed.append(action_id)
    return report


@task(name="recover-stale-actions", task_run_name="recover-stale-actions", cache_policy=NO_CACHE)
async def recover_task(as_of: datetime, older_than_seconds: int, flow_run_id: str | None) -> RecoveryReport:
    return await anyio.to_thread.run_sync(
        lambda: recover(as_of=as_of, older_than_seconds=older_than_seconds, flow_run_id=flow_run_id)
    )


@flow(name="redispatch-stale-actions", flow_run_name="redispatch-stale-actions")
async def redispatch_stale_actions(as_of: datetime | None = None, older_than_seconds: int = 60) -> RecoveryReport:
    """Carries out the stage actions accepted but still queued ``older_than_seconds`` after their request."""
    as_of = as_of or datetime.now(UTC)
    report = await recover_task(as_of, older_than_seconds, current_flow_run_id())
    if report.found:
        logger.warning(
            "recupero: %d azioni in coda, %d eseguite, %d rifiutate, %d già concluse, %d lasciate in coda",
            report.found,
            len(report.done),
            len(report.failed),
            len(report.skipped),
            len(report.left_queued),
        )
    return report
