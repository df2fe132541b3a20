"""Users with roles, and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from models.base import enum_field, ts_field
from models.enums import Role
from models.text import EmailAddress, OptionalSingleLine, SingleLine


class UserBase(SQLModel):
    username: str = Field(min_length=3, max_length=64, index=True, unique=True)
    full_name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254)
    role: Role = enum_field(Role)
    office: str | None = Field(default=None, max_length=64)
    district_id: int | None = Field(default=None, foreign_key="district.id")


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str
    active: bool = True
    created_at: datetime = ts_field(nullable=False)


class UserCreate(UserBase):
    """The user as the administrator types it: single-line texts, a well-formed address (``models.text``)."""

    username: SingleLine = Field(min_length=3, max_length=64)
    full_name: SingleLine = Field(min_length=1, max_length=200)
    email: EmailAddress = Field(max_length=254)
    office: OptionalSingleLine = Field(default=None, max_length=64)
    password: str = Field(min_length=10, max_length=200)


class UserRead(UserBase):
    id: int
    active: bool


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = ts_field(nullable=False)
    expires_at: datetime = ts_field(nullable=False)


SYSTEM_USERNAME = "sistema"


def system_user(session: Any) -> User:
    """The actor of automatic moves (sweeps, renewals): a real row, so the audit names it."""
    from sqlmodel import select

    user = session.exec(select(User).where(User.username == SYSTEM_USERNAME)).first()
    if user is None:
        from datetime import UTC
        from datetime import datetime as _dt

        user = User(
            username=SYSTEM_USERNAME,
            full_name="Procedura automatica",
            email="noreply@localhost",
            role=Role.SYSTEM,
            password_hash="!",
            active=False,
            created_at=_dt.now(UTC),
        )
        session.add(user)
        session.flush()
    return user
