"""One simulated day of the scheduled sweeps, in the order the cron runs them (06:00, 06:10, 06:20).

The same plain functions the Prefect tasks of ``flows/sweeps.py`` call, on one session: the
simulation command and the whole-life tests advance ``as_of`` through the years with this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from models.profiles import RegionProfile
from tasks.expiry import ExpiryReport, close_lapsed_terms
from tasks.reminders import ReminderReport, queue_daily_reminders
from tasks.report_cycle import open_reports, report_mails


@dataclass
class DayOfSweeps:
    as_of: date
    expiry: ExpiryReport
    reports_opened: int
    report_reminders: int
    report_escalations: int
    reminders: ReminderReport

    @property
    def mails_queued(self) -> int:
        return self.report_reminders + self.report_escalations + self.reminders.total


def sweep_day(session: Session, *, profile: RegionProfile, as_of: date) -> DayOfSweeps:
    expiry = close_lapsed_terms(session, profile=profile, as_of=as_of)
    _, opened = open_reports(session, profile=profile, as_of=as_of)
    reminders, escalations = report_mails(session, profile=profile, as_of=as_of)
    daily = queue_daily_reminders(session, profile=profile, as_of=as_of)
    return DayOfSweeps(as_of, expiry, opened, reminders, escalations, daily)
