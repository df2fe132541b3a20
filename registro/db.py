"""Database engine and sessions: PostgreSQL, the embedded server's or the one the settings name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from registro.settings import get_settings

POOL = (10, 20)  # (pool_size, max_overflow) per process


def pool_capacity(url: str) -> int:
    """How many connections an engine for ``url`` opens at most."""
    return sum(POOL)


def make_engine(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=POOL[0], max_overflow=POOL[1])


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().resolved_database_url)


def refuse_writes(session: Session) -> None:
    """Makes ``session`` read-only: a flush raises (a GET must never write)."""

    def refuse(*_args: Any) -> None:
        raise RuntimeError("scrittura in una sessione di sola lettura (richiesta GET)")

    event.listen(session, "before_flush", refuse)


@contextmanager
def read_scope() -> Iterator[Session]:
    """A session that only reads, outside a request."""
    with Session(get_engine(), expire_on_commit=False) as session:
        refuse_writes(session)
        yield session


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session for work outside a request (flows, commands)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session
