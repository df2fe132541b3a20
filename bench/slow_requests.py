"""Benchmark: the public registry's latency while half-sent requests stay open (issue 15, attack 2).

Starts the API alone under uvicorn (``bench/live_api.py``), then for each count N opens N connections
that send the headers of ``POST /api/v1/auth/token`` with ``Content-Length: 1000`` and one byte of
body (``--kind body``), the same with ``Transfer-Encoding: chunked`` and one chunk (``chunked``), or
only part of the headers of ``GET /registro`` (``headers``), and keeps them open. Meanwhile it times
``GET /registro`` a few times (timeout 30 s: a timeout prints as ``>30``), then waits for what the
server answers the stalled connections (status and seconds since they were opened, at most
``--wait`` seconds).

On a new PostgreSQL database (``bench/database.py``: an embedded server of its own in a temporary
folder, or the server of ``--postgres``).

    .venv/bin/python bench/slow_requests.py --counts 15 50 --kind body
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from database import add_postgres_option, fresh_database
from live_api import LiveApi

SAMPLES = 5
HEADS = {
    "body": (
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nu"
    ),
    "chunked": (
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nu\r\n"
    ),
    "headers": b"GET /registro HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Lento: ",
}


def open_stalled(port: int, kind: str, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(HEADS[kind])
        sockets.append(sock)
    return sockets


def registro_latency(url: str) -> list[str]:
    figures = []
    with httpx.Client(timeout=30) as http:
        for _ in range(SAMPLES):
            started = time.monotonic()
            try:
                status = http.get(f"{url}/registro").status_code
                figures.append(f"{time.monotonic() - started:.3f}" + ("" if status == 200 else f" ({status})"))
            except httpx.TimeoutException:
                figures.append(">30")
    return figures


def answers(sockets: list[socket.socket], opened: float, wait: float) -> str:
    """What the server answered each stalled connection, and when (s since they were opened)."""
    outcomes: dict[str, list[float]] = {}
    deadline = opened + wait
    for sock in sockets:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            head = sock.recv(64)
            status = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/") else "chiusa"
        except TimeoutError:
            status = "aperta"
        except OSError:
            status = "chiusa"
        outcomes.setdefault(status, []).append(time.monotonic() - opened)
        sock.close()
    return ", ".join(
        f"{len(times)} × {status}" + (f" dopo {min(times):.1f}-{max(times):.1f} s" if status != "aperta" else "")
        for status, times in outcomes.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[0, 15, 50])
    parser.add_argument("--kind", choices=sorted(HEADS), default="body")
    parser.add_argument("--wait", type=float, default=40.0, help="seconds to wait for the stalled answers")
    add_postgres_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="registro-bench-") as tmp, fresh_database(args.postgres) as database_url:
        api = LiveApi(Path(tmp), database_url)
        api.start()
        try:
            print(f"uvicorn su {api.url}, richieste ferme: {args.kind}")
            for count in args.counts:
                opened = time.monotonic()
                stalled = open_stalled(api.port, args.kind, count)
                time.sleep(0.5)
                figures = registro_latency(api.url)
                valid = [float(f.split()[0]) for f in figures if not f.startswith(">")]
                summary = f"mediana {statistics.median(valid):.3f} s" if valid else "nessuna risposta"
                print(f"{count:3d} aperte: GET /registro {', '.join(figures)} s ({summary})")
                if count:
                    print(f"    risposte alle richieste ferme: {answers(stalled, opened, args.wait)}")
        finally:
            api.stop()


if __name__ == "__main__":
    main()
