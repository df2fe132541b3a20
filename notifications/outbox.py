"""The outbox: notices are rows written in the transaction of the event that causes them.

Each row has an idempotency key, so replaying an event or a sweep never queues a mail twice.
The delivery flow (``flows/delivery.py``) sends queued rows with aiosmtplib.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from models.application import Application
from models.district import District
from models.enums import Role
from models.lifecycle import STATE_LABELS
from models.notification import Notification
from models.people import User
from models.procedure import AuditEvent
from models.profiles import RegionProfile
from models.registry import AnnualReport
from notifications.rendering import render, render_block


@dataclass(frozen=True)
class MessageKind:
    template: str
    to_office: bool  # True: the responsible official; False: the district


MESSAGES: dict[str, MessageKind] = {
    "procedure_started": MessageKind("mail/procedure_started.txt.j2", to_office=False),
    "integration_request": MessageKind("mail/integration_request.txt.j2", to_office=False),
    "integration_received": MessageKind("mail/integration_received.txt.j2", to_office=True),
    "rejection_notice": MessageKind("mail/rejection_notice.txt.j2", to_office=False),
    "observations_received": MessageKind("mail/observations_received.txt.j2", to_office=True),
    "decision": MessageKind("mail/decision.txt.j2", to_office=False),
    "withdrawn": MessageKind("mail/withdrawn.txt.j2", to_office=True),
    "expired": MessageKind("mail/expired.txt.j2", to_office=False),
    "revoked": MessageKind("mail/revoked.txt.j2", to_office=False),
    "report_filed": MessageKind("mail/report_filed.txt.j2", to_office=True),
    "report_returned": MessageKind("mail/report_returned.txt.j2", to_office=False),
}


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
        message = MESSAGES[kind]
        for recipient in recipients(session, application=application, to_office=message.to_office, profile=profile):
            key = f"{kind}:app{application.id}:audit{audit.id}:{recipient}"
            queued.extend(
                _queue(
                    session,
                    key=key,
                    kind=kind,
                    recipient=recipient,
                    message=message,
                    now=now,
                    application_id=application.id,
                    context=context,
                )
            )
    return queued


def _queue(
    session: Session,
    *,
    key: str,
    kind: str,
    recipient: str,
    message: MessageKind,
    now: datetime,
    application_id: int | None,
    context: Mapping[str, object],
) -> list[Notification]:
    if session.exec(select(Notification.id).where(Notification.idempotency_key == key)).first() is not None:
        return []
    subject = render_block(message.template, "subject", **context)
    body = render_block(message.template, "body", **context)
    html = render("mail/layout.html.j2", subject=subject, body=body)
    row = Notification(
        idempotency_key=key,
        application_id=application_id,
        kind=kind,
        recipient=recipient,
        subject=subject[:300],
        body_text=body,
        body_html=html,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    return [row]
