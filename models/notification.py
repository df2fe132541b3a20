"""Outbox: every mail is a row written with the event that causes it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import enum_field, ts_field
from models.enums import NotificationStatus


class Notification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    application_id: int | None = Field(default=None, foreign_key="application.id", index=True)
    kind: str = Field(max_length=64)
    recipient: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body_text: str
    body_html: str
    status: NotificationStatus = enum_field(NotificationStatus, NotificationStatus.QUEUED, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = ts_field(nullable=False)
    next_attempt_at: datetime | None = ts_field()
    sent_at: datetime | None = ts_field()
