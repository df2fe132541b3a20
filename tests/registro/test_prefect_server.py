"""The embedded Prefect server's SQLite transactions take the write lock when they begin."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from prefect.server.database.configurations import AioSqliteConfiguration

from registro.embedded import plan
from registro.prefect_server import begin_sqlite_transactions_immediate
from registro.settings import Settings


def _locked_for_others(path: Path) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return True
    finally:
        other.close()


async def _lock_seen_inside_a_read_transaction(path: Path) -> bool:
    config = AioSqliteConfiguration(connection_url=f"sqlite+aiosqlite:///{path}")
    engine = await config.engine()
    session = await config.session(engine)
    try:
        async with config.begin_transaction(session):
            await session.connection()  # the transaction begins (only a read would follow)
            return _locked_for_others(path)
    finally:
        await session.close()
        await engine.dispose()


@pytest.fixture
def restore_prefect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AioSqliteConfiguration, "begin_transaction", AioSqliteConfiguration.begin_transaction)


def test_prefect_as_shipped_begins_deferred(tmp_path: Path) -> None:
    # the reason for the launcher: a deferred transaction holds no lock until it writes
    assert not asyncio.run(_lock_seen_inside_a_read_transaction(tmp_path / "prefect.db"))


def test_launcher_makes_every_transaction_begin_immediate(tmp_path: Path, restore_prefect: None) -> None:
    assert begin_sqlite_transactions_immediate()
    assert asyncio.run(_lock_seen_inside_a_read_transaction(tmp_path / "prefect.db"))


def test_registro_run_starts_prefect_through_the_launcher(tmp_path: Path) -> None:
    server = plan(Settings(), tmp_path)[0][0]
    assert server.name == "prefect"
    assert server.argv[1:4] == ["-m", "registro.prefect_server", "server"]


def test_the_server_runs_below_the_api_s_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect.cli

    from registro import prefect_server

    calls: list[str] = []
    monkeypatch.setattr("os.nice", lambda increment: calls.append(f"nice {increment}"))
    monkeypatch.setattr(prefect_server, "begin_sqlite_transactions_immediate", lambda: calls.append("immediate"))
    monkeypatch.setattr(prefect.cli, "app", lambda: calls.append("prefect"))
    monkeypatch.setattr("sys.argv", ["prefect_server", "server", "start", "--port", "4200"])
    monkeypatch.setattr(os, "environ", dict(os.environ))  # lock_down writes there: not into the test run's
    monkeypatch.setenv("PREFECT_SERVER_API_AUTH_STRING", "registro:" + "x9" * 16)
    prefect_server.main()
    assert calls == [f"nice {prefect_server.NICENESS}", "immediate", "prefect"]
    assert prefect_server.NICENESS > 0
    calls.clear()
    monkeypatch.setattr("sys.argv", ["prefect_server", "deployment", "ls"])  # a client: as it is
    prefect_server.main()
    assert calls == ["prefect"]


def test_a_server_starts_locked_down() -> None:
    from registro.prefect_server import PrefectOpen, lock_down

    environ = {"PREFECT_SERVER_API_AUTH_STRING": "registro:" + "x9" * 16, "PREFECT_UI_URL": "http://127.0.0.1:4300"}
    lock_down(environ)
    assert environ["PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED"] == "true"
    assert environ["PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS"] == "http://127.0.0.1:4300"
    chosen = {**environ, "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": "https://prefect.regione.example"}
    lock_down(chosen)  # an origin given by the operator is kept
    assert chosen["PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS"] == "https://prefect.regione.example"
    for weak in (
        {},
        {"PREFECT_SERVER_API_AUTH_STRING": "registro:corta"},
        {"PREFECT_SERVER_API_AUTH_STRING": ":x" * 20},
    ):
        with pytest.raises(PrefectOpen, match="PREFECT_SERVER_API_AUTH_STRING"):
            lock_down(dict(weak))
