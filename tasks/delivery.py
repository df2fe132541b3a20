"""Delivering the outbox: due notifications sent over one SMTP connection, each row marked on its own.

1. ``claim_due``: one transaction picks the due rows and leases them (``next_attempt_at`` moved
   ``LEASE`` ahead) so that a second delivery run at the same time does not pick them too.
2. Each message is marked ``sending`` (committed), sent, and right after the server accepts it
   committed as ``sent``. If the process dies in between, the row stays ``sending``: once its lease
   has expired the next run marks it ``uncertain`` — maybe delivered, maybe not — and never resends
   it by itself (no mail twice); the outbox shows it and an official, having checked the PEC
   receipts, can put it back in the queue.
3. A refused message counts an attempt: retried with exponential backoff, failed at once on a
   permanent (5xx) refusal or after ``MAX_ATTEMPTS``. If the server is unreachable or the connection
   drops, the rows not attempted are released untouched (still queued, due now): nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import aiosmtplib
import anyio
from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import or_, update
from sqlmodel import col, select

from models.enums import NotificationStatus
from models.notification import Notification
from notifications.sender import MessageRefused, SmtpConfig, build_message, smtp_connection
from registro.db import session_scope
from registro.settings import get_settings

logger = logging.getLogger("registro.delivery")

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=1)  # 1, 2, 4 ... minutes after the n-th failed attempt
BACKOFF_MAX = timedelta(hours=6)
LEASE = timedelta(minutes=10)
T = TypeVar("T")


@dataclass(frozen=True)
class Outgoing:
    id: int
    idempotency_key: str
    recipient: str
    subject: str
    body_text: str
    body_html: str
    attempts: int


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)  # not attempted: still queued, due now
    uncertain: list[int] = field(default_factory=list)  # left "sending" by a run that died
    smtp_error: str | None = None  # the server could not be reached, or the connection dropped


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def settle_interrupted(*, as_of: datetime) -> list[int]:
    """Rows a dead run left ``sending`` (lease expired): ``uncertain``, for a person to check."""
    with session_scope() as session:
        settled = session.execute(
            update(Notification)
            .where(col(Notification.status) == NotificationStatus.SENDING, col(Notification.next_attempt_at) <= as_of)
            .values(
                status=NotificationStatus.UNCERTAIN,
                next_attempt_at=None,
                last_error="invio interrotto mentre il server SMTP riceveva il messaggio: verificare le ricevute "
                "PEC prima di rimetterlo in coda",
            )
            .returning(col(Notification.id))
        )
        ids = sorted(row[0] for row in settled)
        session.commit()
    return ids


def mark_sending(notification_id: int) -> None:
    _update(notification_id, status=NotificationStatus.SENDING)


def claim_due(*, as_of: datetime, limit: int) -> list[Outgoing]:
    with session_scope() as session:
        due = (
            col(Notification.status) == NotificationStatus.QUEUED,
            or_(col(Notification.next_attempt_at).is_(None), col(Notification.next_attempt_at) <= as_of),
        )
        ids = session.exec(
            select(Notification.id)
            .where(*due)
            .order_by(col(Notification.next_attempt_at), col(Notification.id))
            .limit(limit)
        ).all()
        if not ids:
            return []
        claimed = session.execute(
            update(Notification)
            .where(col(Notification.id).in_(ids), *due)
            .values(next_attempt_at=as_of + LEASE)
            .returning(col(Notification.id))
        )
        claimed_ids = sorted(row[0] for row in claimed)
        rows = session.exec(select(Notification).where(col(Notification.id).in_(claimed_ids))).all()
        session.commit()
    by_id = {row.id: row for row in rows}
    return [_outgoing(by_id[i]) for i in claimed_ids if i in by_id]


def _outgoing(row: Notification) -> Outgoing:
    assert row.id is not None
    return Outgoing(row.id, row.idempotency_key, row.recipient, row.subject, row.body_text, row.body_html, row.attempts)


def mark_sent(notification_id: int, *, as_of: datetime) -> None:
    _update(
        notification_id,
        status=NotificationStatus.SENT,
        sent_at=as_of,
        attempts=Notification.attempts + 1,
        last_error=None,
        next_attempt_at=None,
    )


def mark_refused(outgoing: Outgoing, *, error: str, permanent: bool, as_of: datetime) -> NotificationStatus:
    attempts = outgoing.attempts + 1
    give_up = permanent or attempts >= MAX_ATTEMPTS
    status = NotificationStatus.FAILED if give_up else NotificationStatus.QUEUED
    _update(
        outgoing.id,
        status=status,
        attempts=attempts,
        last_error=error[:2000],
        next_attempt_at=None if give_up else as_of + backoff(attempts),
    )
    return status


def release(ids: list[int], *, as_of: datetime) -> None:
    """Rows leased but not attempted become due again at once."""
    if not ids:
        return
    with session_scope() as session:
        session.execute(
            update(Notification)
            .where(
                col(Notification.id).in_(ids),
                col(Notification.status).in_([NotificationStatus.QUEUED, NotificationStatus.SENDING]),
            )
            .values(status=NotificationStatus.QUEUED, next_attempt_at=as_of)
        )
        session.commit()


def _update(notification_id: int, **values: object) -> None:
    with session_scope() as session:
        session.execute(update(Notification).where(col(Notification.id) == notification_id).values(**values))
        session.commit()


async def _db(fn: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(fn)


async def deliver(*, as_of: datetime, limit: int, config: SmtpConfig) -> DeliveryReport:
    """Sends the due outbox rows over one connection; see the module docstring."""
    report = DeliveryReport()
    report.uncertain = await _db(lambda: settle_interrupted(as_of=as_of))
    batch = await _db(lambda: claim_due(as_of=as_of, limit=limit))
    report.claimed = len(batch)
    if not batch:
        return report
    pending = list(batch)
    try:
        async with smtp_connection(config) as mailer:
            while pending:
                outgoing = pending[0]
                message = build_message(
                    recipient=outgoing.recipient,
                    subject=outgoing.subject,
                    body_text=outgoing.body_text,
                    body_html=outgoing.body_html,
                    idempotency_key=outgoing.idempotency_key,
                    mail_from=config.mail_from,
                    date=as_of,
                )
                await _db(lambda o=outgoing: mark_sending(o.id))  # type: ignore[misc]
                try:
                    await mailer.send(message, outgoing.recipient)
                except MessageRefused as refused:
                    pending.pop(0)
                    status = await _db(
                        lambda o=outgoing, r=refused: mark_refused(  # type: ignore[misc]
                            o, error=str(r), permanent=r.permanent, as_of=as_of
                        )
                    )
                    (report.failed if status == NotificationStatus.FAILED else report.retrying).append(outgoing.id)
                    logger.warning("messaggio %s rifiutato da %s: %s", outgoing.id, outgoing.recipient, refused)
                    continue
                pending.pop(0)
                await _db(lambda o=outgoing: mark_sent(o.id, as_of=as_of))  # type: ignore[misc]
                report.sent.append(outgoing.id)
    except (aiosmtplib.SMTPException, OSError) as error:
        report.smtp_error = f"{type(error).__name__}: {error}"
        logger.error("server SMTP %s:%s non disponibile: %s", config.host, config.port, report.smtp_error)
    if pending:
        # the one in flight when the connection dropped got no acceptance: queued again (same
        # Message-ID), like those not attempted; only a process that dies leaves "uncertain" rows
        report.released = [o.id for o in pending]
        await _db(lambda: release(report.released, as_of=as_of))
    return report


@task(name="send-due-notifications", task_run_name="send-due-notifications", cache_policy=NO_CACHE)
async def deliver_task(as_of: datetime, limit: int) -> DeliveryReport:
    """No retries: the next scheduled run (a minute later) is the retry. The SMTP password is never a parameter."""
    return await deliver(as_of=as_of, limit=limit, config=SmtpConfig.from_settings(get_settings()))
