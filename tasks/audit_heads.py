"""The day's audit chain heads, mailed to an archive address the database's writer cannot reach.

Each evening (``audit-heads`` in ``prefect.yaml``) every application's chain is walked with the audit
key (``models.audit_chain.verify``) and its head — number of events, hash of the last — goes into a
record with its own HMAC (``registro.audit.build_record``), queued in the outbox as one mail to
``REGISTRO_AUDIT_ARCHIVE_EMAIL`` (the region's preservation service or protocol PEC). ``registro
audit-verify --teste <mail>`` later compares the database with it.

Why a mail and not a file outside the data folder: once the mail is sent, it is on another system —
the archive's mailbox, with the PEC delivery receipt dating it — out of reach of anyone on this
machine, the application's own user included, who holds the database, the key and any folder it can
write. A folder is out of that user's reach only if the storage enforces it (WORM, append-only), which
the application can neither set up nor check; a mail needs only the outbox every notice already goes
through (queued in the database's transaction, retried, once-only by its key), and issue 18 will send
the daily protocol register to preservation the same way. The window is the minute between queuing
and ``deliver-outbox``: a writer with the key could alter that day's queued record in it, not the
records already sent. On the embedded default the mail lands in ``var/mail`` (the local capture
server), which is on this machine: a demonstration, not an archive.

Idempotent: the outbox key is (day, recipient), checked before the walk; a second run the same day
queues nothing. The chain is walked in a transaction that only reads; the mail is one short write.
A day later than today (``as_of`` in the future) is refused: it would take the outbox key of a day
that has not come yet.
Size: about 110 bytes per application with events (10,000 applications: 1.1 MB of text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.audit_chain import chain_key, verify
from models.base import local_date
from models.enums import NotificationStatus
from models.notification import Notification
from notifications.rendering import render
from registro.audit import BEGIN, END, build_record, record_text
from registro.db import session_scope
from registro.settings import get_settings

KIND = "audit_heads"


class FutureDay(ValueError):
    """``as_of`` later than today (message in Italian)."""


@dataclass
class AuditHeadsReport:
    as_of: date
    recipient: str
    queued: bool = False  # False: already queued for this day and recipient
    applications: int = 0
    events: int = 0
    broken: list[str] = field(default_factory=list)  # broken links found while walking the chains


def idempotency_key(as_of: date, recipient: str) -> str:
    return f"{KIND}:{as_of.isoformat()}:{recipient}"[:200]


def queue_audit_heads(
    session: Session, *, as_of: date, now: datetime, recipient: str | None = None
) -> AuditHeadsReport:
    if as_of > local_date(now):
        raise FutureDay(f"giorno {as_of:%d/%m/%Y} successivo a oggi: le impronte si archiviano a giorno compiuto")
    recipient = recipient or get_settings().audit_archive_email
    report = AuditHeadsReport(as_of=as_of, recipient=recipient)
    key = idempotency_key(as_of, recipient)
    if session.exec(select(Notification.id).where(Notification.idempotency_key == key)).first() is not None:
        session.commit()
        return report
    audit_key = chain_key()
    chains = verify(session, key=audit_key)
    session.commit()  # end of the read
    record = build_record(chains, day=as_of, now=now, key=audit_key)
    subject = f"Impronte giornaliere dell'audit del {as_of:%d/%m/%Y} – Registro Distretti"
    body = _body(as_of, record_text(record), len(chains.heads), chains.events, len(chains.broken))
    session.add(
        Notification(
            idempotency_key=key,
            application_id=None,
            kind=KIND,
            recipient=recipient,
            subject=subject,
            body_text=body,
            body_html=render("mail/layout.html.j2", subject=subject, body=body),
            status=NotificationStatus.QUEUED,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
    )
    try:
        session.commit()
    except IntegrityError:  # a concurrent run queued the same day first
        session.rollback()
        return report
    report.queued = True
    report.applications, report.events = len(chains.heads), chains.events
    report.broken = [link.message for link in chains.broken]
    return report


def _body(as_of: date, record: str, applications: int, events: int, broken: int) -> str:
    where = f"{broken} {'domanda' if broken == 1 else 'domande'}"
    state = "integra" if not broken else f"ROTTA in {where} (vedere «anomalie»)"
    return (
        f"Registro delle impronte della catena dell'audit al {as_of:%d/%m/%Y}: {applications} domande,"
        f" {events} eventi; catena {state}.\n\n"
        "Conservare questo messaggio così come è stato ricevuto. Il comando «registro audit-verify --teste"
        " <messaggio .eml>» confronta il database con queste impronte e indica ogni domanda che ne differisce.\n\n"
        f"{BEGIN}\n{record}\n{END}\n"
    )


def run_audit_heads(as_of: date, now: datetime) -> AuditHeadsReport:
    with session_scope() as session:
        return queue_audit_heads(session, as_of=as_of, now=now)


@task(name="queue-audit-heads", task_run_name="queue-audit-heads-{as_of}", cache_policy=NO_CACHE, retries=2)
def audit_heads_task(as_of: date, now: datetime) -> AuditHeadsReport:
    return run_audit_heads(as_of, now)
