"""Monitoring of procedure times (L. 241/1990): open, within and over term, per office, section and year.

A read over the clock of every started procedure (the year is that of the protocol date,
``Application.term_start``): one query for the applications, one for their suspensions. The day
of the reading is a parameter; nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple, TypeVar

from sqlmodel import Session, col, select

from models.application import Application
from models.clock import ClockReading, clock_of, suspensions_by_application
from models.profiles import RegionProfile

K = TypeVar("K", str, int)


@dataclass
class Tally:
    """Counts of procedures by clock status, and the days used by the closed ones."""

    open_within: int = 0  # "aperto"
    open_over: int = 0  # open, today past the deadline
    closed_within: int = 0  # "nei termini"
    closed_over: int = 0  # closed after the deadline
    closed_days_used: int = 0  # net of suspensions

    @property
    def closed(self) -> int:
        return self.closed_within + self.closed_over

    @property
    def total(self) -> int:
        return self.open_within + self.open_over + self.closed

    @property
    def average_days_used(self) -> float | None:
        return round(self.closed_days_used / self.closed, 1) if self.closed else None

    def count(self, reading: ClockReading, *, closed: bool) -> None:
        over = reading.status == "fuori termine"
        if not closed:
            self.open_over += int(over)
            self.open_within += int(not over)
            return
        self.closed_over += int(over)
        self.closed_within += int(not over)
        self.closed_days_used += reading.days_used

    def add(self, other: Tally) -> None:
        self.open_within += other.open_within
        self.open_over += other.open_over
        self.closed_within += other.closed_within
        self.closed_over += other.closed_over
        self.closed_days_used += other.closed_days_used


class TimesKey(NamedTuple):
    office: str
    section: int
    year: int


@dataclass(frozen=True)
class ProcedureTimes:
    as_of: date
    rows: dict[TimesKey, Tally]  # sorted by office, section, year

    def by_office(self) -> dict[str, Tally]:
        return _totals(self.rows.items(), lambda k: k.office)

    def by_section(self) -> dict[int, Tally]:
        return _totals(self.rows.items(), lambda k: k.section)

    def by_year(self) -> dict[int, Tally]:
        return _totals(self.rows.items(), lambda k: k.year)

    def total(self) -> Tally:
        total = Tally()
        for tally in self.rows.values():
            total.add(tally)
        return total


def _totals(rows: Iterable[tuple[TimesKey, Tally]], key: Callable[[TimesKey], K]) -> dict[K, Tally]:
    totals: dict[K, Tally] = {}
    for row_key, tally in rows:
        totals.setdefault(key(row_key), Tally()).add(tally)
    return dict(sorted(totals.items()))


def procedure_times(
    session: Session,
    *,
    profile: RegionProfile,
    today: date,
    sections: set[int] | None = None,
    year: int | None = None,
) -> ProcedureTimes:
    """Every started procedure in the profile's sections (or only in ``sections``; of ``year``), as of ``today``."""
    wanted = [s.number for s in profile.sections if sections is None or s.number in sections]
    query = select(Application).where(col(Application.term_start).is_not(None), col(Application.section).in_(wanted))
    if year is not None:
        query = query.where(
            col(Application.term_start) >= date(year, 1, 1), col(Application.term_start) < date(year + 1, 1, 1)
        )
    applications = session.exec(query).all()
    suspensions = suspensions_by_application(session, [a.id for a in applications if a.id is not None])
    rows: dict[TimesKey, Tally] = {}
    for application in applications:
        reading = clock_of(application, suspensions.get(application.id or 0, []), profile, today)
        assert reading is not None and application.term_start is not None
        key = TimesKey(profile.office_of(application.section).code, application.section, application.term_start.year)
        rows.setdefault(key, Tally()).count(reading, closed=application.closed_on is not None)
    return ProcedureTimes(as_of=today, rows=dict(sorted(rows.items())))
