"""Database engine and sessions (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from registro.settings import get_settings
from registro.sqlite_writes import BUSY_TIMEOUT_S, GatedConnection

SQLITE_POOL = (5, 10)  # (pool_size, max_overflow): writers queue on SQLite's lock anyway
SERVER_POOL = (10, 20)
DEFERRED_OPTION = "registro_sqlite_deferred"  # execution option: this transaction begins deferred


def pool_capacity(url: str) -> int:
    """How many connections an engine for ``url`` opens at most."""
    return sum(SQLITE_POOL if url.startswith("sqlite") else SERVER_POOL)


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """``read_only``: on SQLite a deferred BEGIN (see ``get_read_engine``); elsewhere no difference."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_S, "factory": GatedConnection}
        if read_only:
            kwargs["execution_options"] = {DEFERRED_OPTION: True}
        kwargs.update(pool_size=SQLITE_POOL[0], max_overflow=SQLITE_POOL[1])
    else:
        kwargs.update(pool_size=SERVER_POOL[0], max_overflow=SERVER_POOL[1])
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(connection: Any) -> None:
    """Take SQLite's write lock at BEGIN: a read-then-write can never hit a stale snapshot. A reader's
    transaction (the read engine, ``begin_read``) begins deferred: in WAL mode it reads a snapshot
    and never waits for the writer. A writer takes its turn through ``registro.sqlite_writes``."""
    if connection.get_execution_options().get(DEFERRED_OPTION):
        connection.exec_driver_sql("BEGIN")
        return
    try:
        connection.connection.dbapi_connection.begin_immediate()  # a GatedConnection (make_engine)
    except sqlite3.OperationalError as exc:  # as SQLAlchemy raises it for a statement of its own
        raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # pysqlite: let the "begin" event emit BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cursor.close()


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.resolved_database_url)


def get_read_engine() -> Engine:
    """For requests that only read (GET, HEAD). On SQLite an engine of its own whose transactions
    begin deferred: readers see a snapshot (WAL) and never queue behind the one writer — with ``BEGIN
    IMMEDIATE`` every page view and status poll took the write lock in turn, and the actions and
    flows waited behind them. Elsewhere the same engine."""
    return _read_engine(get_engine())


@lru_cache
def _read_engine(engine: Engine) -> Engine:
    if engine.dialect.name != "sqlite":
        return engine
    return make_engine(engine.url.render_as_string(hide_password=False), read_only=True)


def begin_read(session: Session) -> None:
    """Commits the session's work and begins a transaction for reading only: after its write a request
    reads what it answers (the read model) without SQLite's write lock, which it would otherwise hold
    until the session closes, after the answer is sent. No difference on PostgreSQL."""
    session.commit()
    session.connection(execution_options={DEFERRED_OPTION: True})


def refuse_writes(session: Session) -> None:
    """Makes ``session`` read-only: a flush raises (a GET must never write, see ``get_read_engine``)."""

    def refuse(*_args: Any) -> None:
        raise RuntimeError("scrittura in una sessione di sola lettura (richiesta GET)")

    event.listen(session, "before_flush", refuse)


@contextmanager
def read_scope() -> Iterator[Session]:
    """A session that only reads, outside a request (on SQLite: no write lock, see ``get_read_engine``)."""
    with Session(get_read_engine(), expire_on_commit=False) as session:
        refuse_writes(session)
        yield session


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session for work outside a request (flows, commands)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session
