"""Recognition acts, public registry entries and annual reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, Session, SQLModel, UniqueConstraint, col, select

from models.base import enum_field, json_field, ts_field
from models.enums import DocumentKind, State


class RecognitionAct(SQLModel, table=True):
    """A numbered act of the head of office: one yearly series for every kind (``kind``); a recognition
    or renewal act's validity is the entry's, a revocation act's the validity it ended."""

    __tablename__ = "recognition_act"
    __table_args__ = (UniqueConstraint("year", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    kind: DocumentKind = enum_field(DocumentKind, DocumentKind.RECOGNITION_ACT)
    act_type: str = Field(max_length=100)
    year: int
    number: int
    issued_on: date
    section: int
    valid_from: date
    valid_until: date
    document_id: int | None = Field(default=None, foreign_key="document.id")
    publication_ref: str = Field(default="", max_length=200)
    signed_by_id: int | None = Field(default=None, foreign_key="user.id")

    @property
    def label(self) -> str:
        return f"n. {self.number}/{self.year}"


def latest_act(session: Session, application_id: int | None, kind: DocumentKind | None = None) -> RecognitionAct | None:
    """The application's most recent numbered act (of ``kind``, or of any kind)."""
    query = select(RecognitionAct).where(RecognitionAct.application_id == application_id)
    if kind is not None:
        query = query.where(RecognitionAct.kind == kind)
    return session.exec(query.order_by(col(RecognitionAct.id).desc())).first()


class RegistryEntry(SQLModel, table=True):
    """The public entry of a district; its status is the state of its current application."""

    __tablename__ = "registry_entry"
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", unique=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    section: int = Field(index=True)
    act_id: int | None = Field(default=None, foreign_key="recognition_act.id")
    registered_on: date
    valid_from: date
    valid_until: date | None = Field(default=None, index=True)
    enterprises: int = 0
    employees: int = 0


class AnnualReport(SQLModel, table=True):
    __tablename__ = "annual_report"
    __table_args__ = (UniqueConstraint("registry_entry_id", "year"),)
    id: int | None = Field(default=None, primary_key=True)
    registry_entry_id: int = Field(foreign_key="registry_entry.id", index=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    year: int
    state: State = enum_field(State, State.REPORT_OPEN, index=True)
    opened_on: date
    due_on: date
    filed_at: datetime | None = ts_field()
    reviewed_at: datetime | None = ts_field()
    content: dict[str, Any] = json_field()
    remarks: str = Field(default="", max_length=5000)
