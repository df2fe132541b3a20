"""The procedure clock with explicit dates: Sundays, Italian holidays, suspensions."""

from __future__ import annotations

from datetime import date

import pytest

from models.clock import deadline_after, is_working_day, read_clock, shift_to_working_day
from models.procedure import ClockSuspension


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 22), date(2026, 11, 23)),  # Sunday
        (date(2026, 12, 25), date(2026, 12, 28)),  # Christmas, Santo Stefano, Sunday
        (date(2027, 3, 29), date(2027, 3, 30)),  # Easter Monday 2027
        (date(2026, 8, 15), date(2026, 8, 17)),  # Ferragosto (Saturday) then Sunday
        (date(2026, 6, 2), date(2026, 6, 3)),  # Festa della Repubblica
        (date(2026, 11, 21), date(2026, 11, 21)),  # Saturday is a working day for terms
    ],
)
def test_shift_to_working_day(day: date, expected: date) -> None:
    assert shift_to_working_day(day) == expected


def test_shift_can_be_switched_off() -> None:
    assert shift_to_working_day(date(2026, 12, 25), enabled=False) == date(2026, 12, 25)
    assert not is_working_day(date(2027, 1, 6))  # Epifania


def test_thirty_day_term_from_protocol_date() -> None:
    assert deadline_after(date(2026, 11, 25), 30) == date(2026, 12, 28)  # 25/12 → moved past holidays


def _suspension(start: date, ends_by: date, ended: date | None) -> ClockSuspension:
    return ClockSuspension(
        application_id=1,
        reason="integrazione documentale",
        legal_basis="art. 2 c. 7",
        started_on=start,
        ends_by=ends_by,
        ended_on=ended,
    )


def test_clock_open_with_closed_suspension() -> None:
    reading = read_clock(
        started_on=date(2026, 3, 2),
        term_days=30,
        suspensions=[_suspension(date(2026, 3, 10), date(2026, 4, 9), date(2026, 3, 20))],
        today=date(2026, 3, 25),
    )
    assert reading.days_suspended == 10
    assert reading.days_used == 23 - 10
    assert reading.deadline == date(2026, 4, 11)  # 2 March + 30 + 10 days: a Saturday, a working day
    assert reading.status == "aperto" and not reading.suspended_now


def test_clock_suspended_now_and_over_term() -> None:
    open_one = _suspension(date(2026, 3, 10), date(2026, 4, 9), None)
    reading = read_clock(started_on=date(2026, 3, 2), term_days=30, suspensions=[open_one], today=date(2026, 3, 15))
    assert reading.suspended_now and reading.days_suspended == 5
    closed = read_clock(
        started_on=date(2026, 1, 5), term_days=30, suspensions=[], today=date(2026, 3, 1), closed_on=date(2026, 2, 20)
    )
    assert closed.status == "fuori termine"
    within = read_clock(
        started_on=date(2026, 1, 5), term_days=30, suspensions=[], today=date(2026, 3, 1), closed_on=date(2026, 1, 30)
    )
    assert within.status == "nei termini"
