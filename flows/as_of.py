"""The reference date of a sweep run: today by default, never a day that has not come yet.

A sweep moves files by its ``as_of``: run by hand (or by anyone reaching the Prefect API) with a date
in the future it would expire every registry entry, close applications as inadmissible and write
audit events dated in the future. So a flow refuses an ``as_of`` later than the real date. The test
suite alone sets ``REGISTRO_ALLOW_FUTURE_AS_OF`` to drive the flows over simulated years; the
simulation command (``registro simulate``) does not run the flows but their plain functions, on a
database of its own.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from models.base import local_date
from registro.settings import get_settings

CLOCK_SKEW = timedelta(minutes=5)  # between the machine that schedules a run and the one that runs it


class FutureDateRefused(ValueError):
    """The sweep was asked to act as of a day that has not come yet."""


def sweep_day(as_of: date | None, *, now: datetime) -> date:
    today = local_date(now)
    if as_of is None:
        return today
    if as_of > today and not get_settings().allow_future_as_of:
        raise FutureDateRefused(
            f"data di riferimento {as_of:%d/%m/%Y} rifiutata: è successiva a oggi ({today:%d/%m/%Y}); "
            "una scansione agisce solo su giorni già arrivati"
        )
    return as_of


def sweep_moment(as_of: datetime | None, *, now: datetime) -> datetime:
    if as_of is None:
        return now
    if as_of > now + CLOCK_SKEW and not get_settings().allow_future_as_of:
        raise FutureDateRefused(
            f"istante di riferimento {as_of:%d/%m/%Y %H:%M} rifiutato: è successivo all'ora attuale; "
            "una scansione agisce solo su momenti già arrivati"
        )
    return as_of
