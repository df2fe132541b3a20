"""Applications, their documents, protocol entries and queued stage actions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel, UniqueConstraint

from models.base import enum_field, json_field, ts_field
from models.enums import ActionStatus, ApplicationKind, DocumentKind, Event, ProtocolDirection, State
from models.text import MultiLine


class ApplicationBase(SQLModel):
    programme_summary: str = Field(default="", max_length=20000)
    specificity: str = Field(default="", max_length=20000)


class Application(ApplicationBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    kind: ApplicationKind = enum_field(ApplicationKind, ApplicationKind.RECOGNITION)
    section: int = Field(index=True)
    state: State = enum_field(State, State.DRAFT, index=True)
    version: int = 0
    renewal_of_id: int | None = Field(default=None, foreign_key="application.id")
    responsible_official_id: int | None = Field(default=None, foreign_key="user.id")
    protocol_id: int | None = None  # inbound protocol of the submission (protocol_entry.id)
    pending_action_id: int | None = None
    # procedure clock: term starts on the protocol date; suspensions live in the ledger
    term_days: int | None = None
    term_start: date | None = None
    closed_on: date | None = None
    integration_deadline: date | None = None
    observations_deadline: date | None = None
    committee_outcome: str | None = Field(default=None, max_length=16)
    observation_rounds: int = 0  # rejection notices answered with observations: next scoring round
    audit_head: str | None = Field(default=None, max_length=64)  # hash of the last audit event (audit_chain)
    # one timestamp per stage: time-in-stage reports are plain SQL
    created_at: datetime = ts_field(nullable=False)
    updated_at: datetime = ts_field(nullable=False)
    submitted_at: datetime | None = ts_field()
    review_started_at: datetime | None = ts_field()
    integration_requested_at: datetime | None = ts_field()
    completed_at: datetime | None = ts_field()
    rejection_notice_at: datetime | None = ts_field()
    decided_at: datetime | None = ts_field()
    activated_at: datetime | None = ts_field()
    closed_at: datetime | None = ts_field()


class ApplicationCreate(ApplicationBase):
    kind: ApplicationKind = ApplicationKind.RECOGNITION


class ApplicationUpdate(SQLModel):
    programme_summary: MultiLine | None = Field(default=None, max_length=20000)
    specificity: MultiLine | None = Field(default=None, max_length=20000)


class ProtocolEntry(SQLModel, table=True):
    """DPR 445/2000 art. 53: number, date, sender/recipient, subject, document fingerprint."""

    __tablename__ = "protocol_entry"
    __table_args__ = (UniqueConstraint("year", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    year: int
    number: int
    registered_on: date
    registered_at: datetime = ts_field(nullable=False)
    direction: ProtocolDirection = enum_field(ProtocolDirection)
    correspondent: str = Field(max_length=300)
    subject: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    application_id: int | None = Field(default=None, foreign_key="application.id", index=True)

    @property
    def label(self) -> str:
        return f"{self.year}/{self.number:06d}"


class Document(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    kind: DocumentKind = enum_field(DocumentKind)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64, index=True)
    protocol_id: int | None = Field(default=None, foreign_key="protocol_entry.id")
    annual_report_id: int | None = Field(default=None, foreign_key="annual_report.id", index=True)
    uploaded_by_id: int | None = Field(default=None, foreign_key="user.id")
    uploaded_at: datetime = ts_field(nullable=False)


class StageAction(SQLModel, table=True):
    """An accepted request for a lifecycle event, carried out by its stage flow.

    The API writes it (fast) and starts the flow; the flow applies the event. A queued
    action survives a crash and is dispatched again, so no accepted request is lost.
    """

    __tablename__ = "stage_action"
    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    event: Event = enum_field(Event)
    actor_id: int = Field(foreign_key="user.id")
    payload: dict[str, Any] = json_field()
    status: ActionStatus = enum_field(ActionStatus, ActionStatus.QUEUED, index=True)
    error: str | None = Field(default=None, max_length=2000)
    flow_run_id: str | None = Field(default=None, max_length=64)
    requested_at: datetime = ts_field(nullable=False)
    finished_at: datetime | None = ts_field()
    # the HTML of the stage's document, between the commit of its event and the commit of the laid-out
    # PDF (tasks.documents): set, the event is applied and the action, still queued, owes only the document
    document_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
