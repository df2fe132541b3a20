"""Numbers and dates as Italian writes them, through Babel (locale ``it_IT``): one place for every page,
mail, letter and message.

    number(1234567.456) == "1.234.567,46"   number(40.0) == "40"   euro(1234.5) == "1.234,50"
    day(date(2027, 1, 4)) == "04/01/2027"   moment(<09:30 UTC, 4 January>) == "04/01/2027 10:30"
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from models.base import ROME

LOCALE = "it_IT"


def number(value: float | int, *, decimals: int = 2) -> str:
    """Thousands with «.», decimal comma, at most ``decimals`` digits after it (none when whole)."""
    pattern = "#,##0" + ("." + "#" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=LOCALE)


def fixed(value: float | int, *, decimals: int = 2) -> str:
    """Always ``decimals`` digits after the comma: 66.666 → «66,67», 1234.5 → «1.234,50»."""
    return format_decimal(value, format="#,##0." + "0" * decimals, locale=LOCALE)


def euro(value: float | int) -> str:
    return fixed(value, decimals=2)


def day(value: date) -> str:
    return format_date(value, "dd/MM/yyyy", locale=LOCALE)


def moment(value: datetime) -> str:
    """A point in time in Rome's clock."""
    return format_datetime(value, "dd/MM/yyyy HH:mm", tzinfo=ROME, locale=LOCALE)
