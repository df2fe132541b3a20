"""Monitoring of procedure times with explicit dates: open, within and over term, suspensions, restrictions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlmodel import Session

from models.enums import Event
from models.procedure_times import ProcedureTimes, Tally, TimesKey, procedure_times
from models.profiles import RegionProfile
from tests.factories import Factory, Journey

TODAY = date(2026, 3, 2)  # a Monday


def at(day: date) -> datetime:
    return datetime.combine(day, time(9, 30), tzinfo=UTC)


def procedure(factory: Factory, *, section: int, submitted: date, closed: date | None = None) -> Journey:
    """A procedure started on ``submitted`` (protocol date) and, if ``closed``, declared inadmissible that day."""
    j = Journey(factory, section=section)
    j.day = at(submitted)
    j.do(Event.SUBMIT, days_later=0)
    j.do(Event.START_REVIEW)
    if closed is not None:
        j.day = at(closed)
        j.do(Event.DECLARE_INADMISSIBLE, days_later=0, reason="requisiti non dimostrati")
    return j


@pytest.fixture
def procedures(factory: Factory) -> None:
    # ricerca (sections 1-5), term 30 days
    procedure(factory, section=1, submitted=date(2026, 2, 16))  # deadline 18/03/2026: open, within
    procedure(factory, section=1, submitted=date(2026, 1, 12))  # deadline 11/02/2026: open, over
    procedure(factory, section=2, submitted=date(2025, 11, 3), closed=date(2025, 11, 20))  # 17 days: within
    procedure(factory, section=1, submitted=date(2025, 10, 1), closed=date(2025, 11, 14))  # 44 days: over
    # deadline 18/02/2026 without the suspension; 25 days suspended: 16/03/2026 (15/03 is a Sunday)
    suspended = procedure(factory, section=3, submitted=date(2026, 1, 19))
    suspended.day = at(date(2026, 1, 26))
    suspended.do(Event.REQUEST_INTEGRATION, days_later=0, missing_items=["patto firmato"], deadline_days=30)
    suspended.day = at(date(2026, 2, 20))
    suspended.do(Event.ANSWER_INTEGRATION, days_later=0)
    # agricoltura (sections 6-7)
    procedure(factory, section=6, submitted=date(2026, 2, 23))  # open, within
    procedure(factory, section=7, submitted=date(2025, 12, 1), closed=date(2025, 12, 10))  # 9 days: within
    factory.application(factory.district(section=1))  # a draft: no protocol date, not counted


def figures(tally: Tally) -> tuple[int, int, int, int, float | None]:
    return tally.open_within, tally.open_over, tally.closed_within, tally.closed_over, tally.average_days_used


def read(session: Session, profile: RegionProfile, **kw: object) -> ProcedureTimes:
    times = procedure_times(session, profile=profile, today=kw.pop("today", TODAY), **kw)  # type: ignore[arg-type]
    return times


@pytest.mark.usefixtures("procedures")
def test_rows_per_office_section_and_year(session: Session, profile: RegionProfile) -> None:
    times = read(session, profile)
    assert times.as_of == TODAY
    assert {key: figures(t) for key, t in times.rows.items()} == {
        TimesKey("agricoltura", 6, 2026): (1, 0, 0, 0, None),
        TimesKey("agricoltura", 7, 2025): (0, 0, 1, 0, 9.0),
        TimesKey("ricerca", 1, 2025): (0, 0, 0, 1, 44.0),
        TimesKey("ricerca", 1, 2026): (1, 1, 0, 0, None),
        TimesKey("ricerca", 2, 2025): (0, 0, 1, 0, 17.0),
        TimesKey("ricerca", 3, 2026): (1, 0, 0, 0, None),
    }
    assert list(times.rows) == sorted(times.rows)


@pytest.mark.usefixtures("procedures")
def test_totals(session: Session, profile: RegionProfile) -> None:
    times = read(session, profile)
    assert {k: figures(t) for k, t in times.by_office().items()} == {
        "agricoltura": (1, 0, 1, 0, 9.0),
        "ricerca": (2, 1, 1, 1, 30.5),
    }
    assert {k: figures(t) for k, t in times.by_section().items()} == {
        1: (1, 1, 0, 1, 44.0),
        2: (0, 0, 1, 0, 17.0),
        3: (1, 0, 0, 0, None),
        6: (1, 0, 0, 0, None),
        7: (0, 0, 1, 0, 9.0),
    }
    assert {k: figures(t) for k, t in times.by_year().items()} == {2025: (0, 0, 2, 1, 23.3), 2026: (3, 1, 0, 0, None)}
    total = times.total()
    assert figures(total) == (3, 1, 2, 1, 23.3) and total.total == 7 and total.closed == 3


@pytest.mark.usefixtures("procedures")
def test_suspension_extends_the_deadline(session: Session, profile: RegionProfile) -> None:
    suspended = TimesKey("ricerca", 3, 2026)
    # 2 March: past the plain 30 days (18 February), within the term extended by 25 days of suspension
    assert figures(read(session, profile).rows[suspended]) == (1, 0, 0, 0, None)
    assert figures(read(session, profile, today=date(2026, 3, 16)).rows[suspended]) == (1, 0, 0, 0, None)
    assert figures(read(session, profile, today=date(2026, 3, 17)).rows[suspended]) == (0, 1, 0, 0, None)


@pytest.mark.usefixtures("procedures")
def test_the_reading_day_moves_open_procedures_over_term(session: Session, profile: RegionProfile) -> None:
    row = TimesKey("ricerca", 1, 2026)
    on_deadline = read(session, profile, today=date(2026, 3, 18))  # the deadline day itself is within term
    assert figures(on_deadline.rows[row]) == (1, 1, 0, 0, None)
    assert figures(read(session, profile, today=date(2026, 3, 19)).rows[row]) == (0, 2, 0, 0, None)
    late = read(session, profile, today=date(2026, 12, 31))
    assert figures(late.total()) == (0, 4, 2, 1, 23.3)  # closed ones keep their outcome


@pytest.mark.usefixtures("procedures")
def test_restricted_to_sections_and_year(session: Session, profile: RegionProfile) -> None:
    ricerca = read(session, profile, sections={1, 2, 3, 4, 5})
    assert set(ricerca.by_office()) == {"ricerca"} and ricerca.total().total == 5
    agricoltura = read(session, profile, sections={6, 7})
    assert {k.section for k in agricoltura.rows} == {6, 7} and agricoltura.total().total == 2
    only_2025 = read(session, profile, year=2025)
    assert set(only_2025.by_year()) == {2025} and figures(only_2025.total()) == (0, 0, 2, 1, 23.3)
    assert read(session, profile, sections={6}, year=2025).rows == {}
    assert read(session, profile, sections=set()).rows == {}
    assert read(session, profile, sections={99}).rows == {}  # not a section of the profile


def test_nothing_started(session: Session, profile: RegionProfile, factory: Factory) -> None:
    factory.application(factory.district(section=1))
    times = read(session, profile)
    assert times.rows == {} and times.by_office() == {} and figures(times.total()) == (0, 0, 0, 0, None)
