"""Attack (issue 15, 2): requests that send their headers and then stall the body must not take the
API's in-flight slots. On a live uvicorn, 50 such requests (more than the 30 slots), half with
``Content-Length: 1000`` and one byte of body, half chunked with one chunk, stay open while
``GET /registro`` must answer at once; then each gets a 408 in Italian when its time runs out."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session

from api.main import create_app
from registro.settings import get_settings
from tests.live_server import serve_in_thread

STALLED = 50
GRACE = 4.0  # REGISTRO_BODY_GRACE_SECONDS in this test (the default is 10 s)
LOGIN_HEAD = (
    b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
)
SIZED = LOGIN_HEAD + b"Content-Length: 1000\r\n\r\nu"
CHUNKED = LOGIN_HEAD + b"Transfer-Encoding: chunked\r\n\r\n1\r\nu\r\n"


@pytest.fixture
def short_grace_app(session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setenv("REGISTRO_BODY_GRACE_SECONDS", str(GRACE))
    get_settings.cache_clear()
    try:
        yield create_app()
    finally:
        monkeypatch.delenv("REGISTRO_BODY_GRACE_SECONDS")
        get_settings.cache_clear()


def read_answer(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        pass
    return received


def test_half_sent_bodies_do_not_starve_the_public_registry(short_grace_app: FastAPI) -> None:
    with serve_in_thread(short_grace_app) as url:
        port = int(url.rsplit(":", 1)[1])
        opened = time.monotonic()
        stalled = []
        try:
            for index in range(STALLED):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(SIZED if index % 2 else CHUNKED)
                stalled.append(sock)
            time.sleep(0.3)  # every one of them has reached the app
            started = time.monotonic()
            try:
                page = httpx.get(f"{url}/registro", timeout=10)
            except httpx.TimeoutException:
                pytest.fail(f"GET /registro without an answer in 10 s while {STALLED} half-sent requests are open")
            elapsed = time.monotonic() - started
            assert page.status_code == 200 and elapsed < 2.0, elapsed
            assert time.monotonic() - opened < GRACE  # they were all still open meanwhile

            answers = [read_answer(sock, GRACE + 10 - (time.monotonic() - opened)) for sock in stalled]
            waited = time.monotonic() - opened
        finally:
            for sock in stalled:
                sock.close()
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers), {a[:40] for a in answers}
    assert all("tempo" in answer.decode() and "richiesta" in answer.decode() for answer in answers)
    assert GRACE <= waited < GRACE + 8
