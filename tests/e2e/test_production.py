"""The production set-up of the README, brought up for real on this machine's PostgreSQL:

- a Prefect server (``registro prefect server start``: basic authentication required, CSRF on) on its own
  PostgreSQL database; every client carries the credential (``PREFECT_API_AUTH_STRING``);
- the deployments of ``prefect.yaml`` (``prefect deploy --all``) in a process work pool, run by
  ``prefect worker start`` (stage flows on demand, sweeps on their schedules);
- the app on its own PostgreSQL database (``registro init-db``), the API (uvicorn) in production mode
  starting stage flows as deployments (``REGISTRO_FLOW_DISPATCH=deployment``), mail to an SMTP server.

One whole journey through HTTP then runs on it: every stage flow is a run of the worker.
Run in the PostgreSQL pass of the suite (``REGISTRO_TEST_DATABASE_URL`` on PostgreSQL), about 2 minutes.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from registro.serve import read_specs
from tests.e2e.journey_support import Api, create_people, to_active

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Processes:
    """The long-running processes of the set-up; their output in ``log_dir/<name>.log``."""

    log_dir: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = (self.log_dir / f"{name}.log").open("wb")
        self.running[name] = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_http(self, name: str, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.running[name].poll() is not None:
                raise AssertionError(f"{name} terminated (code {self.running[name].returncode}):\n{self.tail(name)}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"{name} not ready at {url} in {START_TIMEOUT:.0f} s:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop_all(self) -> None:
        for proc in reversed(list(self.running.values())):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.running.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _run(argv: list[str], env: dict[str, str], timeout: float = 180) -> str:
    done = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """Two fresh PostgreSQL databases (the app's, Prefect's), dropped afterwards."""
    base = os.environ.get("REGISTRO_TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("il percorso di produzione si prova nel passaggio PostgreSQL della suite")
    server = create_engine(base, isolation_level="AUTOCOMMIT")
    suffix = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    names = (f"registro_prod_{suffix}", f"prefect_prod_{suffix}")
    with server.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base)
    try:
        yield (
            url.set(database=names[0]).render_as_string(hide_password=False),
            url.set(drivername="postgresql+asyncpg", database=names[1]).render_as_string(hide_password=False),
        )
    finally:
        with server.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_production_setup_runs_a_journey_on_prefect_server_and_worker(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    app_db, prefect_db = databases
    prefect_port, api_port, smtp_port = _free_port(), _free_port(), _free_port()
    prefect_api = f"http://127.0.0.1:{prefect_port}/api"
    admin_password = secrets.token_urlsafe(18)
    prefect_auth = f"registro:{secrets.token_urlsafe(32)}"  # the server's credential, given to every client
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRO_", "PREFECT_"))}
    prefect_env = {
        **base_env,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": prefect_api,
        "PREFECT_API_AUTH_STRING": prefect_auth,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    app_env = {
        **prefect_env,
        "REGISTRO_ENVIRONMENT": "production",
        "REGISTRO_SECRET_KEY": secrets.token_urlsafe(48),
        "REGISTRO_AUDIT_KEY": secrets.token_urlsafe(48),
        "REGISTRO_AUDIT_ARCHIVE_EMAIL": "conservazione@pec.regione.example.it",
        "REGISTRO_DATABASE_URL": app_db,
        "REGISTRO_DATA_DIR": str(tmp_path / "var"),
        "REGISTRO_FLOW_DISPATCH": "deployment",
        "REGISTRO_SMTP_HOST": "127.0.0.1",
        "REGISTRO_SMTP_PORT": str(smtp_port),
        "REGISTRO_ADMIN_PASSWORD": admin_password,
    }
    procs = Processes(tmp_path)
    try:
        # 1. the Prefect server on PostgreSQL, with its scheduler, locked (registro.prefect_server)
        server_env = {**prefect_env, "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db, "PREFECT_UI_ENABLED": "false",
                      "PREFECT_SERVER_API_AUTH_STRING": prefect_auth}  # fmt: skip
        procs.start("prefect", [str(BIN / "registro"), "prefect", "server", "start", "--host", "127.0.0.1",
                                "--port", str(prefect_port)], server_env)  # fmt: skip
        # 2. the app's database and first administrator; an SMTP server for the mail
        _run([str(BIN / "registro"), "init-db"], app_env)
        mail_dir = tmp_path / "posta"
        procs.start("posta", [sys.executable, "-m", "registro.mailcatcher", "--port", str(smtp_port),
                              "--dir", str(mail_dir)], app_env)  # fmt: skip
        procs.wait_http("prefect", f"{prefect_api}/health")
        # 3. the work pool, the deployments of prefect.yaml, a worker
        _run([str(BIN / "prefect"), "work-pool", "create", "registro", "--type", "process"], prefect_env)
        deployed = _run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], app_env, timeout=300)
        assert deployed.count("Deployment '") == len(read_specs(REPO_ROOT / "prefect.yaml")), deployed
        worker_env = {**app_env, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5",
                      "PREFECT_LOGGING_LEVEL": "INFO"}  # fmt: skip
        procs.start("worker", [str(BIN / "prefect"), "worker", "start", "--pool", "registro"], worker_env)
        # 4. the API in production mode
        procs.start("api", [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                            "--port", str(api_port)], app_env)  # fmt: skip
        procs.wait_http("api", f"http://127.0.0.1:{api_port}/api/v1/registry")

        # the journey, through HTTP only
        api = Api(f"http://127.0.0.1:{api_port}")
        api.login("admin", admin_password)
        create_people(api)
        app_id = to_active(api)
        detail = api.call("funz", "GET", f"/api/v1/applications/{app_id}")
        assert detail["state"] == "active"
        registry = api.call(None, "GET", "/api/v1/registry")
        assert [e["district_name"] for e in registry] == ["Distretto della Meccanica di Precisione"]

        # every stage flow ran on the worker, from its deployment
        run_ids = [item["flow_run_id"] for item in detail["timeline"]]
        assert len(run_ids) == 5 and all(run_ids)
        with httpx.Client(base_url=prefect_api, timeout=10, auth=tuple(prefect_auth.split(":", 1))) as prefect:
            for run_id in run_ids:
                run = prefect.get(f"/flow_runs/{run_id}").json()
                assert run["state_type"] == "COMPLETED", run
                assert run["work_pool_name"] == "registro" and run["deployment_id"], run
        assert httpx.get(f"{prefect_api}/flow_runs/{run_ids[0]}", timeout=10).status_code == 401

        # Prefect's own CLI, with the credential; without it, refused
        listed = _run([str(BIN / "prefect"), "deployment", "ls"], prefect_env)
        assert "submission/registro" in listed and "expiry-sweep/registro" in listed, listed
        logs = _run([str(BIN / "prefect"), "flow-run", "logs", run_ids[0]], prefect_env)
        assert "Finished in state Completed" in logs, logs
        anonymous = {k: v for k, v in prefect_env.items() if k != "PREFECT_API_AUTH_STRING"}
        refused = subprocess.run([str(BIN / "prefect"), "deployment", "ls"], env=anonymous, capture_output=True,
                                 text=True, timeout=120)  # fmt: skip
        assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr

        # the scheduled delivery sweep (cron, every minute) mails the notices through SMTP
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not list(mail_dir.glob("*.eml")):
            time.sleep(1)
        mails = list(mail_dir.glob("*.eml"))
        assert mails, f"nessuna mail consegnata:\n{procs.tail('worker')}"
        api.http.close()
    except BaseException:
        for name in procs.running:
            print(f"---- {name} ----\n{procs.tail(name)}")
        raise
    finally:
        procs.stop_all()
