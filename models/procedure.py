"""Audit trail, clock suspension ledger, committee assignments and evaluations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel, UniqueConstraint

from models.base import enum_field, json_field, ts_field
from models.enums import Event, State, Subject


class AuditEvent(SQLModel, table=True):
    """Append-only: one row per transition, never updated.

    Hash-chained per application (``models.audit_chain``): ``prev_hash`` is the previous
    event's ``hash`` (zeros for the first), ``hash`` covers this event's fields and prev_hash.
    """

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    subject: Subject = enum_field(Subject, Subject.APPLICATION)
    application_id: int = Field(foreign_key="application.id", index=True)
    report_id: int | None = Field(default=None, foreign_key="annual_report.id")
    event: Event = enum_field(Event)
    from_state: State = enum_field(State)
    to_state: State = enum_field(State)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor_role: str = Field(max_length=32)
    at: datetime = ts_field(nullable=False, index=True)
    reason: str | None = Field(default=None, max_length=5000)
    flow_run_id: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = json_field()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class ClockSuspension(SQLModel, table=True):
    __tablename__ = "clock_suspension"
    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    reason: str = Field(max_length=64)
    legal_basis: str = Field(max_length=200)
    started_on: date
    ends_by: date
    ended_on: date | None = None


class CommitteeAssignment(SQLModel, table=True):
    __tablename__ = "committee_assignment"
    __table_args__ = (UniqueConstraint("application_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)


class Evaluation(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("application_id", "member_id", "round"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    member_id: int = Field(foreign_key="user.id")
    round: int = 1
    scores: dict[str, Any] = json_field()
    total: float
    remarks: str = Field(default="", max_length=5000)
    created_at: datetime = ts_field(nullable=False)
