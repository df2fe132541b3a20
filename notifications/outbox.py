"""The outbox: notices are rows written in the transaction of the event that causes them.

Each row has an idempotency key, so replaying an event or a sweep never queues a mail twice.
The delivery flow (``flows/delivery.py``) sends queued rows with aiosmtplib.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from models.application import Application
from models.district import District
from models.enums import NotificationStatus, Role
from models.labels import STATE_LABELS
from models.notification import Notification
from models.people import User
from models.procedure import AuditEvent
from models.profiles import RegionProfile
from models.registry import AnnualReport
from notifications.rendering import render, render_blocks
from registro.db import copy_rows


@dataclass(frozen=True)
class MessageKind:
    template: str
    to_office: bool  # True: the responsible official; False: the district
    label: str  # what the outbox pages call it


MESSAGES: dict[str, MessageKind] = {
    "procedure_started": MessageKind("mail/procedure_started.txt.j2", to_office=False, label="Avvio del procedimento"),
    "integration_request": MessageKind(
        "mail/integration_request.txt.j2", to_office=False, label="Richiesta di integrazione documentale"
    ),
    "integration_received": MessageKind(
        "mail/integration_received.txt.j2", to_office=True, label="Integrazioni ricevute"
    ),
    "rejection_notice": MessageKind("mail/rejection_notice.txt.j2", to_office=False, label="Preavviso di rigetto"),
    "observations_received": MessageKind(
        "mail/observations_received.txt.j2", to_office=True, label="Osservazioni ricevute"
    ),
    "decision": MessageKind("mail/decision.txt.j2", to_office=False, label="Esito del procedimento"),
    "withdrawn": MessageKind("mail/withdrawn.txt.j2", to_office=True, label="Domanda ritirata"),
    "expired": MessageKind("mail/expired.txt.j2", to_office=False, label="Riconoscimento scaduto"),
    "revoked": MessageKind("mail/revoked.txt.j2", to_office=False, label="Revoca del riconoscimento"),
    "report_filed": MessageKind("mail/report_filed.txt.j2", to_office=True, label="Relazione annuale presentata"),
    "report_returned": MessageKind(
        "mail/report_returned.txt.j2", to_office=False, label="Relazione annuale restituita"
    ),
    # reminders and escalations, queued by the scheduled sweeps (``tasks/reminders.py``)
    "integration_due": MessageKind(
        "mail/integration_due.txt.j2", to_office=False, label="Promemoria: scadenza delle integrazioni"
    ),
    "observations_due": MessageKind(
        "mail/observations_due.txt.j2", to_office=False, label="Promemoria: scadenza delle osservazioni"
    ),
    "term_lapsing": MessageKind(
        "mail/term_lapsing.txt.j2", to_office=True, label="Termine del procedimento in scadenza"
    ),
    "report_due": MessageKind("mail/report_due.txt.j2", to_office=False, label="Promemoria: relazione annuale"),
    "report_escalation": MessageKind(
        "mail/report_escalation.txt.j2", to_office=True, label="Relazione annuale non pervenuta"
    ),
    "validity_ending": MessageKind("mail/validity_ending.txt.j2", to_office=False, label="Riconoscimento in scadenza"),
}
CHUNK = 500


def recipients(session: Session, *, application: Application, to_office: bool, profile: RegionProfile) -> list[str]:
    if to_office:
        if application.responsible_official_id is not None:
            official = session.get(User, application.responsible_official_id)
            if official is not None:
                return [official.email]
        office = profile.office_of(application.section).code
        users = session.exec(
            select(User.email).where(User.role == Role.OFFICIAL, User.office == office, col(User.active))
        ).all()
        return sorted(set(users))
    district = session.get(District, application.district_id)
    emails = session.exec(
        select(User.email).where(User.district_id == application.district_id, User.role == Role.REPRESENTATIVE)
    ).all()
    found = ([district.pec_email] if district is not None and district.pec_email else []) + list(emails)
    return list(dict.fromkeys(e for e in found if e))


def queue_notifications(
    session: Session,
    *,
    application: Application,
    kinds: tuple[str, ...],
    audit: AuditEvent,
    profile: RegionProfile,
    now: datetime,
    report: AnnualReport | None = None,
) -> list[Notification]:
    queued: list[Notification] = []
    if not kinds:
        return queued
    district = session.get(District, application.district_id)
    context = {
        "application": application,
        "district": district,
        "audit": audit,
        "profile": profile,
        "report": report,
        "state_label": STATE_LABELS[audit.to_state],
        "office": profile.office_of(application.section),
    }
    for kind in kinds:
        to_office = MESSAGES[kind].to_office
        message = Pending(
            f"{kind}:app{application.id}:audit{audit.id}",
            kind,
            tuple(recipients(session, application=application, to_office=to_office, profile=profile)),
            application.id,
            context,
        )
        content: Content | None = None
        for recipient in message.recipients:
            key = message.key_for(recipient)
            if session.exec(select(Notification.id).where(Notification.idempotency_key == key)).first() is None:
                content = content or rendered(message)
                row = Notification(**_row(message, recipient, content, now))
                session.add(row)
                queued.append(row)
    return queued


@dataclass(frozen=True)
class Pending:
    """A message a sweep or an event wants sent to each of ``recipients``: rendered once, one outbox row
    per recipient, keyed ``{key}:{recipient}`` (subject, due date, step, recipient) so it goes once only."""

    key: str
    kind: str
    recipients: Sequence[str]
    application_id: int | None
    context: Mapping[str, object]

    def key_for(self, recipient: str) -> str:
        return f"{self.key}:{recipient}"


@dataclass(frozen=True)
class Content:
    subject: str
    body_text: str
    body_html: str


def queue_many(session: Session, *, messages: Sequence[Pending], now: datetime) -> int:
    """Set-based queuing: one query per chunk finds the keys already queued, one insert adds the rest.

    Renders only what is new, once per message whatever its recipients (a district's PEC and its
    representative read the same text), so a second run of the same sweep costs a few queries and
    queues 0.
    """
    queued = 0
    for start in range(0, len(messages), CHUNK):
        chunk = messages[start : start + CHUNK]
        keys = list({m.key_for(r) for m in chunk for r in m.recipients})
        existing = set(
            session.exec(select(Notification.idempotency_key).where(col(Notification.idempotency_key).in_(keys))).all()
        )
        rows: list[dict[str, object]] = []
        for message in chunk:
            content: Content | None = None
            for recipient in message.recipients:
                key = message.key_for(recipient)
                if key in existing:
                    continue
                existing.add(key)
                content = content or rendered(message)
                rows.append(_row(message, recipient, content, now))
        if rows:
            copy_rows(session, Notification.__table__, rows)  # type: ignore[attr-defined]
            queued += len(rows)
    return queued


def rendered(message: Pending) -> Content:
    subject, body = render_blocks(MESSAGES[message.kind].template, ("subject", "body"), **message.context)
    # one line: a name stored before the input rule (models.text) with a line break would make the
    # message unsendable (the sender refuses such a subject): the break becomes a space here
    subject = " ".join(subject.split())[:300]
    return Content(subject, body, render("mail/layout.html.j2", subject=subject, body=body))


def _row(message: Pending, recipient: str, content: Content, now: datetime) -> dict[str, Any]:
    return {
        "idempotency_key": message.key_for(recipient),
        "application_id": message.application_id,
        "kind": message.kind,
        "recipient": recipient,
        "subject": content.subject,
        "body_text": content.body_text,
        "body_html": content.body_html,
        "status": NotificationStatus.QUEUED,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def district_recipients(session: Session, district_ids: Iterable[int]) -> dict[int, list[str]]:
    """The PEC address and the representatives' e-mails of many districts, in two queries per chunk."""
    ids = sorted(set(district_ids))
    found: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for district_id, pec in session.exec(
            select(District.id, District.pec_email).where(col(District.id).in_(chunk))
        ):
            if pec:
                found[int(district_id)].append(pec)  # type: ignore[arg-type]
        for district_id, email in session.exec(
            select(User.district_id, User.email).where(
                col(User.district_id).in_(chunk), User.role == Role.REPRESENTATIVE, col(User.active)
            )
        ):
            found[int(district_id)].append(email)  # type: ignore[arg-type]
    return {i: list(dict.fromkeys(e for e in emails if e)) for i, emails in found.items()}


def office_recipients(session: Session, profile: RegionProfile) -> dict[str, list[str]]:
    """Every active official's e-mail by office code (one query)."""
    found: dict[str, list[str]] = {office.code: [] for office in profile.offices}
    for office, email in session.exec(
        select(User.office, User.email).where(User.role == Role.OFFICIAL, col(User.active)).order_by(col(User.email))
    ):
        if office in found and email:
            found[office].append(email)
    return found
