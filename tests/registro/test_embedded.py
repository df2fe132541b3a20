"""The embedded default: local mail capture, prefect.yaml → served deployments, and `registro run` end to end."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from registro.mailcatcher import READY_LINE as MAIL_READY
from registro.serve import PROJECT_ROOT, ServeConfigError, build_deployments

FLOW_SOURCE = """
from prefect import flow


@flow
async def sweep(limit: int = 10) -> int:
    return limit


@flow
async def ping(label: str = "x") -> str:
    return label
"""

PREFECT_YAML = """
name: prova
prefect-version: 3.9.1
deployments:
  - name: registro
    entrypoint: flows/demo.py:sweep
    description: Giro di prova
    tags: [sweep]
    parameters: {limit: 500}
    concurrency_limit: 1
    work_pool: {name: registro}
    schedules:
      - cron: "0 6 * * *"
        timezone: Europe/Rome
      - cron: "0 18 * * 1-5"
        timezone: Europe/Rome
        active: false
  - name: registro
    entrypoint: flows/demo.py:ping
    work_pool: {name: registro}
    schedules:
      - interval: 60
        timezone: Europe/Rome
  - name: a-richiesta
    entrypoint: flows/demo.py:ping
    work_pool: {name: registro}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", **extra}


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Reads the child's output until a line contains marker (the child must print it)."""
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} not printed in {timeout} s:\n{''.join(seen)}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "demo.py").write_text(FLOW_SOURCE)
    (tmp_path / "prefect.yaml").write_text(PREFECT_YAML)
    return tmp_path


def test_mailcatcher_stores_each_message_as_eml(tmp_path: Path) -> None:
    port = free_port()
    mail_dir = tmp_path / "mail"
    argv = [sys.executable, "-m", "registro.mailcatcher", "--port", str(port), "--dir", str(mail_dir)]
    proc = subprocess.Popen(argv, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        read_until(proc, MAIL_READY, timeout=20)
        message = EmailMessage()
        message["From"] = "registro@regione.example"
        message["To"] = "legale@distretto.example"
        message["Subject"] = "Preavviso di rigetto: è scaduto il termine"
        message.set_content("Testo di prova")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(message, to_addrs=["legale@distretto.example", "protocollo@regione.example"])
        log = read_until(proc, "posta catturata", timeout=10)
        assert "legale@distretto.example, protocollo@regione.example" in log
        assert "Preavviso di rigetto: è scaduto il termine" in log

        files = list(mail_dir.glob("*.eml"))
        assert len(files) == 1
        raw = files[0].read_bytes()
        assert raw.startswith(b"X-Envelope-From: registro@regione.example\r\n")
        assert b"X-Envelope-To: legale@distretto.example, protocollo@regione.example" in raw
        assert b"Testo di prova" in raw
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "mailcatcher fermato" in rest
    assert "Traceback" not in rest


def test_prefect_yaml_becomes_runner_deployments(project: Path) -> None:
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    deployments = build_deployments(project / "prefect.yaml")

    assert [(d.flow_name, d.name) for d in deployments] == [
        ("sweep", "registro"),
        ("ping", "registro"),
        ("ping", "a-richiesta"),
    ]
    sweep, ping, on_demand = deployments
    assert sweep.parameters == {"limit": 500}
    assert sweep.tags == ["sweep"]
    assert sweep.description == "Giro di prova"
    assert sweep.entrypoint is not None and sweep.entrypoint.endswith("demo.py:sweep")
    assert sweep.schedules is not None
    crons = [s.schedule for s in sweep.schedules]
    assert all(isinstance(c, CronSchedule) and c.timezone == "Europe/Rome" for c in crons)
    assert [c.cron for c in crons if isinstance(c, CronSchedule)] == ["0 6 * * *", "0 18 * * 1-5"]
    assert [s.active for s in sweep.schedules] == [True, False]

    assert ping.schedules is not None and len(ping.schedules) == 1
    interval = ping.schedules[0].schedule
    assert isinstance(interval, IntervalSchedule)
    assert interval.interval == timedelta(seconds=60)
    assert interval.timezone == "Europe/Rome"
    assert not on_demand.schedules


def test_unloadable_entrypoint_names_the_deployment(project: Path) -> None:
    text = PREFECT_YAML.replace("flows/demo.py:ping\n    work_pool", "flows/missing.py:ping\n    work_pool", 1)
    (project / "prefect.yaml").write_text(text)
    with pytest.raises(ServeConfigError, match=r"deployment 'registro'.*flows/missing\.py:ping"):
        build_deployments(project / "prefect.yaml")


def test_schedule_needs_exactly_one_kind(project: Path) -> None:
    text = PREFECT_YAML.replace("- interval: 60", "- interval: 60\n        cron: '* * * * *'")
    (project / "prefect.yaml").write_text(text)
    with pytest.raises(ServeConfigError, match="uno solo fra cron, interval, rrule"):
        build_deployments(project / "prefect.yaml")


@pytest.mark.slow
def test_registro_run_serves_deployments_and_stops_cleanly(project: Path, tmp_path: Path) -> None:
    """`registro run` on free ports: every child ready, a deployment run from another process is
    executed by the runner, Ctrl-C stops everything with exit 0 and no traceback."""
    prefect_port = free_port()
    env = child_env(
        REGISTRO_DATA_DIR=str(tmp_path / "var"),
        REGISTRO_DATABASE_URL="",
        REGISTRO_PREFECT_PORT=str(prefect_port),
        REGISTRO_API_PORT=str(free_port()),
        REGISTRO_SMTP_HOST="",
        REGISTRO_SMTP_PORT=str(free_port()),
        REGISTRO_STAGE_WORKER_PORT=str(free_port()),
        REGISTRO_PREFECT_YAML=str(project / "prefect.yaml"),
        PREFECT_LOGGING_LEVEL="INFO",  # the flow run's own lines, read back with `prefect flow-run logs`
    )
    argv = [sys.executable, "-c", "from registro.embedded import run_all; run_all()"]
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    output = ""
    try:
        output = read_until(proc, "Premi Ctrl-C", timeout=120)
        credential = (tmp_path / "var" / "segreti" / "prefect-credenziale").read_text().strip()
        prefect_env = {**env, "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api"}
        prefect_env["PREFECT_HOME"] = str(tmp_path / "var" / "prefect")
        trigger = (
            "from prefect.deployments import run_deployment\n"
            "run = run_deployment('ping/a-richiesta', parameters={'label': 'ok'}, timeout=60)\n"
            "print(run.id, run.state.type.value)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", trigger], env={**prefect_env, "PREFECT_API_AUTH_STRING": credential},
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
        assert done.stdout.strip().endswith("COMPLETED"), done.stdout + done.stderr
        run_id = done.stdout.split()[-2]

        # the Prefect CLI: with the system's credential through `registro prefect`, refused without it
        def registro_prefect(*args: str, cwd: Path = tmp_path) -> str:
            argv = [str(Path(sys.executable).with_name("registro")), "prefect", *args]
            ran = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
            assert ran.returncode == 0, f"{args}: {ran.stdout}{ran.stderr}"
            return ran.stdout

        assert "ping/a-richiesta" in registro_prefect("deployment", "ls")
        logs = registro_prefect("flow-run", "logs", run_id)
        assert "Finished in state Completed" in logs, logs
        registro_prefect("work-pool", "create", "registro", "--type", "process")
        deployed = registro_prefect("--no-prompt", "deploy", "--all", cwd=project)
        assert deployed.count("Deployment '") == 3, deployed
        listed = registro_prefect("deployment", "ls")
        assert listed.count("registro") >= 3 and "sweep/registro" in listed
        anonymous = subprocess.run(
            [str(Path(sys.executable).with_name("prefect")), "deployment", "ls"], env=prefect_env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert anonymous.returncode != 0 and "401" in anonymous.stdout + anonymous.stderr
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
    output += rest
    assert proc.returncode == 0, output
    assert "tutto fermato." in output
    assert "esecutore delle fasi pronto" in output and "esecutore delle fasi fermato" in output
    assert "Traceback" not in output


def test_the_embedded_prefect_server_runs_without_the_automations_service_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.engine import make_url

    from registro.embedded import prepare_environment
    from registro.settings import Settings

    settings = Settings(data_dir=tmp_path / "var", database_url="")
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if "TRIGGERS" not in k})
    prepare_environment(settings)
    assert os.environ["PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED"] == "false"
    socket_dir = (tmp_path / "var" / "postgres").resolve()
    prefect_db = make_url(os.environ["PREFECT_API_DATABASE_CONNECTION_URL"])
    assert (prefect_db.drivername, prefect_db.database, prefect_db.query["host"]) == (
        "postgresql+asyncpg",
        "prefect",
        str(socket_dir),
    )
    assert os.environ["PREFECT_API_URL"] == f"http://127.0.0.1:{settings.prefect_port}/api"
    monkeypatch.setattr(os, "environ", {**os.environ, "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "true"})
    prepare_environment(settings)
    assert os.environ["PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED"] == "true"


def test_with_a_database_of_its_own_prefect_s_must_be_named_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from registro.embedded import prepare_environment
    from registro.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "var", database_url="postgresql+psycopg://registro@db.regione.example/registro"
    )
    monkeypatch.setattr(
        os, "environ", {k: v for k, v in os.environ.items() if k != "PREFECT_API_DATABASE_CONNECTION_URL"}
    )
    with pytest.raises(SystemExit):
        prepare_environment(settings)
    assert "serve anche PREFECT_API_DATABASE_CONNECTION_URL" in capsys.readouterr().out


def test_registro_run_raises_its_open_file_limit_to_the_hard_one() -> None:
    import resource

    from registro.embedded import raise_open_file_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("nessun limite rigido sui file aperti su questa macchina")
    code = (
        "import resource\n"
        "from registro.embedded import raise_open_file_limit\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, {hard}), {hard}))\n"
        "print(raise_open_file_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(hard), str(hard)]
    assert raise_open_file_limit() >= soft  # in this process: never lowered
