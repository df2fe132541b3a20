"""The protocol register (DPR 445/2000 art. 53): one number per year per act, in or out."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, text
from sqlmodel import Session, select

from models.application import ProtocolEntry
from models.base import local_date
from models.enums import ProtocolDirection


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def register_protocol(
    session: Session,
    *,
    direction: ProtocolDirection,
    correspondent: str,
    subject: str,
    sha256: str,
    application_id: int | None,
    now: datetime,
) -> ProtocolEntry:
    """Adds the next number of the year. The (year, number) unique key makes a race fail loudly."""
    day = local_date(now)
    # serialise numbering within the year
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 445_000_000 + day.year})
    last = session.exec(select(func.max(ProtocolEntry.number)).where(ProtocolEntry.year == day.year)).one()
    entry = ProtocolEntry(
        year=day.year,
        number=(last or 0) + 1,
        registered_on=day,
        registered_at=now,
        direction=direction,
        correspondent=correspondent[:300],
        subject=subject[:500],
        sha256=sha256,
        application_id=application_id,
    )
    session.add(entry)
    session.flush()
    return entry
