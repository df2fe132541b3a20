"""Benchmark: N applications driven through the HTTP API from draft to registry entry.

Starts the embedded default (``registro run``: its own PostgreSQL server under the data directory,
with the application's and the Prefect server's databases, the API, the Prefect server, the runner,
the mail capture) in a temporary data directory, creates the staff and N districts, then drives every
application with a bounded number of districts in flight:
submit → start review → complete → three committee scores → approve → issue act.

Prints the API action latency p50/p95, the time from an action to its stage flow's completion
p50/p95, the total, and — against the same Prefect server, at the same concurrency — the time
of the same number of empty async flow runs, so the orchestration overhead is a ratio. The empty
runs are timed twice: as plain Prefect makes them (two new API clients per run) and sharing one
client pair, as the stage worker does (``flows.dispatch.shared_prefect_clients``); the second is the
fair baseline. Last, the CPU each process used during the drive, per action (PostgreSQL: its server
and those of its backends still open when measured).

    .venv/bin/python bench/lifecycle_http.py --applications 200 --concurrency 8
    .venv/bin/python bench/lifecycle_http.py --applications 5 --concurrency 2   # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registro.fake_enterprises import make_roster  # noqa: E402

ADMIN_PASSWORD = "il faro di Punta Palascia"  # registro.password_policy
PASSWORD = "Scogliere bianche di Polignano 58"  # registro.password_policy
WAIT_SECONDS = 10  # the driver awaits each action's outcome on the server (GET /actions/{id}?wait=)
OFFICIAL, HEAD, COMMITTEE = "funz.bench", "dir.bench", ("val1.bench", "val2.bench", "val3.bench")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PROCESS_LABELS = (  # a child's command line → what the CPU table calls it
    ("registro.prefect_server", "server Prefect"),
    ("registro.stage_worker", "esecutore delle fasi"),
    ("uvicorn", "API"),
    ("registro.serve", "runner Prefect"),
    ("registro.mailcatcher", "posta"),
    ("registro.cli", "supervisore"),
    ("prefect.engine", "flussi pianificati (runner)"),
    ("postgres", "PostgreSQL"),  # the server and its backends (those still connected at the end)
)


def process_cpu(root_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by ``root_pid`` and its descendants, by label (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    stats: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        stats[int(entry.name)] = (cmdline, (int(fields[11]) + int(fields[12])) / tick)
    cpu: dict[str, float] = {}
    for pid, (cmdline, seconds) in stats.items():
        ancestor = pid
        while ancestor not in (root_pid, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor != root_pid:
            continue
        label = next((name for key, name in PROCESS_LABELS if key in cmdline), "altro")
        cpu[label] = cpu.get(label, 0.0) + seconds
    return cpu


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class System:
    """The embedded default as a child process, in its own data directory and ports."""

    def __init__(self, data_dir: Path) -> None:
        self.api_port, self.prefect_port, self.smtp_port = free_port(), free_port(), free_port()
        self.worker_port = free_port(socket.SOCK_DGRAM)
        self.data_dir = data_dir
        # the embedded default: registro run's own PostgreSQL for the application and the Prefect server
        unset = ("REGISTRO_DATABASE_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
        self.env = {name: value for name, value in os.environ.items() if name not in unset}
        self.env.update(
            REGISTRO_DATA_DIR=str(data_dir),
            REGISTRO_API_PORT=str(self.api_port),
            REGISTRO_PREFECT_PORT=str(self.prefect_port),
            REGISTRO_SMTP_PORT=str(self.smtp_port),
            REGISTRO_STAGE_WORKER_PORT=str(self.worker_port),
            REGISTRO_ADMIN_PASSWORD=ADMIN_PASSWORD,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )
        self.log = open(data_dir / "system.log", "w")  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def prefect_api(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    def prefect_credential(self) -> str:
        """The credential `registro run` generated for its Prefect server (registro.local_secrets)."""
        from registro.local_secrets import PREFECT_AUTH, secrets_dir

        return (secrets_dir(self.data_dir) / PREFECT_AUTH).read_text(encoding="utf-8").strip()

    def start(self, timeout: float = 180) -> float:
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "registro.cli", "run"], cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log
        )
        while time.perf_counter() - started < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"il sistema si è fermato all'avvio: vedere {self.log.name}")
            try:
                if httpx.get(f"{self.api}/api/v1/registry", timeout=2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit("il sistema non è partito in tempo")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


class Driver:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}
        self.latencies: list[float] = []
        self.completions: list[float] = []
        self.actions = 0

    async def login(self, username: str, password: str = PASSWORD) -> str:
        response = await self.client.post("/api/v1/auth/token", data={"username": username, "password": password})
        response.raise_for_status()
        self.tokens[username] = response.json()["access_token"]
        return self.tokens[username]

    async def call(self, user: str, method: str, url: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        response = await self.client.request(method, url, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {url} → {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None

    async def action(self, user: str, app_id: int, event: str, body: dict[str, Any] | None = None) -> None:
        sent_at = datetime.now(UTC)
        started = time.perf_counter()
        accepted = await self.call(user, "POST", f"/api/v1/applications/{app_id}/actions/{event}", json=body)
        self.latencies.append(time.perf_counter() - started)
        action_id = accepted["action"]["id"]
        status = accepted["action"]
        while status["status"] not in ("done", "failed"):  # its end time is read from the server
            status = await self.call(user, "GET", f"/api/v1/actions/{action_id}", params={"wait": WAIT_SECONDS})
        finished_at = datetime.fromisoformat(status["finished_at"])
        self.completions.append((finished_at - sent_at).total_seconds())
        self.actions += 1
        if status["status"] == "failed":
            raise RuntimeError(f"azione {event} della domanda {app_id} fallita: {status['error']}")


async def create_staff(driver: Driver, admin: str) -> None:
    users = [(OFFICIAL, "official"), (HEAD, "head")] + [(u, "committee") for u in COMMITTEE]
    for username, role in users:
        await driver.call(
            admin,
            "POST",
            "/api/v1/users",
            json={
                "username": username,
                "full_name": username,
                "email": f"{username}@regione.example",
                "role": role,
                "office": "ricerca",
                "password": PASSWORD,
            },
        )
        await driver.login(username)


async def prepare_application(driver: Driver, admin: str, index: int) -> int:
    rep = f"rapp{index}.bench"
    await driver.call(
        admin,
        "POST",
        "/api/v1/users",
        json={
            "username": rep,
            "full_name": f"Rappresentante {index}",
            "email": f"{rep}@example.it",
            "role": "representative",
            "password": PASSWORD,
        },
    )
    await driver.login(rep)
    await driver.call(
        rep,
        "POST",
        "/api/v1/districts",
        json={
            "name": f"Distretto di prova {index}",
            "section": 1,
            "supply_chain": "meccanica",
            "territory": "Bari",
            "representative_org": f"Consorzio {index}",
            "pec_email": f"d{index}@pec.example.it",
        },
    )
    application = await driver.call(
        rep,
        "POST",
        "/api/v1/applications",
        json={"programme_summary": "Programma di sviluppo", "specificity": "Filiera unica nella regione"},
    )
    app_id = int(application["id"])
    await driver.call(
        rep,
        "PUT",
        f"/api/v1/applications/{app_id}/roster",
        json={"rows": make_roster(50, seed=index % 400, employees_each=4)},
    )
    for kind in ("pact", "development_programme", "representative_appointment"):
        files = {
            "file": (f"{kind}.pdf", b"%PDF-1.4\n% bench document " + kind.encode() + b"\n%%EOF\n", "application/pdf")
        }
        await driver.call(rep, "POST", f"/api/v1/applications/{app_id}/documents", data={"kind": kind}, files=files)
    return app_id


async def drive(driver: Driver, index: int, app_id: int) -> None:
    rep, official, head = f"rapp{index}.bench", OFFICIAL, HEAD
    await driver.action(rep, app_id, "submit")
    await driver.action(official, app_id, "start_review")
    await driver.action(official, app_id, "declare_complete")
    for member in COMMITTEE:
        await driver.call(
            member,
            "POST",
            f"/api/v1/applications/{app_id}/evaluations",
            json={"scores": {"filiera": 20, "programma": 24, "specificita": 15, "impatto": 20}},
        )
    await driver.action(official, app_id, "approve")
    await driver.action(head, app_id, "issue_act", {"publication_ref": "BURP bench"})


async def bounded(concurrency: int, jobs: list[Any]) -> None:
    semaphore = asyncio.Semaphore(concurrency)

    async def run(job: Any) -> None:
        async with semaphore:
            await job

    await asyncio.gather(*(run(job) for job in jobs))


async def empty_flows(count: int, concurrency: int, *, shared_clients: bool = False) -> float:
    """``shared_clients``: the runs share one Prefect client pair, as the stage worker's do."""
    from prefect import flow

    from flows.dispatch import shared_prefect_clients

    @flow(name="empty-bench", log_prints=False, persist_result=False)
    async def empty() -> None:
        return None

    failed = 0

    async def one() -> None:
        nonlocal failed
        try:
            await empty()
        except Exception:  # e.g. an error of the Prefect server after the client's retries
            failed += 1

    async with contextlib.AsyncExitStack() as stack:
        if shared_clients:
            await stack.enter_async_context(shared_prefect_clients())
        started = time.perf_counter()
        await bounded(concurrency, [one() for _ in range(count)])
        elapsed = time.perf_counter() - started
    from prefect.logging.handlers import APILogHandler

    await APILogHandler.aflush()  # the runs' last log lines reach the server before it stops
    if failed:
        print(f"  ATTENZIONE: {failed} flussi vuoti non riusciti (vedere le righe di errore sopra)")
    return elapsed


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="registro-bench-"))
    system = System(data_dir)
    print("Server Prefect e applicazione sul PostgreSQL incorporato di registro run", flush=True)
    print(f"Avvio del sistema incorporato in {data_dir} …", flush=True)
    print(f"  pronto in {system.start():.1f} s", flush=True)
    try:
        async with httpx.AsyncClient(base_url=system.api, timeout=60) as client:
            driver = Driver(client)
            admin = "admin"
            await driver.login(admin, ADMIN_PASSWORD)
            await create_staff(driver, admin)
            started = time.perf_counter()
            app_ids = []
            for i in range(1, args.applications + 1):
                app_ids.append(await prepare_application(driver, admin, i))
                if i % 50 == 0:
                    print(f"  bozze preparate: {i}/{args.applications}", flush=True)
            print(f"Preparazione (utenti, distretti, elenchi, documenti): {time.perf_counter() - started:.1f} s")
            assert system.proc is not None
            cpu_before, client_before = process_cpu(system.proc.pid), own_cpu()
            started = time.perf_counter()
            await bounded(args.concurrency, [drive(driver, i, a) for i, a in enumerate(app_ids, 1)])
            total = time.perf_counter() - started
            cpu_after, client_after = process_cpu(system.proc.pid), own_cpu()
            registry = await client.get("/api/v1/registry", params={"status": "active", "limit": 1})
            active = int(registry.headers["X-Total-Count"])  # the registry is paged: its total
        os.environ["PREFECT_API_URL"] = system.prefect_api
        os.environ["PREFECT_API_AUTH_STRING"] = system.prefect_credential()
        empty_total = await empty_flows(driver.actions, args.concurrency)
        empty_shared_total = await empty_flows(driver.actions, args.concurrency, shared_clients=True)
    finally:
        system.stop()
    ms = 1000
    print(f"\nMacchina: {os.cpu_count()} core; domande: {args.applications}; in parallelo: {args.concurrency}")
    print(f"Azioni: {driver.actions}; iscritte nel registro: {active}")
    print(
        f"Latenza API delle azioni      p50 {percentile(driver.latencies, 50) * ms:7.1f} ms   "
        f"p95 {percentile(driver.latencies, 95) * ms:7.1f} ms"
    )
    print(
        f"Azione → flusso completato    p50 {percentile(driver.completions, 50) * ms:7.1f} ms   "
        f"p95 {percentile(driver.completions, 95) * ms:7.1f} ms"
    )
    print(f"Totale (dalla bozza al registro): {total:.1f} s  ({driver.actions / total:.1f} azioni/s)")
    print(f"{driver.actions} flussi Prefect vuoti (async, stesso server, stesso parallelismo): {empty_total:.1f} s")
    print(f"  gli stessi con un solo client Prefect, come l'esecutore delle fasi: {empty_shared_total:.1f} s")
    print(f"Rapporto totale / flussi vuoti: {total / empty_total:.2f}x")
    print(f"Rapporto totale / flussi vuoti con client condiviso: {total / empty_shared_total:.2f}x")
    print(f"Media per azione: {statistics.mean(driver.completions) * ms:.0f} ms")
    used = {label: cpu_after.get(label, 0.0) - cpu_before.get(label, 0.0) for label in cpu_after}
    used["client del benchmark"] = client_after - client_before
    available = total * (os.cpu_count() or 1)
    print(f"CPU durante la corsa (su {available:.0f} s disponibili, {os.cpu_count()} core × {total:.0f} s):")
    for label, seconds in sorted(used.items(), key=lambda item: -item[1]):
        per_action = seconds / max(driver.actions, 1) * ms
        print(f"  {label:<22} {seconds:6.1f} s  ({per_action:5.1f} ms per azione)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applications", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
