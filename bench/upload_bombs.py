"""Benchmark: hostile roster spreadsheets against a live API (issue 15, attack 3).

Starts the API alone under uvicorn (``bench/live_api.py``), creates a representative with a draft
application, then uploads each hostile file of ``tests/security/bombs.py`` to
``POST /api/v1/applications/{id}/roster/file`` and prints: the answer (status, Italian message), the
time to it, the API's peak resident memory during the upload (``VmHWM``, reset before each upload),
and how other users fared meanwhile (a login and ``GET /registro`` in a loop: slowest answer, any
error). A watchdog kills the API if its memory passes ``--kill-mb`` (the machine is shared).
With ``--together N``, last, N copies of the shared-strings file are sent at once while a process of
its own times ``GET /registro`` every 50 ms (the slowest answer is printed). On a new PostgreSQL
database (``bench/database.py``: an embedded server of its own in a temporary folder, or the server of
``--postgres``).

    .venv/bin/python bench/upload_bombs.py [--inflated-mb 900] [--kill-mb 3000] [--together 50]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from database import add_postgres_option, fresh_database
from live_api import ADMIN_PASSWORD, PASSWORD, LiveApi, login

from tests.security import bombs

API = "/api/v1"


def prepare(url: str, index: int = 0) -> tuple[dict[str, str], int]:
    admin = login(url, "admin", ADMIN_PASSWORD)
    user = {"username": f"rapp.bomba{index}", "full_name": "Rappresentante", "email": "rapp@example.it",
            "role": "representative", "password": PASSWORD}  # fmt: skip
    httpx.post(f"{url}{API}/users", json=user, headers=admin, timeout=30).raise_for_status()
    rep = login(url, f"rapp.bomba{index}", PASSWORD)
    district = {
        "name": f"Distretto della prova {index}", "section": 1, "supply_chain": "meccanica", "territory": "Bari",
        "representative_org": "Consorzio", "pec_email": f"d{index}@pec.example.it",
    }  # fmt: skip
    httpx.post(f"{url}{API}/districts", json=district, headers=rep, timeout=30).raise_for_status()
    application = httpx.post(f"{url}{API}/applications", json={}, headers=rep, timeout=30)
    application.raise_for_status()
    return rep, int(application.json()["id"])


class Watchdog(threading.Thread):
    def __init__(self, api: LiveApi, kill_kib: int) -> None:
        super().__init__(daemon=True)
        self.api, self.kill_kib, self.killed, self.stop = api, kill_kib, False, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.01) and self.api.alive():
            try:
                rss, _ = self.api.rss_kib()
            except (OSError, KeyError):
                return
            if rss > self.kill_kib:
                assert self.api.proc is not None
                self.api.proc.kill()
                self.killed = True
                return


class Others(threading.Thread):
    """Another user meanwhile: a login, then the public registry, in a loop."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.slowest: dict[str, float] = {"accesso": 0.0, "registro": 0.0}
        self.errors: list[str] = []

    def run(self) -> None:
        credentials = {"username": "admin", "password": ADMIN_PASSWORD}
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self.stop.is_set():
                for what, call in (
                    ("accesso", lambda: http.post(f"{API}/auth/token", data=credentials)),
                    ("registro", lambda: http.get("/registro")),
                ):
                    started = time.monotonic()
                    try:
                        status = call().status_code
                    except httpx.HTTPError as exc:
                        status, self.errors = 0, [*self.errors, f"{what}: {type(exc).__name__}"]
                    self.slowest[what] = max(self.slowest[what], time.monotonic() - started)
                    if status not in (200, 0):
                        self.errors.append(f"{what}: {status}")
                time.sleep(0.05)


def attack(api: LiveApi, rep: dict[str, str], app_id: int, name: str, data: bytes, kill_kib: int) -> None:
    api.reset_peak()
    baseline, _ = api.rss_kib()
    watchdog, others = Watchdog(api, kill_kib), Others(api.url)
    watchdog.start()
    others.start()
    started = time.monotonic()
    try:
        answer = httpx.post(f"{api.url}{API}/applications/{app_id}/roster/file", headers=rep, timeout=300,
                            files={"file": ("elenco.xlsx", data, "application/octet-stream")})  # fmt: skip
        outcome = f"{answer.status_code} «{answer.json().get('detail', '')[:150]}»"
    except httpx.HTTPError as exc:
        outcome = f"nessuna risposta ({type(exc).__name__})"
    elapsed = time.monotonic() - started
    others.stop.set()
    others.join(timeout=70)
    watchdog.stop.set()
    watchdog.join()
    if watchdog.killed:
        print(f"{name} ({len(data) // 1024} kB): API UCCISA oltre {kill_kib // 1024} MB dopo {elapsed:.1f} s")
        return
    _, peak = api.rss_kib()
    stored = httpx.get(f"{api.url}{API}/applications/{app_id}/roster", headers=rep, timeout=30).json()["enterprises"]
    print(f"{name} ({len(data) // 1024} kB): {outcome}")
    print(f"    in {elapsed:.2f} s; memoria dell'API {baseline // 1024} MB prima, picco {peak // 1024} MB; "
          f"imprese salvate {stored}")  # fmt: skip
    slowest = ", ".join(f"{what} {seconds:.2f} s" for what, seconds in others.slowest.items())
    print(f"    intanto un altro utente: risposta più lenta {slowest}; errori: {others.errors or 'nessuno'}")


PROBE = """
import sys, time, httpx
worst, stop = 0.0, time.monotonic() + float(sys.argv[2])
with httpx.Client(timeout=120) as http:
    while time.monotonic() < stop:
        started = time.monotonic()
        http.get(sys.argv[1] + "/registro")
        worst = max(worst, time.monotonic() - started)
        time.sleep(0.05)
print(f"{worst:.2f}")
"""


def together(api: LiveApi, rep: dict[str, str], app_id: int, count: int, data: bytes) -> None:
    api.reset_peak()
    baseline, _ = api.rss_kib()
    probe = subprocess.Popen([sys.executable, "-c", PROBE, api.url, "15"], stdout=subprocess.PIPE, text=True)
    answers: list[int] = []

    def one() -> None:
        url = f"{api.url}{API}/applications/{app_id}/roster/file"
        response = httpx.post(url, headers=rep, timeout=600, files={"file": ("elenco.xlsx", data)})
        answers.append(response.status_code)

    started = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    worst = probe.communicate()[0].strip()
    print(f"{count} × testi condivisi insieme: {sorted(set(answers))} in {elapsed:.1f} s; memoria dell'API "
          f"{baseline // 1024} MB prima, picco {api.rss_kib()[1] // 1024} MB; GET /registro "
          f"(altro processo, primi 15 s) al più {worst} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inflated-mb", type=int, default=900, help="what the blank rows and strings inflate to")
    parser.add_argument("--kill-mb", type=int, default=3000)
    parser.add_argument("--only", nargs="*", default=None, help="names of the files to try")
    parser.add_argument("--together", type=int, default=0, help="then N shared-strings files at once")
    add_postgres_option(parser)
    args = parser.parse_args()
    inflated = args.inflated_mb * bombs.MB
    files: dict[str, Callable[[], bytes]] = {
        "righe vuote": lambda: bombs.blank_rows(inflated),
        "riga lontana": bombs.far_row,
        "testi condivisi": lambda: bombs.shared_strings(inflated),
        "directory falsa": lambda: bombs.lying_directory(inflated),
        "bzip2": bombs.other_compression,
        "elementi annidati": bombs.deep_elements,
        "attributo lungo": bombs.long_attribute,
        "molti attributi": bombs.many_attributes,
        "commento": bombs.comment,
    }
    with tempfile.TemporaryDirectory(prefix="registro-bench-") as tmp, fresh_database(args.postgres) as database_url:
        api = LiveApi(Path(tmp), database_url)
        api.start()
        try:
            rep, app_id = prepare(api.url)
            print(f"uvicorn su {api.url}; file gonfiati a {args.inflated_mb} MB")
            for index, (name, build) in enumerate(files.items(), start=1):
                if args.only and name not in args.only:
                    continue
                if not api.alive():  # killed by the watchdog: a new process on the same data
                    api.start()
                    rep, app_id = prepare(api.url, index)
                attack(api, rep, app_id, name, build(), args.kill_mb * 1024)
            if args.together and api.alive():
                together(api, rep, app_id, args.together, bombs.shared_strings(inflated))
        finally:
            api.stop()


if __name__ == "__main__":
    main()
