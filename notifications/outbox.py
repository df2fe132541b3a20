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
from models.lifecycle import find_transition
from models.notices import NOTICES, Notice
from models.notification import Notification
from models.people import User
from models.procedure import AuditEvent
from models.profiles import RegionProfile
from models.registry import AnnualReport
from models.service import apply_event
from notifications.rendering import render, render_blocks
from registro.db import copy_rows

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


def apply_and_notify(
    session: Session,
    *,
    application: Application,
    profile: RegionProfile,
    now: datetime,
    report: AnnualReport | None = None,
    commit: bool = True,
    **event: Any,
) -> AuditEvent:
    """``models.service.apply_event`` and, in its transaction, the notices its row declares."""
    audit = apply_event(
        session, application=application, profile=profile, now=now, report=report, commit=False, **event
    )
    transition = find_transition(audit.from_state, audit.event, application.kind)
    assert transition is not None  # it was just applied
    queue_notifications(
        session,
        application=application,
        notices=transition.notify,
        audit=audit,
        profile=profile,
        now=now,
        report=report,
    )
    if commit:
        session.commit()
    return audit


def queue_notifications(
    session: Session,
    *,
    application: Application,
    notices: tuple[Notice, ...],
    audit: AuditEvent,
    profile: RegionProfile,
    now: datetime,
    report: AnnualReport | None = None,
) -> list[Notification]:
    """The notices of an applied event, one outbox row per recipient, in the event's transaction."""
    queued: list[Notification] = []
    if not notices:
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
    for notice in notices:
        message = Pending(
            f"{notice.kind}:app{application.id}:audit{audit.id}",
            notice.kind,
            tuple(recipients(session, application=application, to_office=notice.to_office, profile=profile)),
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
    subject, body = render_blocks(NOTICES[message.kind].template, ("subject", "body"), **message.context)
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
