"""Benchmark: the public registry page while failed logins arrive in waves, with production Argon2 costs.

Starts the API alone (``uvicorn api.main:app``, as the README's production command, flows in-process)
on a temporary data folder and a new PostgreSQL database (``bench/database.py``: an embedded server of
its own in a temporary folder, or the server of ``--postgres``) with the demonstration data and Argon2
at its production cost (time cost 3, 64 MiB: the variables the test suite lowers are removed). A
visitor reads ``GET /registro`` one request after the other, first on an idle API, then while
``--waves`` waves of ``--logins`` concurrent failed logins arrive (each from its own 127.0.0.x address,
wrong password for a real user). Prints the page's latency p50/p95/max (read every 100 ms) idle and
under the waves, how the logins were answered, and the API process's resident memory (RSS now and its
peak, VmHWM).

    .venv/bin/python bench/login_load.py                      # this checkout
    .venv/bin/python bench/login_load.py --project /tmp/main  # another checkout (e.g. main, to compare)
    .venv/bin/python bench/login_load.py --logins 5 --waves 1 --idle-seconds 1   # a quick check
"""

from __future__ import annotations

import argparse
import collections
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from database import add_postgres_option, fresh_database

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "Tramonto sul Gargano, 1987"
VISIT_INTERVAL = 0.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB (Linux /proc)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def describe(values: list[float]) -> str:
    if not values:
        return "nessuna misura"
    p50, p95, top = (1000 * v for v in (statistics.median(values), percentile(values, 0.95), max(values)))
    return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {top:.0f} ms ({len(values)} richieste)"


def visit(base: str, stop: threading.Event, times: list[float], limit: float) -> None:
    """Reads the public page every VISIT_INTERVAL seconds (open loop: a stalled page is sampled again
    and again, not once) until ``stop`` (or ``limit`` seconds); each reading's latency in ``times``."""
    deadline = time.monotonic() + limit

    def read(client: httpx.Client) -> float:
        started = time.perf_counter()
        client.get("/registro").raise_for_status()
        return time.perf_counter() - started

    limits = httpx.Limits(max_connections=64)
    with httpx.Client(base_url=base, timeout=120, limits=limits) as client, ThreadPoolExecutor(64) as pool:
        futures = []
        while not stop.is_set() and time.monotonic() < deadline:
            futures.append(pool.submit(read, client))
            time.sleep(VISIT_INTERVAL)
        times.extend(f.result() for f in futures)


def failed_login(client: httpx.Client, start: threading.Barrier) -> tuple[int, float]:
    start.wait()
    started = time.perf_counter()
    response = client.post("/api/v1/auth/token", data={"username": "admin", "password": "sbagliata-di-proposito"})
    return response.status_code, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=ROOT, help="the checkout whose API is measured")
    parser.add_argument("--logins", type=int, default=60, help="concurrent failed logins in a wave")
    parser.add_argument("--waves", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--hashing-concurrency", type=int, help="REGISTRO_PASSWORD_HASHING_CONCURRENCY if given")
    add_postgres_option(parser)
    args = parser.parse_args()
    with fresh_database(args.postgres) as database_url:
        measure(args, database_url)


def measure(args: argparse.Namespace, database_url: str) -> None:
    project = args.project.resolve()
    data_dir = Path(tempfile.mkdtemp(prefix="registro-bench-login-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRO_")}
    env.update(
        REGISTRO_DATA_DIR=str(data_dir), REGISTRO_DATABASE_URL=database_url, REGISTRO_FLOW_DISPATCH="inprocess",
        REGISTRO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PYTHONPATH=str(project), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING",
    )  # fmt: skip
    if args.hashing_concurrency:
        env["REGISTRO_PASSWORD_HASHING_CONCURRENCY"] = str(args.hashing_concurrency)
    python = sys.executable
    quiet = {"cwd": project, "env": env, "stdout": subprocess.DEVNULL, "check": True}
    subprocess.run([python, "-m", "registro.cli", "init-db"], **quiet)
    subprocess.run([python, "-m", "registro.cli", "demo-data"], **quiet)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (data_dir / "api.log").open("w")
    argv = [python, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    api = subprocess.Popen(argv, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/registro", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if api.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"l'API non è partita: vedi {data_dir / 'api.log'}")
            time.sleep(0.3)
        print(f"Progetto: {project}  (API pid {api.pid}, Argon2 ai costi di produzione)")
        print(f"Memoria dell'API a riposo: RSS {memory_kib(api.pid)[0] / 1024:.0f} MiB")
        idle: list[float] = []
        visit(base, threading.Event(), idle, args.idle_seconds)
        print(f"Pagina pubblica a riposo:          {describe(idle)}")
        under: list[float] = []
        answers: collections.Counter[int] = collections.Counter()
        login_times: list[float] = []
        peak_rss = 0
        for wave in range(args.waves):
            stop = threading.Event()
            visitor = threading.Thread(target=visit, args=(base, stop, under, 300.0))
            visitor.start()
            # the clients (each its own 127.0.x.y address) made before the wave: it starts all at once
            clients = [
                httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=f"127.0.{wave + 1}.{n + 10}"),
                             timeout=120)
                for n in range(args.logins)
            ]  # fmt: skip
            start = threading.Barrier(args.logins)
            with ThreadPoolExecutor(max_workers=args.logins) as pool:
                futures = [pool.submit(failed_login, client, start) for client in clients]
                while not all(f.done() for f in futures):
                    peak_rss = max(peak_rss, memory_kib(api.pid)[0])
                    time.sleep(0.05)
                for future in futures:
                    status, seconds = future.result()
                    answers[status] += 1
                    login_times.append(seconds)
            for client in clients:
                client.close()
            time.sleep(0.5)  # the visitor's last requests after the wave
            stop.set()
            visitor.join()
        hwm = memory_kib(api.pid)[1]
        print(f"Pagina pubblica durante {args.waves} ondate di {args.logins} accessi falliti: {describe(under)}")
        print(f"Risposte agli accessi: {dict(sorted(answers.items()))}; durata {describe(login_times)}")
        print(f"Memoria dell'API: RSS massimo osservato {peak_rss / 1024:.0f} MiB, picco (VmHWM) {hwm / 1024:.0f} MiB")
    finally:
        api.terminate()
        try:
            api.wait(timeout=20)
        except subprocess.TimeoutExpired:
            api.kill()
        log.close()


if __name__ == "__main__":
    main()
