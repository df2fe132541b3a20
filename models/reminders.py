"""When a reminder is due: pure rules over dates, no clock read, no query.

A reminder schedule is a list of *steps* (e.g. 30, 7 and 0 days before a due date, then every 7
days after it). On a given day the rule returns the latest step already reached — or None when
none is, or when the next step has come too — so a sweep that missed a day (server down) still
sends the step it missed, and the idempotency key (subject, due date, step) makes a second run of
the same day, or of the next day, send nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from models.profiles import ReportCycle


@dataclass(frozen=True)
class Step:
    code: str  # part of the idempotency key: "before-30", "due", "overdue-2", "escalation"
    days_to_due: int  # > 0 before the due date, 0 on the day, < 0 after it


def before_steps(due_on: date, offsets: list[int], today: date) -> Step | None:
    """The latest 'N days before' step reached by ``today`` (offsets in days before ``due_on``)."""
    reached = [n for n in sorted(set(offsets), reverse=True) if due_on - timedelta(days=n) <= today <= due_on]
    if not reached:
        return None
    last = reached[-1]
    return Step(code="due" if last == 0 else f"before-{last}", days_to_due=(due_on - today).days)


def report_step(opened_on: date, due_on: date, cycle: ReportCycle, today: date) -> Step | None:
    """Mails to the representative for a report not filed: opened, before, on the day, weekly after."""
    if today < opened_on:
        return None
    if today <= due_on:
        return before_steps(due_on, cycle.reminders_before_days, today) or Step("opened", (due_on - today).days)
    late = (today - due_on).days
    return Step(code=f"overdue-{late // cycle.overdue_every_days}", days_to_due=-late)


def report_escalation(due_on: date, cycle: ReportCycle, today: date) -> Step | None:
    """Once the report is overdue by the grace period, the official is told (once)."""
    late = (today - due_on).days
    if late < cycle.escalate_after_days:
        return None
    return Step(code="escalation", days_to_due=-late)


def report_year_window(cycle: ReportCycle, today: date) -> tuple[int, date, date] | None:
    """The report year open on ``today``: (year reported on, opening day, due day), or None before it opens.

    The report covers the previous calendar year; it opens on ``cycle.opens`` of the current year.
    """
    opens_on = _month_day(cycle.opens, today.year)
    if today < opens_on:
        return None
    return today.year - 1, opens_on, _month_day(cycle.due, today.year)


def _month_day(text: str, year: int) -> date:
    month, day = (int(part) for part in text.split("-"))
    return date(year, month, day)
