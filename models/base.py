"""Column types shared by the tables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, DateTime
from sqlalchemy import Enum as SAEnum
from sqlalchemy.types import TypeDecorator
from sqlmodel import Column, Field

ROME = ZoneInfo("Europe/Rome")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (``timestamp without time zone``), returns aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def ts_field(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def json_field(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


def local_date(moment: datetime) -> date:
    """The calendar day in Italy of an instant (terms run on Italian days)."""
    return moment.astimezone(ROME).date()


def enum_field(enum_cls: Any, default: Any = None, *, index: bool = False, nullable: bool = False) -> Any:
    """An enum stored as its value in a VARCHAR: readable in SQL, no native type to migrate."""
    column_type = SAEnum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )
    return Field(default=default, sa_column=Column(column_type, nullable=nullable, index=index))
