"""The API alone under uvicorn, as a child process on a free port of 127.0.0.1 with a data folder of
its own and a PostgreSQL database given by URL (``bench/database.py``'s ``fresh_database``: a new one on
an embedded server of the benchmark's own, or on the server of ``--postgres``), for the benchmarks that
attack it from outside:
``bench/slow_requests.py`` and ``bench/upload_bombs.py``. Also what they measure it with (its peak
resident memory, ``VmHWM`` in ``/proc/<pid>/status``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "Pozzanghere di Murgia e Salento 41"
PASSWORD = "Uliveti secolari di Ostuni 73"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveApi:
    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update(
            REGISTRO_DATA_DIR=str(data_dir),
            REGISTRO_FLOW_DISPATCH="inprocess",
            REGISTRO_ADMIN_PASSWORD=ADMIN_PASSWORD,
            REGISTRO_DATABASE_URL=database_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )
        self.log = open(data_dir / "api.log", "w")  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> None:
        subprocess.run([sys.executable, "-m", "registro.cli", "init-db"], cwd=ROOT, env=self.env, check=True,
                       stdout=self.log, stderr=self.log)  # fmt: skip
        command = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log)
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"l'API si è fermata all'avvio: vedere {self.log.name}")
            try:
                if httpx.get(f"{self.url}/registro", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit("l'API non è partita in tempo")

    def rss_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the API process in KiB: now and the peak since it started."""
        assert self.proc is not None
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines() if ":" in line
        )
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

    def reset_peak(self) -> None:
        """Resets VmHWM to the current RSS (Linux: writing 5 to clear_refs)."""
        assert self.proc is not None
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def login(url: str, username: str, password: str) -> dict[str, str]:
    response = httpx.post(f"{url}/api/v1/auth/token", data={"username": username, "password": password}, timeout=30)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
