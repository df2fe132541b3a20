"""The daily reminders: set-based, one pass per kind of deadline, idempotent by key.

- integration answers due (representative), before the integration deadline;
- observations on a notice of intended rejection due (representative);
- procedure terms about to lapse or lapsed (the responsible official, else the office);
- validity of a recognition ending in 180/90/30 days (representative; offsets from the profile).

Annual-report reminders belong to the report cycle (``tasks/report_cycle.py``). Each pass is one
query for the candidates plus the outbox's two queries per chunk; ``as_of`` is the day the sweep
stands for. The idempotency key is (kind, subject, due date, step, recipient): a second run of
the same day queues nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlmodel import Session, col, select

from models.application import Application
from models.base import ROME
from models.clock import clock_of, suspensions_by_application
from models.district import District
from models.enums import State
from models.labels import STATE_LABELS
from models.lifecycle import OPEN_STATES
from models.people import User
from models.profiles import RegionProfile, load_profile
from models.registry import RegistryEntry
from models.reminders import Step, before_steps
from notifications.outbox import Pending, district_recipients, office_recipients, queue_many
from registro.db import session_scope
from registro.settings import get_settings


@dataclass
class ReminderReport:
    as_of: date
    queued: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.queued.values())


def sweep_moment(as_of: date) -> datetime:
    """The instant a sweep for the day ``as_of`` stands for: 06:00 in Rome (the cron time)."""
    return datetime.combine(as_of, time(6, 0), tzinfo=ROME).astimezone(UTC)


def queue_daily_reminders(session: Session, *, profile: RegionProfile, as_of: date) -> ReminderReport:
    report = ReminderReport(as_of=as_of)
    now = sweep_moment(as_of)
    for kind, collect in PASSES.items():
        messages = collect(session, profile, as_of)
        report.queued[kind] = queue_many(session, messages=messages, now=now)
        if report.queued[kind]:
            session.commit()  # each pass on its own: a crash later keeps what is queued, keys stop repeats
    return report


def _answers_due(session: Session, profile: RegionProfile, as_of: date) -> list[Pending]:
    """Integration answers and observations due soon, in one query."""
    rows = session.exec(
        select(Application, District)
        .join(District, col(District.id) == col(Application.district_id))
        .where(col(Application.state).in_([State.INTEGRATION_REQUESTED, State.REJECTION_NOTICE]))
    ).all()
    offsets = [*profile.answer_reminders_days, 0]
    plan: list[tuple[Application, District, str, date, Step]] = []
    for application, district in rows:
        kind, due_on = (
            ("integration_due", application.integration_deadline)
            if application.state == State.INTEGRATION_REQUESTED
            else ("observations_due", application.observations_deadline)
        )
        if due_on is not None and (step := before_steps(due_on, offsets, as_of)):
            plan.append((application, district, kind, due_on, step))
    to = district_recipients(session, [d.id for _, d, *_ in plan if d.id is not None])
    return [
        Pending(
            key=f"{kind}:app{app.id}:{due_on}:{step.code}",
            kind=kind,
            recipients=to.get(district.id or 0, []),
            application_id=app.id,
            context={"application": app, "district": district, "due_on": due_on, "step": step, "profile": profile},
        )
        for app, district, kind, due_on, step in plan
    ]


def _terms_lapsing(session: Session, profile: RegionProfile, as_of: date) -> list[Pending]:
    """Open procedures whose term (suspensions counted) ends within the warning days, or has passed."""
    rows = session.exec(
        select(Application, District)
        .join(District, col(District.id) == col(Application.district_id))
        .where(col(Application.state).in_(OPEN_STATES), col(Application.term_start).is_not(None))
    ).all()
    if not rows:
        return []
    ledger = suspensions_by_application(session, [a.id for a, _ in rows if a.id is not None])
    officials = _responsible_officials(session, [a for a, _ in rows])
    offices = office_recipients(session, profile)
    messages: list[Pending] = []
    for application, district in rows:
        clock = clock_of(application, ledger.get(application.id or 0, []), profile, as_of)
        if clock is None or clock.suspended_now:
            continue
        step = (
            Step("over", (clock.deadline - as_of).days)
            if as_of > clock.deadline
            else before_steps(clock.deadline, [*profile.term_warning_days, 0], as_of)
        )
        if step is None:
            continue
        official = officials.get(application.responsible_official_id or 0)
        recipients = [official] if official else offices.get(profile.office_of(application.section).code, [])
        context = {
            "application": application,
            "district": district,
            "due_on": clock.deadline,
            "step": step,
            "clock": clock,
            "state_label": STATE_LABELS[application.state],
            "profile": profile,
        }
        messages.append(
            Pending(
                f"term_lapsing:app{application.id}:{clock.deadline}:{step.code}",
                "term_lapsing",
                recipients,
                application.id,
                context,
            )
        )
    return messages


def _validity_ending(session: Session, profile: RegionProfile, as_of: date) -> list[Pending]:
    """Active entries (no renewal pending) whose validity ends within the longest reminder offset."""
    horizon = date.fromordinal(as_of.toordinal() + max(profile.renewal_reminders_days, default=0))
    rows = session.exec(
        select(RegistryEntry, Application, District)
        .join(Application, col(Application.id) == col(RegistryEntry.application_id))
        .join(District, col(District.id) == col(RegistryEntry.district_id))
        .where(
            Application.state == State.ACTIVE,
            col(RegistryEntry.valid_until).is_not(None),
            col(RegistryEntry.valid_until) >= as_of,
            col(RegistryEntry.valid_until) <= horizon,
        )
    ).all()
    plan = [
        (entry, app, district, step)
        for entry, app, district in rows
        if entry.valid_until is not None
        and (step := before_steps(entry.valid_until, profile.renewal_reminders_days, as_of))
    ]
    to = district_recipients(session, [d.id for *_, d, _ in plan if d.id is not None])
    return [
        Pending(
            key=f"validity_ending:entry{entry.id}:{entry.valid_until}:{step.code}",
            kind="validity_ending",
            recipients=to.get(district.id or 0, []),
            application_id=app.id,
            context={
                "application": app,
                "district": district,
                "due_on": entry.valid_until,
                "step": step,
                "profile": profile,
            },
        )
        for entry, app, district, step in plan
    ]


def _responsible_officials(session: Session, applications: list[Application]) -> dict[int, str]:
    ids = {a.responsible_official_id for a in applications if a.responsible_official_id is not None}
    if not ids:
        return {}
    rows = session.exec(select(User.id, User.email).where(col(User.id).in_(ids), col(User.active))).all()
    return {int(user_id): email for user_id, email in rows if user_id is not None and email}


PASSES: dict[str, Callable[[Session, RegionProfile, date], list[Pending]]] = {
    "answers_due": _answers_due,
    "terms_lapsing": _terms_lapsing,
    "validity_ending": _validity_ending,
}


def run_daily_reminders(as_of: date) -> ReminderReport:
    with session_scope() as session:
        return queue_daily_reminders(session, profile=load_profile(get_settings().profile), as_of=as_of)


@task(name="queue-daily-reminders", task_run_name="queue-daily-reminders-{as_of}", cache_policy=NO_CACHE, retries=2)
def daily_reminders_task(as_of: date) -> dict[str, Any]:
    report = run_daily_reminders(as_of)
    return {"as_of": str(report.as_of), "queued": report.queued, "total": report.total}
