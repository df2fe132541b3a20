"""Numbers and dates as Italian writes them (Babel, it_IT)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from models.enums import ApplicationKind
from models.italian import day, euro, fixed, moment, number
from models.labels import KIND_LABELS, kind_phrase


def test_numbers_use_the_decimal_comma_and_the_thousands_point() -> None:
    assert number(1234567.456) == "1.234.567,46" and number(40.0) == "40" and number(38.5) == "38,5"
    assert number(12.25, decimals=1) == "12,2" and number(1_000_000) == "1.000.000"
    assert fixed(66.666) == "66,67" and euro(1234.5) == "1.234,50"


def test_dates_are_day_month_year_and_times_in_rome() -> None:
    assert day(date(2027, 1, 4)) == "04/01/2027"
    assert moment(datetime(2027, 1, 4, 9, 30, tzinfo=UTC)) == "04/01/2027 10:30"  # CET
    assert moment(datetime(2027, 7, 4, 9, 30, tzinfo=UTC)) == "04/07/2027 11:30"  # CEST


def test_a_kind_within_a_sentence_starts_lower_case() -> None:
    assert kind_phrase(ApplicationKind.RENEWAL) == "rinnovo del riconoscimento"
    assert set(KIND_LABELS) == set(ApplicationKind)
