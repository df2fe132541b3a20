"""Attack 5 of issue 15: login throttling that an attacker can neither bypass nor turn against the owner.

- A client's ``X-Forwarded-For`` must not change the address the app sees (the API started the way
  ``registro run`` starts it): neither to get fresh attempts nor to lock out the owner's address.
- The owner logs in at once from their address, however many failures an attacker piled up
  elsewhere, from one address or from many.
- One address trying many usernames is throttled; the throttle's memory stays bounded.
- Failed logins waiting for Argon2 do not hold up the public pages.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import auth
from registro.db import get_engine
from registro.embedded import plan
from registro.serve import PROJECT_ROOT
from registro.settings import Settings, get_settings
from tests.api_support import API, People
from tests.factories import PASSWORD
from tests.live_server import serve_in_thread
from tests.registro.test_embedded import free_port

WRONG = "tentativo-sbagliato-1"


def token(client: httpx.Client | TestClient, username: str, password: str, **headers: str) -> int:
    response = client.post(f"{API}/auth/token", data={"username": username, "password": password}, headers=headers)
    return response.status_code


def from_address(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=(address, 40000))


def local_client(base_url: str, address: str) -> httpx.Client:
    """An HTTP client whose connections leave from ``address`` (any of 127.0.0.0/8 on Linux)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=30)


# ---- the API as `registro run` starts it -----------------------------------------------------------------


@contextmanager
def api_as_registro_run_starts_it(tmp_path: Path, trusted_proxies: str = "") -> Iterator[str]:
    """uvicorn with the argv of ``registro.embedded.plan`` (its own process), on the test database."""
    port = free_port()
    settings = Settings(api_host="127.0.0.1", api_port=port, trusted_proxies=trusted_proxies)
    api = next(child for group in plan(settings, tmp_path) for child in group if child.name == "api")
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, **api.env, "REGISTRO_FLOW_DISPATCH": "inprocess", "PYTHONPATH": path}
    env["REGISTRO_TRUSTED_PROXIES"] = trusted_proxies
    env.pop("FORWARDED_ALLOW_IPS", None)  # uvicorn's own default, as on a fresh machine
    log = (tmp_path / "api.log").open("w")
    proc = subprocess.Popen(api.argv, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "api.log").read_text()
            try:
                if httpx.get(f"{base}/registro", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API did not start in 60 s"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def embedded_api(people: People, tmp_path: Path) -> Iterator[str]:
    with api_as_registro_run_starts_it(tmp_path) as base:
        yield base


def test_registro_run_believes_proxy_headers_only_from_the_configured_proxies(tmp_path: Path) -> None:
    def api_argv(**settings: str) -> list[str]:
        groups = plan(Settings(**settings), tmp_path)  # type: ignore[arg-type]
        return next(child.argv for group in groups for child in group if child.name == "api")

    assert "--no-proxy-headers" in api_argv() and "--forwarded-allow-ips" not in api_argv()
    behind = api_argv(trusted_proxies="10.0.0.5, 10.0.0.6")
    assert "--proxy-headers" in behind
    assert behind[behind.index("--forwarded-allow-ips") + 1] == "10.0.0.5,10.0.0.6"


def test_a_forwarded_for_header_from_a_client_gives_no_fresh_attempts(embedded_api: str, people: People) -> None:
    with local_client(embedded_api, "127.0.0.1") as attacker:
        statuses = [
            token(attacker, people.head.username, WRONG, **{"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(7)
        ]
    # the app sees the socket's address, 127.0.0.1, every time: the limit for that address applies
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]


def test_an_attacker_naming_the_owners_address_cannot_lock_the_owner_out(embedded_api: str, people: People) -> None:
    with local_client(embedded_api, "127.0.0.1") as attacker:
        for _ in range(8):
            token(attacker, people.head.username, WRONG, **{"X-Forwarded-For": "127.0.0.3"})
    with local_client(embedded_api, "127.0.0.3") as owner:
        assert token(owner, people.head.username, PASSWORD) == 200


def test_behind_a_configured_proxy_only_the_proxy_is_believed(people: People, tmp_path: Path) -> None:
    with api_as_registro_run_starts_it(tmp_path, trusted_proxies="127.0.0.1") as base:
        with local_client(base, "127.0.0.1") as proxy:  # seven clients, as the proxy forwards them
            forwarded = [
                token(proxy, people.head.username, WRONG, **{"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(7)
            ]
        with local_client(base, "127.0.0.2") as client:  # not a proxy: its header is not believed
            direct = [
                token(client, people.rep.username, WRONG, **{"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(7)
            ]
    assert forwarded == [401] * 7
    assert direct == [401] * 5 + [429, 429]


# ---- the throttle's rules (the app in-process, one client address per TestClient) -------------------------


def test_the_owner_logs_in_from_another_address_after_an_attack_from_many(app: FastAPI, people: People) -> None:
    target = people.head.username
    for n in range(40):  # a distributed attacker: 40 addresses, each until it is refused
        attacker = from_address(app, f"198.51.100.{n}")
        statuses = [token(attacker, target, WRONG) for _ in range(6)]
        assert 429 in statuses
    owner = from_address(app, "192.0.2.10")
    assert token(owner, target, PASSWORD) == 200  # at once, at the first attempt
    page = owner.get("/accesso")
    assert page.status_code == 200


def test_one_address_trying_many_usernames_is_throttled(app: FastAPI, people: People) -> None:
    sprayer = from_address(app, "198.51.100.77")
    statuses = [token(sprayer, f"utente{n}", "Estate2024!") for n in range(60)]
    assert 429 in statuses, statuses
    assert statuses.index(429) <= 30
    refused = sprayer.post(f"{API}/auth/token", data={"username": people.rep.username, "password": WRONG})
    assert refused.status_code == 429
    assert "da questo indirizzo" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) > 0
    assert token(from_address(app, "192.0.2.11"), people.rep.username, PASSWORD) == 200  # others log in


def test_an_ipv6_attacker_cannot_spread_over_its_64_network(app: FastAPI, people: People) -> None:
    statuses = [token(from_address(app, f"2001:db8:1:2::{n:x}"), people.head.username, WRONG) for n in range(8)]
    assert statuses[5:] == [429, 429, 429]


def test_the_throttles_memory_is_bounded() -> None:
    throttle = auth.LoginThrottle()
    now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for n in range(60_000):  # usernames and addresses that never repeat, within one window
            address = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
            throttle.begin(f"utente{n}", address, now + timedelta(milliseconds=n))  # never succeeds: a failure
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 30 * 1024 * 1024, f"{(after - before) / 2**20:.1f} MiB"


# ---- failed logins and the public pages ---------------------------------------------------------------------


@pytest.fixture
def short_wait_for_a_turn(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REGISTRO_PASSWORD_WAIT_SECONDS", "0.5")  # then 503
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_failed_logins_waiting_for_argon2_do_not_hold_up_the_public_pages(
    app: FastAPI, people: People, monkeypatch: pytest.MonkeyPatch, short_wait_for_a_turn: None
) -> None:
    release = threading.Event()
    checking = threading.Semaphore(0)

    def slow_check(password_hash: str, password: str) -> bool:  # Argon2 under a heavy load, held until released
        checking.release()
        release.wait(timeout=60)
        return False

    monkeypatch.setattr(auth, "verify_password", slow_check)
    results: list[Any] = []
    with serve_in_thread(app) as base, ThreadPoolExecutor(max_workers=40) as pool:

        def attempt(n: int) -> int:
            with local_client(base, f"127.0.0.{10 + n}") as client:
                return token(client, people.official.username, WRONG)

        futures = [pool.submit(attempt, n) for n in range(40)]
        try:
            assert checking.acquire(timeout=30), "no login reached the password check"
            time.sleep(1.0)  # the others are in line by now
            connections = get_engine().pool.checkedout()  # type: ignore[attr-defined]
            started = time.monotonic()
            with local_client(base, "127.0.0.5") as visitor:
                public = visitor.get("/registro", timeout=15)
            elapsed = time.monotonic() - started
        finally:
            release.set()
            results = [f.result(timeout=60) for f in futures]
    assert public.status_code == 200
    assert connections <= get_settings().password_hashing_concurrency, connections  # none held while in line
    assert elapsed < 5, f"{elapsed:.1f} s"
    assert set(results) <= {401, 503}, results
    assert 503 in results  # the ones that waited too long for a turn: told to retry, not piled up
