"""The annual-report cycle (Relazione Annuale), run daily with ``as_of``.

1. From the profile's opening day (default 1 January) every registry entry that was active in the
   year before gets that year's report, open and due on the profile's due day (default 31 March):
   one query finds the entries still without one, bulk inserts in chunks add them. The unique
   (entry, year) constraint makes a second run — or two at once — open nothing twice.
2. Every report still open (not filed, or returned with remarks) gets the mail of the step reached
   today: opened, 30 and 7 days before, on the day, weekly while overdue; once it is overdue by the
   grace period (default 60 days) the official is told, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.application import Application
from models.district import District
from models.enums import ApplicationKind, State
from models.profiles import RegionProfile, load_profile
from models.registry import AnnualReport, RegistryEntry
from models.reminders import report_escalation, report_step, report_year_window
from notifications.outbox import Pending, district_recipients, office_recipients, queue_many
from registro.db import copy_rows, session_scope
from registro.settings import get_settings
from tasks.reminders import sweep_moment

CHUNK = 1000
REPORTING_STATES = (State.ACTIVE, State.RENEWAL_REQUESTED)  # the entry's current application


@dataclass
class ReportCycleReport:
    as_of: date
    year: int | None = None
    opened: int = 0
    reminders: int = 0
    escalations: int = 0


def open_reports(session: Session, *, profile: RegionProfile, as_of: date) -> tuple[int | None, int]:
    """Opens the year's report for every entry active in that year that has none: (year, how many)."""
    window = report_year_window(profile.report, as_of)
    if window is None:
        return None, 0
    year, _opens_on, due_on = window
    already = select(AnnualReport.registry_entry_id).where(AnnualReport.year == year)
    candidates = session.exec(
        select(RegistryEntry.id, RegistryEntry.application_id)
        .join(Application, col(Application.id) == col(RegistryEntry.application_id))
        .where(
            col(Application.state).in_(REPORTING_STATES),
            Application.kind != ApplicationKind.CENSUS,
            col(RegistryEntry.registered_on) <= date(year, 12, 31),
            col(RegistryEntry.id).not_in(already),
        )
        .order_by(col(RegistryEntry.id))
    ).all()
    for start in range(0, len(candidates), CHUNK):
        rows: list[dict[str, object]] = [
            {
                "registry_entry_id": entry_id,
                "application_id": application_id,
                "year": year,
                "state": State.REPORT_OPEN,
                "opened_on": as_of,  # the opening day, or the day a late entry was found
                "due_on": due_on,
                "content": {},
                "remarks": "",
            }
            for entry_id, application_id in candidates[start : start + CHUNK]
        ]
        copy_rows(session, AnnualReport.__table__, rows)  # type: ignore[attr-defined]
        session.commit()
    return year, len(candidates)


@dataclass(frozen=True)
class OpenReport:
    """What the mails of one open report need: plain columns, not ORM objects (10,000 of them a day)."""

    id: int
    year: int
    opened_on: date
    due_on: date
    application_id: int
    section: int
    district_id: int
    district_name: str

    @property
    def context(self) -> dict[str, Any]:
        return {
            "report": self,
            "application": SimpleNamespace(id=self.application_id, section=self.section),
            "district": SimpleNamespace(id=self.district_id, name=self.district_name),
            "due_on": self.due_on,
        }


def open_report_rows(session: Session) -> list[OpenReport]:
    rows = session.execute(
        sa_select(
            col(AnnualReport.id),
            col(AnnualReport.year),
            col(AnnualReport.opened_on),
            col(AnnualReport.due_on),
            col(Application.id),
            col(Application.section),
            col(District.id),
            col(District.name),
        )
        .join(Application, col(Application.id) == col(AnnualReport.application_id))
        .join(District, col(District.id) == col(Application.district_id))
        .where(col(AnnualReport.state) == State.REPORT_OPEN, col(Application.state).in_(REPORTING_STATES))
        .order_by(col(AnnualReport.id))
    ).all()
    return [OpenReport(*row) for row in rows]


def report_mails(session: Session, *, profile: RegionProfile, as_of: date) -> tuple[int, int]:
    """Reminders to the representatives and escalations to the officials: (reminders, escalations)."""
    cycle = profile.report
    reminders: list[Pending] = []
    escalations: list[Pending] = []
    due = [(r, report_step(r.opened_on, r.due_on, cycle, as_of), report_escalation(r.due_on, cycle, as_of))
           for r in open_report_rows(session)]  # fmt: skip
    due = [(r, step, late) for r, step, late in due if step or late]
    if not due:
        return 0, 0
    to_district = district_recipients(session, [r.district_id for r, *_ in due])
    to_office = office_recipients(session, profile)
    for r, step, late in due:
        context = {**r.context, "profile": profile}
        if step:
            reminders.append(
                Pending(
                    f"report_due:report{r.id}:{r.due_on}:{step.code}",
                    "report_due",
                    to_district.get(r.district_id, []),
                    r.application_id,
                    {**context, "step": step},
                )
            )
        if late:
            escalations.append(
                Pending(
                    f"report_escalation:report{r.id}:{r.due_on}",
                    "report_escalation",
                    to_office.get(profile.office_of(r.section).code, []),
                    r.application_id,
                    {**context, "step": late},
                )
            )
    now = sweep_moment(as_of)
    sent = queue_many(session, messages=reminders, now=now), queue_many(session, messages=escalations, now=now)
    session.commit()
    return sent


def run_report_cycle(as_of: date) -> ReportCycleReport:
    profile = load_profile(get_settings().profile)
    with session_scope() as session:
        year, opened = open_reports(session, profile=profile, as_of=as_of)
        reminders, escalations = report_mails(session, profile=profile, as_of=as_of)
    return ReportCycleReport(as_of=as_of, year=year, opened=opened, reminders=reminders, escalations=escalations)


@task(name="annual-report-cycle", task_run_name="annual-report-cycle-{as_of}", cache_policy=NO_CACHE, retries=2)
def report_cycle_task(as_of: date) -> ReportCycleReport:
    return run_report_cycle(as_of)
