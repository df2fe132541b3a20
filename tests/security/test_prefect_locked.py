"""Issue 15, attack 1: the Prefect API and the stage worker's channel were open to any local process.

Written as the attacks: on the embedded Prefect server as ``registro run`` starts it, a caller without
the credential changes a deployment's pull steps (shell commands the runner executes) and creates
flow runs; a web page of another origin gets a CORS grant; any local process sends the stage worker
an action id; a sweep run by hand with a future ``as_of`` expires every registry entry.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registro.settings import Settings, get_settings
from registro.stage_worker import StageWorker, serve
from tests.factories import Factory, Journey

REPO_ROOT = Path(__file__).resolve().parents[2]
EVIL_ORIGIN = "http://pagina-qualunque.example"
SHELL_STEP = [{"prefect.deployments.steps.run_shell_script": {"script": "touch /tmp/preso"}}]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedPrefect:
    api: str
    auth: tuple[str, str] | None
    env: dict[str, str]  # a client's environment, with the credential


@pytest.fixture(scope="module")
def prefect_database(engine: Engine) -> Iterator[str]:
    """A database of its own for the Prefect server, on the test database's server (Prefect's asyncpg)."""
    server = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    name = f"registro_prefect_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield engine.url.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture(scope="module")
def embedded_prefect(tmp_path_factory: pytest.TempPathFactory, prefect_database: str) -> Iterator[EmbeddedPrefect]:
    """The Prefect server exactly as ``registro run`` starts it (same environment, same argv)."""
    from registro.embedded import plan, prepare_environment

    data_dir = tmp_path_factory.mktemp("var")
    settings = Settings(data_dir=data_dir, prefect_port=_free_port())
    saved = dict(os.environ)
    try:
        os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_database
        prepare_environment(settings)
        env = dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    env["PREFECT_UI_ENABLED"] = "false"
    server = plan(settings, data_dir)[0][0]
    assert server.name == "prefect"
    log = (data_dir / "prefect.log").open("wb")
    proc = subprocess.Popen(server.argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = env["PREFECT_API_URL"]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail(f"server Prefect non pronto:\n{(data_dir / 'prefect.log').read_text(errors='replace')}")
        user, _, password = env.get("PREFECT_API_AUTH_STRING", "").partition(":")
        yield EmbeddedPrefect(api=api, auth=(user, password) if user else None, env=env)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@contextmanager
def _authorized(server: EmbeddedPrefect) -> Iterator[httpx.Client]:
    """A client with the credential and Prefect's CSRF token, as Prefect's own client does it."""
    with httpx.Client(base_url=server.api, auth=server.auth, timeout=10) as client:
        token = client.get("/csrf-token", params={"client": "test"})
        if token.status_code == 200:  # CSRF protection on
            client.headers.update({"Prefect-Csrf-Token": token.json()["token"], "Prefect-Csrf-Client": "test"})
        yield client


@pytest.fixture(scope="module")
def deployment_id(embedded_prefect: EmbeddedPrefect) -> str:
    with _authorized(embedded_prefect) as client:
        flow = client.post("/flows/", json={"name": "expiry-sweep"})
        assert flow.status_code in (200, 201), flow.text
        created = client.post(
            "/deployments/", json={"name": "registro", "flow_id": flow.json()["id"], "pull_steps": []}
        )
        assert created.status_code in (200, 201), created.text
        return str(created.json()["id"])


def test_without_the_credential_nobody_changes_a_deployment_or_starts_a_run(
    embedded_prefect: EmbeddedPrefect, deployment_id: str
) -> None:
    with httpx.Client(base_url=embedded_prefect.api, timeout=10) as anonymous:
        patched = anonymous.patch(f"/deployments/{deployment_id}", json={"pull_steps": SHELL_STEP})
        started = anonymous.post(
            f"/deployments/{deployment_id}/create_flow_run", json={"parameters": {"as_of": "2030-01-01"}}
        )
        listed = anonymous.post("/deployments/filter", json={})
    assert patched.status_code in (401, 403), patched.text
    assert started.status_code in (401, 403), started.text
    assert listed.status_code in (401, 403), listed.text
    with _authorized(embedded_prefect) as client:
        assert client.get(f"/deployments/{deployment_id}").json()["pull_steps"] == []
        runs = client.post("/flow_runs/filter", json={}).json()
    assert runs == []


def test_a_wrong_credential_is_refused_and_the_right_one_works(
    embedded_prefect: EmbeddedPrefect, deployment_id: str
) -> None:
    user = embedded_prefect.auth[0] if embedded_prefect.auth else "registro"
    with httpx.Client(base_url=embedded_prefect.api, auth=(user, "indovinata"), timeout=10) as guess:
        assert guess.get(f"/deployments/{deployment_id}").status_code == 401
    with _authorized(embedded_prefect) as client:
        assert client.get(f"/deployments/{deployment_id}").status_code == 200


def test_with_the_credential_but_without_a_csrf_token_a_change_is_refused(
    embedded_prefect: EmbeddedPrefect, deployment_id: str
) -> None:
    with httpx.Client(base_url=embedded_prefect.api, auth=embedded_prefect.auth, timeout=10) as no_token:
        patched = no_token.patch(f"/deployments/{deployment_id}", json={"pull_steps": SHELL_STEP})
    assert patched.status_code == 403, patched.text
    assert "CSRF" in patched.text


def test_a_page_of_another_origin_gets_no_cors_grant(embedded_prefect: EmbeddedPrefect) -> None:
    preflight = httpx.options(
        f"{embedded_prefect.api}/deployments/filter",
        headers={"Origin": EVIL_ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.headers.get("access-control-allow-origin") not in ("*", EVIL_ORIGIN)
    own_ui = embedded_prefect.api.removesuffix("/api")
    allowed = httpx.options(
        f"{embedded_prefect.api}/deployments/filter",
        headers={"Origin": own_ui, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert allowed.headers.get("access-control-allow-origin") == own_ui


def test_the_prefect_cli_works_with_the_credential_and_fails_without(
    embedded_prefect: EmbeddedPrefect, deployment_id: str
) -> None:
    bin_dir = Path(sys.executable).parent
    listed = subprocess.run(
        [str(bin_dir / "prefect"), "deployment", "ls"], env=embedded_prefect.env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "expiry-sweep/registro" in listed.stdout
    without = {k: v for k, v in embedded_prefect.env.items() if k != "PREFECT_API_AUTH_STRING"}
    refused = subprocess.run(
        [str(bin_dir / "prefect"), "deployment", "ls"], env=without, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0
    assert "401" in refused.stdout + refused.stderr


def test_the_server_launcher_refuses_to_start_without_a_credential(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    argv = [sys.executable, "-m", "registro.prefect_server", "server", "start", "--port", str(_free_port())]
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail("il server Prefect è partito senza credenziale")
    assert done.returncode == 2
    assert "PREFECT_SERVER_API_AUTH_STRING" in done.stderr


def test_the_stage_worker_takes_only_datagrams_signed_with_the_application_key() -> None:
    from registro import worker_channel

    key = get_settings().effective_secret_key
    offered: list[int] = []

    async def record(action_id: int) -> None:
        offered.append(action_id)

    async def scenario() -> None:
        stop = asyncio.Event()
        ports: list[int] = []
        worker = StageWorker(concurrency=1, run=record)
        worker.scan = _no_scan  # type: ignore[method-assign]  # only the datagrams are under test
        task = asyncio.create_task(serve(worker, port=0, key=key, stop=stop, on_ready=ports.append))
        while not ports:
            await asyncio.sleep(0.01)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for datagram in (b"41", b"42\n", worker_channel.encode(43, "un'altra chiave"), b"44." + b"0" * 64):
                sock.sendto(datagram, ("127.0.0.1", ports[0]))
            sock.sendto(worker_channel.encode(45, key), ("127.0.0.1", ports[0]))
        for _ in range(100):
            if offered:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        stop.set()
        await task

    asyncio.run(scenario())
    assert offered == [45]


async def _no_scan() -> int:
    return 0


@pytest.fixture
def no_future_dates(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As in every real deployment: the test suite's own allowance switched off."""
    monkeypatch.setenv("REGISTRO_ALLOW_FUTURE_AS_OF", "false")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_harness", "no_future_dates")
def test_a_sweep_refuses_a_day_still_to_come_and_changes_nothing(factory: Factory, session: Session) -> None:
    from flows.as_of import FutureDateRefused
    from flows.delivery import deliver_outbox
    from flows.sweeps import annual_report_cycle, daily_reminders, expiry_sweep
    from models.enums import State
    from models.procedure import AuditEvent

    journey = Journey(factory)
    journey.to_active()  # valid until 2029-03-06
    events_before = len(session.exec(select(AuditEvent)).all())
    session.commit()  # ends the test's read
    for sweep in (expiry_sweep, annual_report_cycle, daily_reminders):
        with pytest.raises(FutureDateRefused, match="successiva a oggi"):
            sweep(as_of=date(2030, 1, 1))
    with pytest.raises(FutureDateRefused, match="successivo"):
        asyncio.run(deliver_outbox(as_of=datetime.now(UTC) + timedelta(days=30)))
    session.expire_all()
    assert journey.app.state == State.ACTIVE
    assert len(session.exec(select(AuditEvent)).all()) == events_before
    session.commit()  # ends the test's read
    today = datetime.now(UTC).date()
    assert expiry_sweep(as_of=today).expired == []  # today itself is fine
