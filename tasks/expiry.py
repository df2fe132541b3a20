"""Terms that end a file by themselves, run daily with ``as_of``:

- a registry entry past its validity, whose application is still simply active (no renewal filed in
  time: a pending renewal keeps it valid until decided), becomes expired;
- an application whose integration term passed without an answer is closed as inadmissible (the
  representative had the reminders of ``tasks/reminders.py`` before).

One query finds each set; each file then moves through ``models.service.apply_event`` (the only
owner of states) as the system user, one transaction per file, so the audit trail and the notices
are those of any other transition. A crash half-way leaves the rest for the next run: the query
no longer finds the files already moved, and their notices were written with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlmodel import Session, col, select

from models.application import Application
from models.enums import Event
from models.errors import DomainError
from models.lifecycle import sources_of
from models.people import system_user
from models.profiles import RegionProfile, load_profile
from models.registry import RegistryEntry
from notifications.outbox import apply_and_notify
from registro.db import session_scope
from registro.settings import get_settings
from tasks.reminders import sweep_moment


@dataclass
class ExpiryReport:
    as_of: date
    expired: list[int] = field(default_factory=list)  # application ids
    lapsed: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # the rules said no (e.g. moved meanwhile)


def due_to_expire(session: Session, as_of: date) -> list[int]:
    return [
        int(i)
        for i in session.exec(
            select(Application.id)
            .join(RegistryEntry, col(RegistryEntry.application_id) == col(Application.id))
            .where(col(Application.state).in_(sources_of(Event.EXPIRE)), col(RegistryEntry.valid_until) < as_of)
            .order_by(col(Application.id))
        ).all()
        if i is not None
    ]


def due_to_lapse(session: Session, as_of: date) -> list[int]:
    return [
        int(i)
        for i in session.exec(
            select(Application.id)
            .where(col(Application.state).in_(sources_of(Event.INTEGRATION_LAPSED)))
            .where(col(Application.integration_deadline) < as_of)
            .where(col(Application.pending_action_id).is_(None))
            .order_by(col(Application.id))
        ).all()
        if i is not None
    ]


def close_lapsed_terms(
    session: Session, *, profile: RegionProfile, as_of: date, flow_run_id: str | None = None
) -> ExpiryReport:
    report = ExpiryReport(as_of=as_of)
    now = sweep_moment(as_of)
    work = [(i, Event.EXPIRE, report.expired) for i in due_to_expire(session, as_of)]
    work += [(i, Event.INTEGRATION_LAPSED, report.lapsed) for i in due_to_lapse(session, as_of)]
    if not work:
        return report
    actor = system_user(session)
    session.commit()
    for application_id, event, done in work:
        application = session.get(Application, application_id)
        if application is None:
            continue
        try:
            apply_and_notify(
                session,
                application=application,
                event=event,
                actor=actor,
                profile=profile,
                now=now,
                reason="termine decorso",
                flow_run_id=flow_run_id,
            )
        except DomainError as refused:
            session.rollback()
            report.refused[application_id] = str(refused)
            continue
        done.append(application_id)
    return report


def run_expiry(as_of: date, flow_run_id: str | None = None) -> ExpiryReport:
    with session_scope() as session:
        return close_lapsed_terms(
            session, profile=load_profile(get_settings().profile), as_of=as_of, flow_run_id=flow_run_id
        )


@task(name="close-lapsed-terms", task_run_name="close-lapsed-terms-{as_of}", cache_policy=NO_CACHE, retries=2)
def expiry_task(as_of: date, flow_run_id: str | None = None) -> ExpiryReport:
    return run_expiry(as_of, flow_run_id)
