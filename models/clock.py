"""The procedure clock (L. 241/1990): terms, suspensions, holiday shift. Pure functions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays
from sqlmodel import Session, col, select

from models.application import Application
from models.procedure import ClockSuspension
from models.profiles import RegionProfile


@lru_cache(maxsize=64)
def _italian_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("IT", years=year)


def is_working_day(day: date) -> bool:
    return day.weekday() != 6 and day not in _italian_holidays(day.year)


def shift_to_working_day(day: date, enabled: bool = True) -> date:
    """A deadline on a Sunday or an Italian public holiday moves to the next working day."""
    while enabled and not is_working_day(day):
        day += timedelta(days=1)
    return day


def deadline_after(start: date, days: int, holiday_shift: bool = True) -> date:
    return shift_to_working_day(start + timedelta(days=days), holiday_shift)


def suspended_days(suspensions: Iterable[ClockSuspension], today: date) -> int:
    total = 0
    for s in suspensions:
        end = s.ended_on if s.ended_on is not None else max(today, s.started_on)
        total += max(0, (min(end, today) - s.started_on).days)
    return total


@dataclass(frozen=True)
class ClockReading:
    term_days: int
    started_on: date
    deadline: date
    days_used: int
    days_suspended: int
    days_left: int
    suspended_now: bool
    status: str  # "aperto" | "nei termini" | "fuori termine"


def read_clock(
    *,
    started_on: date,
    term_days: int,
    suspensions: list[ClockSuspension],
    today: date,
    closed_on: date | None = None,
    holiday_shift: bool = True,
) -> ClockReading:
    until = closed_on or today
    paused = suspended_days(suspensions, until)
    all_paused = sum(
        max(0, ((s.ended_on or s.ends_by) - s.started_on).days) for s in suspensions
    )  # planned suspension extends the deadline
    elapsed = max(0, (until - started_on).days)
    used = elapsed - paused
    deadline = deadline_after(started_on, term_days + all_paused, holiday_shift)
    suspended_now = any(s.started_on <= today and (s.ended_on is None or s.ended_on > today) for s in suspensions)
    if closed_on is None:
        status = "fuori termine" if today > deadline else "aperto"
    else:
        status = "nei termini" if closed_on <= deadline else "fuori termine"
    return ClockReading(
        term_days=term_days,
        started_on=started_on,
        deadline=deadline,
        days_used=used,
        days_suspended=paused,
        days_left=(deadline - until).days,
        suspended_now=suspended_now,
        status=status,
    )


def clock_of(
    application: Application, suspensions: Sequence[ClockSuspension], profile: RegionProfile, today: date
) -> ClockReading | None:
    if application.term_start is None:
        return None
    return read_clock(
        started_on=application.term_start,
        term_days=application.term_days or profile.procedure_term_days,
        suspensions=list(suspensions),
        today=today,
        closed_on=application.closed_on,
        holiday_shift=profile.holiday_shift,
    )


def suspensions_by_application(session: Session, ids: Sequence[int]) -> dict[int, list[ClockSuspension]]:
    grouped: dict[int, list[ClockSuspension]] = defaultdict(list)
    if ids:
        rows = session.exec(
            select(ClockSuspension)
            .where(col(ClockSuspension.application_id).in_(ids))
            .order_by(col(ClockSuspension.started_on), col(ClockSuspension.id))
        ).all()
        for row in rows:
            grouped[row.application_id].append(row)
    return grouped
