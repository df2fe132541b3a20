"""When reminders are due: explicit dates, missed days, the weekly overdue steps, the escalation."""

from __future__ import annotations

from datetime import date

from models.profiles import ReportCycle
from models.reminders import Step, before_steps, report_escalation, report_step, report_year_window

CYCLE = ReportCycle()  # opens 01-01, due 03-31, 30/7/0 days before, weekly after, escalation after 60
DUE = date(2027, 3, 31)
OPENED = date(2027, 1, 1)


def test_before_steps_pick_the_latest_reached() -> None:
    due = date(2029, 3, 7)
    offsets = [180, 90, 30]
    assert before_steps(due, offsets, date(2028, 9, 7)) is None  # 181 days before
    assert before_steps(due, offsets, date(2028, 9, 8)) == Step("before-180", 180)
    assert before_steps(due, offsets, date(2028, 12, 1)) == Step("before-180", 96)  # same step: same key
    assert before_steps(due, offsets, date(2028, 12, 7)) == Step("before-90", 90)
    assert before_steps(due, offsets, date(2029, 2, 5)) == Step("before-30", 30)
    assert before_steps(due, offsets, date(2029, 3, 8)) is None  # after the due date


def test_a_missed_day_still_sends_its_step() -> None:
    # the sweep did not run on 2028-12-07 (90 days before): the next day sends the 90-day step
    assert before_steps(date(2029, 3, 7), [180, 90, 30], date(2028, 12, 8)) == Step("before-90", 89)


def test_report_steps_through_the_cycle() -> None:
    assert report_step(OPENED, DUE, CYCLE, date(2026, 12, 31)) is None
    assert report_step(OPENED, DUE, CYCLE, date(2027, 1, 1)) == Step("opened", 89)
    assert report_step(OPENED, DUE, CYCLE, date(2027, 3, 1)) == Step("before-30", 30)
    assert report_step(OPENED, DUE, CYCLE, date(2027, 3, 24)) == Step("before-7", 7)
    assert report_step(OPENED, DUE, CYCLE, date(2027, 3, 31)) == Step("due", 0)
    assert report_step(OPENED, DUE, CYCLE, date(2027, 4, 1)) == Step("overdue-0", -1)
    assert report_step(OPENED, DUE, CYCLE, date(2027, 4, 7)) == Step("overdue-1", -7)
    assert report_step(OPENED, DUE, CYCLE, date(2027, 4, 13)) == Step("overdue-1", -13)
    assert report_step(OPENED, DUE, CYCLE, date(2027, 4, 14)) == Step("overdue-2", -14)


def test_escalation_after_the_grace_period_only() -> None:
    assert report_escalation(DUE, CYCLE, date(2027, 5, 29)) is None  # 59 days late
    assert report_escalation(DUE, CYCLE, date(2027, 5, 30)) == Step("escalation", -60)


def test_report_year_window_uses_the_profile_dates() -> None:
    assert report_year_window(CYCLE, date(2027, 2, 10)) == (2026, date(2027, 1, 1), date(2027, 3, 31))
    late = ReportCycle(opens="02-15", due="04-30")
    assert report_year_window(late, date(2027, 2, 14)) is None
    assert report_year_window(late, date(2027, 2, 15)) == (2026, date(2027, 2, 15), date(2027, 4, 30))
