"""The Prefect server as the system starts it: through the launcher, locked down."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from registro.embedded import plan
from registro.settings import Settings


def test_registro_run_starts_prefect_through_the_launcher(tmp_path: Path) -> None:
    server = next(child for group in plan(Settings(), tmp_path) for child in group if child.name == "prefect")
    assert server.argv[1:4] == ["-m", "registro.prefect_server", "server"]


def test_only_server_start_is_locked_down(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect.cli

    from registro import prefect_server

    calls: list[str] = []
    monkeypatch.setattr(prefect_server, "lock_down", lambda environ: calls.append("locked down"))
    monkeypatch.setattr(prefect.cli, "app", lambda: calls.append("prefect"))
    monkeypatch.setattr("sys.argv", ["prefect_server", "server", "start", "--port", "4200"])
    monkeypatch.setattr(os, "environ", dict(os.environ))  # lock_down writes there: not into the test run's
    monkeypatch.setenv("PREFECT_SERVER_API_AUTH_STRING", "registro:" + "x9" * 16)
    prefect_server.main()
    assert calls == ["locked down", "prefect"]
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
