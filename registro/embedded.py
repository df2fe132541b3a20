"""``registro run``: the embedded default, everything on one machine under ``settings.data_dir``.

Child processes, started in this order and stopped in the reverse one: ``postgres`` (the embedded
PostgreSQL server on ``<data_dir>/postgres``, ``registro.embedded_postgres``; not started when
``REGISTRO_DATABASE_URL`` names another), ``prefect`` (``prefect server start`` on its own database
of that server, with its scheduler, through ``registro.prefect_server``), ``posta`` (the local SMTP
capture server, only when ``REGISTRO_SMTP_HOST`` is empty), ``runner`` (``python -m registro.serve``:
the deployments of ``prefect.yaml`` with their schedules), ``fasi`` (``python -m registro.stage_worker``:
the stage flows of the actions the API accepts) and ``api`` (uvicorn ``api.main:app``).
Their output goes to the terminal, one prefix per process, and to ``<data_dir>/log/<name>.log``.
Ctrl-C or SIGTERM stops them all and exits 0; if one dies on its own the others are stopped and the
command exits 1 naming it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from registro import embedded_postgres, local_secrets
from registro.mailcatcher import READY_LINE as MAIL_READY
from registro.serve import DRAIN_SECONDS, PROJECT_ROOT
from registro.serve import READY_LINE as RUNNER_READY
from registro.settings import FlowDispatch, Settings, get_settings, is_production, uvicorn_proxy_args
from registro.stage_worker import READY_LINE as WORKER_READY

START_TIMEOUT = 90.0  # seconds for each child to become ready
STOP_TIMEOUT = 15.0  # seconds for each child to exit after SIGTERM, then SIGKILL
_print_lock = threading.Lock()


def say(message: str, name: str = "registro") -> None:
    with _print_lock:
        print(f"{name:<8}| {message}", flush=True)


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_line: str | None = None  # printed by the child when ready
    ready_check: Callable[[], bool] | None = None  # polled until true
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # on top of os.environ
    stop_timeout: float = STOP_TIMEOUT
    stop_signal: int = signal.SIGTERM
    preexec: Callable[[], None] | None = None  # instead of the supervisor's (which sets PDEATHSIG)
    proc: subprocess.Popen[str] | None = None
    pump: threading.Thread | None = None
    ready: threading.Event = field(default_factory=threading.Event)

    def is_ready(self) -> bool:
        if self.ready_check is not None and not self.ready.is_set() and self.ready_check():
            self.ready.set()
        return self.ready.is_set()


def _answers(host: str, port: int, path: str | None = None) -> Callable[[], bool]:
    """Readiness probe: the port accepts connections (and, with a path, answers 200 there)."""

    def check() -> bool:
        try:
            if path is None:
                socket.create_connection((host, port), timeout=1).close()
                return True
            with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    return check


def _port_free(host: str, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def prefect_client_environment(settings: Settings, data_dir: Path) -> dict[str, str]:
    """What a Prefect client of the embedded server needs: its address, its credential (generated
    under ``<data_dir>/segreti`` on first use), its home folder."""
    return {
        "PREFECT_HOME": str(data_dir / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{settings.prefect_port}/api",
        "PREFECT_API_AUTH_STRING": _prefect_credential(settings, data_dir),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


def _prefect_credential(settings: Settings, data_dir: Path) -> str:
    """Production gives its own (``check_production`` requires it); elsewhere the data folder's."""
    if is_production(settings):
        return os.environ["PREFECT_API_AUTH_STRING"]
    return local_secrets.read_or_create(data_dir, local_secrets.PREFECT_AUTH)


def owner_only(data_dir: Path) -> None:
    """Files created from now on are the owner's alone (umask 077); those already there become so."""
    os.umask(0o077)
    for folder, subfolders, files in os.walk(data_dir):
        for name in [folder, *(os.path.join(folder, f) for f in files)]:
            with contextlib.suppress(OSError):
                mode = os.lstat(name).st_mode
                if mode & 0o077 and not stat.S_ISLNK(mode):
                    os.chmod(name, stat.S_IMODE(mode) & 0o700)
        subfolders[:] = [d for d in subfolders if not os.path.islink(os.path.join(folder, d))]


def prepare_environment(settings: Settings) -> Path:
    """Create the data folders and set the environment this process and its children share."""
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    owner_only(data_dir)
    for sub in ("prefect", "mail", "log", "files"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    client = prefect_client_environment(settings, data_dir)
    os.environ.update(
        {
            **client,
            "REGISTRO_DATA_DIR": str(data_dir),  # children may work from another folder
            # the server: basic authentication with the same credential, CSRF protection on and CORS
            # only for its own UI (registro.prefect_server.lock_down)
            "PREFECT_SERVER_API_AUTH_STRING": client["PREFECT_API_AUTH_STRING"],
            "PREFECT_UI_URL": f"http://127.0.0.1:{settings.prefect_port}",
            "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        }
    )
    if settings.uses_embedded_database:
        prefect_db = embedded_postgres.url(settings.embedded_pgdata, "prefect", driver="postgresql+asyncpg")
        os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_db
    elif not os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL"):
        say(
            "ERRORE: con REGISTRO_DATABASE_URL serve anche PREFECT_API_DATABASE_CONNECTION_URL (il database "
            "PostgreSQL del server Prefect, per esempio postgresql+asyncpg://utente@host/prefect)"
        )
        raise SystemExit(1)
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "1")
    # No automations are configured on the embedded server, yet its triggers service reads every event,
    # competing with the flow runs for the 2 cores. Measured with it off (on the earlier database)
    # (bench/lifecycle_http.py, 60 districts, 8 in flight, 2 cores): total 139-172 s -> 69-83 s,
    # action -> flow completed p95 13.5-14.3 s -> 6.5-6.7 s. Set it to "true" to use automations.
    os.environ.setdefault("PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    return data_dir


def _prepare_database() -> None:
    from registro import bootstrap

    say("migrazione del database dell'applicazione…")
    bootstrap.prepare_database()
    bootstrap.get_engine().dispose()  # the children open their own


def postgres_child(settings: Settings) -> Child:
    """The embedded PostgreSQL server, created on first use; it runs as ``registro-pg`` when we are
    root, stops fast (SIGINT) at Ctrl-C and when this process dies in any way (PDEATHSIG)."""
    pgdata = settings.embedded_pgdata.resolve()
    who = embedded_postgres.prepare(pgdata, say)
    return Child(
        "postgres",
        embedded_postgres.server_argv(pgdata),
        ready_check=lambda: embedded_postgres.socket_ready(pgdata),
        env={"LC_ALL": "C"},
        stop_signal=signal.SIGINT,
        preexec=embedded_postgres.demote(who, signal.SIGINT),
    )


def _check_versions() -> None:
    """SQLAlchemy 2.1 breaks the Prefect 3.8 server's scheduler (measured): say it before it bites."""
    from importlib.metadata import version

    found = version("sqlalchemy")
    if not found.startswith(("2.0.", "1.")):
        say(f"ATTENZIONE: SQLAlchemy {found}: le schedule di Prefect 3.8 non partono; serve sqlalchemy>=2.0,<2.1")


def _preexec() -> Callable[[], None] | None:
    """On Linux, children get SIGTERM if this process dies without stopping them (e.g. SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class Supervisor:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []
        self.stop_requested = threading.Event()
        self.preexec = _preexec()

    def on_signal(self, signum: int, _frame: object) -> None:
        if not self.stop_requested.is_set():
            say(f"ricevuto {signal.Signals(signum).name}: arresto in corso…")
        self.stop_requested.set()

    def start(self, child: Child) -> None:
        log = (self.log_dir / f"{child.name}.log").open("a", encoding="utf-8")
        child.proc = subprocess.Popen(
            child.argv,
            cwd=child.cwd,
            env={**os.environ, **child.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=child.preexec is None,  # Ctrl-C reaches only us: we stop the children in order
            preexec_fn=child.preexec or self.preexec,
        )
        self.children.append(child)
        child.pump = threading.Thread(target=self._pump, args=(child, child.proc.stdout, log), daemon=True)
        child.pump.start()

    def _pump(self, child: Child, stream: IO[str] | None, log: IO[str]) -> None:
        assert stream is not None
        with log:
            for line in stream:
                line = line.rstrip("\n")
                log.write(line + "\n")
                log.flush()
                say(line, child.name)
                if child.ready_line and child.ready_line in line:
                    child.ready.set()

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if c.proc is not None and c.proc.poll() is not None), None)

    def wait_ready(self, children: list[Child], timeout: float = START_TIMEOUT) -> str | None:
        """None when all are ready, else an Italian error message (or "" when a stop was requested)."""
        deadline = time.monotonic() + timeout
        while not all(child.is_ready() for child in children):
            if self.stop_requested.is_set():
                return ""
            if dead := self.dead_child():
                return _died(dead)
            if time.monotonic() > deadline:
                late = ", ".join(c.name for c in children if not c.ready.is_set())
                return f"ERRORE: non pronto dopo {timeout:.0f} s: {late} (vedi i log in {self.log_dir})"
            time.sleep(0.2)
        return None

    def stop_all(self) -> None:
        for child in reversed(self.children):
            proc = child.proc
            if proc is None or proc.poll() is not None:
                continue
            say(f"arresto di {child.name} (pid {proc.pid})…")
            proc.send_signal(child.stop_signal)
            try:
                proc.wait(child.stop_timeout)
            except subprocess.TimeoutExpired:
                say(f"{child.name} non si ferma dopo {child.stop_timeout:.0f} s: terminato forzatamente")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # leftovers in its group (e.g. flow-run subprocesses)
            proc.wait()
            if child.pump is not None:
                child.pump.join(timeout=2)  # its last lines come before ours


def _died(child: Child) -> str:
    code = child.proc.returncode if child.proc else None
    return f"ERRORE: il processo '{child.name}' è terminato inaspettatamente (codice {code}); vedi sopra o il suo log"


def plan(settings: Settings, data_dir: Path) -> list[list[Child]]:
    """Children in start order, grouped: each group starts once the previous one is ready."""
    python = sys.executable
    prefect_port = settings.prefect_port
    log_level = os.environ.get("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    server_argv = ["server", "start", "--host", "127.0.0.1", "--port", str(prefect_port), "--log-level", log_level]
    server = Child(
        "prefect",
        [python, "-m", "registro.prefect_server", *server_argv],
        ready_check=_answers("127.0.0.1", prefect_port, "/api/health"),
    )
    first = [server]
    if not settings.smtp_host:
        mail_argv = ["--port", str(settings.smtp_port), "--dir", str(data_dir / "mail")]
        first.append(Child("posta", [python, "-m", "registro.mailcatcher", *mail_argv], ready_line=MAIL_READY))
    runner = Child(
        "runner",
        [python, "-m", "registro.serve"],
        ready_line=RUNNER_READY,
        cwd=PROJECT_ROOT,
        stop_timeout=DRAIN_SECONDS + STOP_TIMEOUT,  # it lets the runs in flight finish first
    )
    dispatch = stage_dispatch(settings)
    api_argv = ["--host", settings.api_host, "--port", str(settings.api_port), "--no-use-colors"]
    api = Child(
        "api",
        [python, "-m", "uvicorn", "api.main:app", *api_argv, *uvicorn_proxy_args(settings)],
        ready_check=_answers(_client_host(settings.api_host), settings.api_port),
        # prefect's logging config gives the "uvicorn" loggers this level: keep the API's own lines
        env={"PREFECT_SERVER_LOGGING_LEVEL": "INFO", "REGISTRO_FLOW_DISPATCH": dispatch.value},
    )
    second = [runner, api]
    if dispatch == FlowDispatch.WORKER:
        worker = Child("fasi", [python, "-m", "registro.stage_worker"], ready_line=WORKER_READY, cwd=PROJECT_ROOT)
        second.insert(1, worker)
    return [first, second]


def stage_dispatch(settings: Settings) -> FlowDispatch:
    """The stage worker runs the stage flows, unless the settings name another way explicitly."""
    return settings.flow_dispatch if "flow_dispatch" in settings.model_fields_set else FlowDispatch.WORKER


def _banner(settings: Settings, data_dir: Path, elapsed: float) -> None:
    api = f"http://{_client_host(settings.api_host)}:{settings.api_port}"
    if settings.smtp_host:
        mail = f"inviata tramite {settings.smtp_host}:{settings.smtp_port}"
    else:
        mail = f"catturata in {data_dir / 'mail'} (smtp://127.0.0.1:{settings.smtp_port})"
    say(f"Registro Distretti è in esecuzione (pronto in {elapsed:.1f} s)")
    say(f"  Registro pubblico:     {api}/registro")
    say(f"  API (documentazione):  {api}/docs")
    say(
        f"  Interfaccia Prefect:   http://127.0.0.1:{settings.prefect_port} (credenziale utente:password in "
        f"{local_secrets.secrets_dir(data_dir) / local_secrets.PREFECT_AUTH}; da terminale: registro prefect …)"
    )
    say(f"  Posta:                 {mail}")
    if settings.uses_embedded_database:
        say(f"  Database:              PostgreSQL in {settings.embedded_pgdata.resolve()} (solo socket locale)")
    say(f"  Dati e log:            {data_dir} (log in {data_dir / 'log'})")
    say("Premi Ctrl-C per fermare tutto.")


def _start_embedded_database(supervisor: Supervisor, settings: Settings) -> str | None:
    pgdata = settings.embedded_pgdata.resolve()
    if embedded_postgres.running_pid(pgdata) is not None:
        return f"ERRORE: un altro processo usa già il database in {pgdata} (un altro 'registro run' o un comando)"
    try:
        postgres = postgres_child(settings)
    except embedded_postgres.EmbeddedPostgresError as refused:
        return f"ERRORE: {refused}"
    supervisor.start(postgres)
    error = supervisor.wait_ready([postgres])
    if error is None:
        created = embedded_postgres.create_databases(pgdata)
        if created:
            say(f"creati i database {', '.join(created)} in {pgdata}")
    return error


def raise_open_file_limit() -> int:
    """The open-file limit up to the hard one, for this process and its children. uvicorn has no
    time limit on half-sent request headers and each holds a file: with the usual soft limit of 1,024,
    about 1,100 of them stopped the API from accepting connections (measured, bench/slow_requests.py).
    Production puts a proxy with header timeouts in front; the embedded default raises the bar."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def run_all() -> None:
    started = time.monotonic()
    settings = get_settings()
    raise_open_file_limit()
    data_dir = prepare_environment(settings)
    supervisor = Supervisor(data_dir / "log")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, supervisor.on_signal)

    tcp, udp = socket.SOCK_STREAM, socket.SOCK_DGRAM
    ports = [
        ("127.0.0.1", settings.prefect_port, "server Prefect", tcp),
        (settings.api_host, settings.api_port, "API", tcp),
    ]
    if stage_dispatch(settings) == FlowDispatch.WORKER:
        ports.append(("127.0.0.1", settings.stage_worker_port, "esecutore delle fasi, UDP", udp))
    if not settings.smtp_host:
        ports.append(("127.0.0.1", settings.smtp_port, "posta locale", tcp))
    busy = [f"{port} ({what})" for host, port, what, kind in ports if not _port_free(host, port, kind)]
    if busy:
        say(f"ERRORE: porte già in uso: {', '.join(busy)}. Un altro 'registro run' è già attivo?")
        raise SystemExit(1)

    _check_versions()
    error: str | None = None
    try:
        if settings.uses_embedded_database:
            error = _start_embedded_database(supervisor, settings)
        if error is None:
            _prepare_database()
        for group in plan(settings, data_dir) if error is None else []:
            for child in group:
                supervisor.start(child)
            error = supervisor.wait_ready(group)
            if error is not None:
                break
        if error is None:
            _banner(settings, data_dir, time.monotonic() - started)
            while not supervisor.stop_requested.wait(0.5):
                if dead := supervisor.dead_child():
                    error = _died(dead)
                    break
    finally:
        if error:
            say(error)
        supervisor.stop_all()
    say("tutto fermato." if not error else "fermato per errore.")
    raise SystemExit(1 if error else 0)
