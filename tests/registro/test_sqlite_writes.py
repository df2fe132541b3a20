"""SQLite writers take their turn through the process's gate and ask SQLite without its sleeping
busy handler; SQLite stays the arbiter against writers outside the gate."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from registro.db import make_engine
from registro.sqlite_writes import GatedConnection


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = tmp_path / "gate.db"
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE t (n INTEGER)")
    return str(path)


def gated(database: str) -> GatedConnection:
    con = sqlite3.connect(database, factory=GatedConnection, isolation_level=None, check_same_thread=False)
    assert isinstance(con, GatedConnection)
    return con


def test_a_writer_waits_for_the_one_before_and_goes_as_soon_as_it_commits(database: str) -> None:
    first, second = gated(database), gated(database)
    first.begin_immediate()
    first.execute("INSERT INTO t VALUES (1)")
    began = threading.Event()
    waited: list[float] = []

    def write() -> None:
        start = time.monotonic()
        second.begin_immediate()
        waited.append(time.monotonic() - start)
        began.set()
        second.execute("INSERT INTO t VALUES (2)")
        second.commit()

    thread = threading.Thread(target=write)
    thread.start()
    assert not began.wait(0.2)  # the first still writes
    first.commit()
    thread.join(5)
    assert began.is_set() and waited[0] >= 0.2
    assert [n for (n,) in first.execute("SELECT n FROM t ORDER BY n")] == [1, 2]


def test_a_writer_in_another_process_is_waited_for_without_the_busy_handler_s_sleeps(database: str) -> None:
    """The other process holds the lock 250 ms, outside any gate. SQLite's busy handler would try at
    about 228 ms, then sleep 100 ms; the gated writer tries every millisecond."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"con = sqlite3.connect({database!r}, isolation_level=None)\n"
            "con.execute('BEGIN IMMEDIATE'); con.execute('INSERT INTO t VALUES (1)')\n"
            "print('locked', flush=True); time.sleep(0.25)\n"
            "con.execute('COMMIT'); print(time.time(), flush=True)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    con = gated(database)
    con.begin_immediate()
    began = time.time()
    released = float(holder.stdout.readline())
    holder.wait(5)
    con.execute("INSERT INTO t VALUES (2)")
    con.commit()
    # The holder reads its clock just after COMMIT released the lock, so the gated writer may already
    # hold it by then: a few milliseconds before is the same instant.
    assert -0.01 <= began - released < 0.04
    assert [n for (n,) in con.execute("SELECT n FROM t ORDER BY n")] == [1, 2]


def test_commit_rollback_and_close_hand_the_gate_on(database: str) -> None:
    con, other = gated(database), gated(database)
    for end in (con.commit, con.rollback):
        con.begin_immediate()
        end()
        other.begin_immediate(timeout=1)  # would wait for the gate, then fail, if it were still held
        other.rollback()
    con.begin_immediate()
    con.close()
    other.begin_immediate(timeout=1)
    other.commit()


def test_a_lock_held_too_long_is_a_clear_error_and_leaves_the_gate_free(database: str) -> None:
    outside = sqlite3.connect(database, isolation_level=None)  # a writer outside the gate
    outside.execute("BEGIN IMMEDIATE")
    con = gated(database)
    start = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        con.begin_immediate(timeout=0.3)
    assert 0.3 <= time.monotonic() - start < 2
    assert not con.in_transaction
    outside.rollback()
    gated(database).begin_immediate(timeout=1)  # the gate was released with the failure


def test_a_second_write_in_the_same_thread_fails_at_its_time_limit_instead_of_hanging(database: str) -> None:
    first, second = gated(database), gated(database)
    first.begin_immediate()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        second.begin_immediate(timeout=0.2)
    first.rollback()


def test_the_engine_begins_its_writes_through_the_gate_and_reports_a_timeout_as_sqlalchemy_does(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        assert isinstance(connection.connection.dbapi_connection, GatedConnection)
        connection.execute(text("INSERT INTO t VALUES (7)"))
    outside = sqlite3.connect(database, isolation_level=None)
    outside.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr("registro.sqlite_writes.BUSY_TIMEOUT_S", 0.2)
    with pytest.raises(OperationalError, match="locked"), engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (8)"))
    outside.rollback()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM t")).scalars().all() == [7]
    engine.dispose()
