"""Login, token, expiry, logout, throttling of failed logins, turns at the password check."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select
from starlette.requests import Request

from api import auth
from api.errors import TooManyAttempts, Unavailable
from api.routers import users
from models.people import ApiToken, User
from registro import passwords
from registro.db import get_engine
from registro.passwords import PasswordHashingBusy, hash_password, verify_password
from tests.api_support import API, Clock, People, fetch, login
from tests.factories import PASSWORD
from tests.pages_support import page_login, submit_form


def test_login_me_logout(client: TestClient, people: People, session: Session) -> None:
    headers = login(client, people.official)
    me = client.get(f"{API}/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["username"] == people.official.username
    assert me.json()["office"] == "ricerca"
    assert "password_hash" not in me.json()
    token = headers["Authorization"].split()[1]
    stored = fetch(session, select(ApiToken))
    assert len(stored) == 1 and token not in stored[0].token_hash and len(stored[0].token_hash) == 64
    assert client.post(f"{API}/auth/logout", headers=headers).status_code == 204
    after = client.get(f"{API}/auth/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["code"] == "non_autenticato"
    assert after.headers["WWW-Authenticate"] == "Bearer"


def test_wrong_password_and_unknown_user(client: TestClient, people: People) -> None:
    for username, password in ((people.official.username, "sbagliata-123"), ("nessuno", "sbagliata-123")):
        response = client.post(f"{API}/auth/token", data={"username": username, "password": password})
        assert response.status_code == 401
        assert response.json()["detail"] == "nome utente o password non corretti"


def test_missing_token_and_garbage_token(client: TestClient, people: People) -> None:
    response = client.get(f"{API}/auth/me")
    assert response.status_code == 401
    assert "accesso" in response.json()["detail"]
    garbage = client.get(f"{API}/auth/me", headers={"Authorization": "Bearer non-un-token"})
    assert garbage.status_code == 401


def test_token_expires(client: TestClient, people: People, clock: Clock) -> None:
    headers = login(client, people.rep)
    clock.advance(hours=11, minutes=59)
    assert client.get(f"{API}/auth/me", headers=headers).status_code == 200
    clock.advance(minutes=2)
    expired = client.get(f"{API}/auth/me", headers=headers)
    assert expired.status_code == 401
    assert "scaduta" in expired.json()["detail"]


def test_inactive_user_cannot_log_in(client: TestClient, people: People, session: Session) -> None:
    headers = login(client, people.rep)
    people.rep.active = False
    session.add(people.rep)
    session.commit()
    assert client.get(f"{API}/auth/me", headers=headers).status_code == 401
    response = client.post(
        f"{API}/auth/token", data={"username": people.rep.username, "password": "password-di-prova-1"}
    )
    assert response.status_code == 401


def test_failed_logins_are_throttled(client: TestClient, people: People, clock: Clock) -> None:
    bad = {"username": people.head.username, "password": "tentativo-errato"}
    for _ in range(5):
        assert client.post(f"{API}/auth/token", data=bad).status_code == 401
    blocked = client.post(
        f"{API}/auth/token", data={"username": people.head.username, "password": "password-di-prova-1"}
    )
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "troppi_tentativi"
    assert "riprovare tra" in blocked.json()["detail"]
    assert int(blocked.headers["Retry-After"]) > 0
    login(client, people.official)  # another username is not affected
    clock.advance(minutes=16)
    login(client, people.head)  # the window has passed


def test_missing_form_fields_are_named(client: TestClient) -> None:
    response = client.post(f"{API}/auth/token", data={"username": "x"})
    assert response.status_code == 422
    assert response.json()["errors"][0] == {"field": "password", "location": "body", "reason": "campo obbligatorio"}


def lock_probe(record: list[bool], argon2: Callable[..., Any]) -> Callable[..., Any]:
    """``argon2`` (a hash or a check) that first asks, from another connection, whether a writer could
    lock every user's row and every token at once (``NOWAIT``: refused if the request holds any)."""

    def probed(*args: Any) -> Any:
        with Session(get_engine()) as probe:
            try:
                probe.exec(select(User.id).with_for_update(nowait=True)).all()
                probe.exec(select(ApiToken.id).with_for_update(nowait=True)).all()
                record.append(True)
            except OperationalError:  # lock not available
                record.append(False)
            finally:
                probe.rollback()
        return argon2(*args)

    return probed


def test_argon2_runs_before_the_request_writes(
    client: TestClient, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    # while Argon2 hashes or checks a password (~100 ms), the request holds no row lock another writer waits for
    writers_could_begin: list[bool] = []
    monkeypatch.setattr(auth, "verify_password", lock_probe(writers_could_begin, verify_password))
    monkeypatch.setattr(auth, "hash_password", lock_probe(writers_could_begin, hash_password))
    monkeypatch.setattr(users, "hash_password", lock_probe(writers_could_begin, hash_password))
    headers = login(client, people.official)  # the API's login
    assert page_login(client, people.official).status_code == 200  # the pages' login form
    assert writers_could_begin == [True, True]
    change = {"current_password": PASSWORD, "new_password": "una-nuova-password-lunga"}
    assert client.post(f"{API}/auth/password", json=change, headers=headers).status_code == 204
    assert writers_could_begin[2:] == [True, True]  # the current password checked, the new one hashed
    new_user = {"username": "nuovo.funzionario", "password": "password-iniziale-1", "full_name": "Nuovo Funzionario",
                "email": "nuovo@example.it", "role": "official", "office": "ricerca"}  # fmt: skip
    assert client.post(f"{API}/users", json=new_user, headers=login(client, people.admin)).status_code == 201
    assert writers_could_begin[4:] == [True, True]  # the admin's login, the new user's password
    page_login(client, people.rep)
    again = "la-nuova-password-del-rappresentante"
    form = {"current_password": PASSWORD, "new_password": again, "new_password_repeat": again}
    assert submit_form(client, "/profilo/password", "/profilo/password", form).status_code == 303
    assert writers_could_begin[6:] == [True, True, True]  # the pages' login, then the form's check and hash


# ---- the throttle's bookkeeping (LoginThrottle, time passed in) ------------------------------------------

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_a_success_clears_that_username_and_address_only() -> None:
    throttle = auth.LoginThrottle()
    for n in range(4):
        throttle.begin("mario", "192.0.2.1", T0 + timedelta(seconds=n))
    throttle.succeeded(throttle.begin("mario", "192.0.2.1", T0 + timedelta(seconds=5)))
    for n in range(5):  # the owner's mistakes before the success are forgotten
        throttle.begin("mario", "192.0.2.1", T0 + timedelta(seconds=10 + n))
    with pytest.raises(TooManyAttempts, match="con questo nome utente da questo indirizzo: riprovare tra 15 minuti"):
        throttle.begin("mario", "192.0.2.1", T0 + timedelta(seconds=20))
    throttle.begin("mario", "192.0.2.1", T0 + timedelta(minutes=15, seconds=11))  # the window has passed


def test_logging_in_to_ones_own_account_does_not_reset_the_address() -> None:
    throttle = auth.LoginThrottle()
    for n in range(29):
        throttle.begin(f"vittima{n}", "198.51.100.9", T0)
    throttle.succeeded(throttle.begin("attaccante", "198.51.100.9", T0))  # the attacker's own account
    throttle.begin("vittima-29", "198.51.100.9", T0)
    with pytest.raises(TooManyAttempts, match="da questo indirizzo: riprovare tra 15 minuti"):
        throttle.begin("vittima-30", "198.51.100.9", T0)


def test_a_username_under_attack_gives_each_address_two_attempts_and_never_locks() -> None:
    throttle = auth.LoginThrottle()
    for n in range(20):  # 20 addresses, one failure each: the username is under attack
        throttle.begin("dirigente", f"198.51.100.{n}", T0)
    throttle.begin("dirigente", "198.51.100.0", T0)  # a second failure from an address that had one
    with pytest.raises(TooManyAttempts):
        throttle.begin("dirigente", "198.51.100.0", T0)
    for n in range(100, 150):  # any new address is still checked, twice
        throttle.begin("dirigente", f"203.0.113.{n}", T0)
        throttle.begin("dirigente", f"203.0.113.{n}", T0)
    throttle.succeeded(throttle.begin("dirigente", "192.0.2.50", T0))  # the owner


def test_concurrent_attempts_cannot_overtake_the_limit() -> None:
    throttle = auth.LoginThrottle()
    begun = [throttle.begin("mario", "192.0.2.1", T0) for _ in range(5)]  # none has finished yet
    with pytest.raises(TooManyAttempts):
        throttle.begin("mario", "192.0.2.1", T0)
    throttle.undo(begun[0])  # one was never checked (the service was busy): it does not count
    throttle.begin("mario", "192.0.2.1", T0)


def test_a_busy_password_check_is_503_and_is_not_a_failure(
    client: TestClient, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*_: Any) -> bool:
        raise PasswordHashingBusy("troppi controlli di password in corso: riprovare tra qualche secondo")

    monkeypatch.setattr(auth, "verify_password", busy)
    for _ in range(8):
        response = client.post(f"{API}/auth/token", data={"username": people.head.username, "password": PASSWORD})
        assert response.status_code == 503
        assert response.json()["detail"] == "troppi controlli di password in corso: riprovare tra qualche secondo"
    monkeypatch.undo()
    login(client, people.head)  # eight unchecked attempts did not lock the owner out


# ---- turns at the password check and the Argon2 bound ------------------------------------------------------


def request_from(address: str) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": [], "client": (address, 1)})


def test_a_turn_is_waited_for_briefly_then_503_and_one_address_cannot_fill_the_line() -> None:
    turns = auth.PasswordTurns(limit=1, wait_seconds=0.2, per_address=2)
    outcomes: list[str] = []

    async def attempt(address: str, hold: float) -> None:
        try:
            async with turns.turn(request_from(address)):
                await anyio.sleep(hold)
            outcomes.append(f"{address} ok")
        except (TooManyAttempts, Unavailable) as exc:
            outcomes.append(f"{address} {exc.status_code} {exc.message}")

    async def scene() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(attempt, "192.0.2.1", 0.5)  # holds the only turn
            await anyio.sleep(0.05)
            tasks.start_soon(attempt, "192.0.2.1", 0)  # waits 0.2 s: 503
            await anyio.sleep(0.05)
            tasks.start_soon(attempt, "192.0.2.1", 0)  # a third from the same address: 429 at once

    anyio.run(scene)
    assert outcomes == [
        "192.0.2.1 429 troppe richieste di accesso contemporanee da questo indirizzo: riprovare tra qualche secondo",
        "192.0.2.1 503 troppi accessi in corso in questo momento: riprovare tra qualche secondo",
        "192.0.2.1 ok",
    ]


def test_at_most_n_argon2_computations_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    running, most = [0], [0]
    lock = threading.Lock()

    class SlowHasher:
        def hash(self, password: str) -> str:
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1
            return "$argon2id$finto"

    monkeypatch.setattr(passwords, "_hasher", SlowHasher)
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(passwords.hash_password, ["una password qualsiasi"] * 16)) == ["$argon2id$finto"] * 16
    assert most[0] == passwords.hashing_concurrency()


def test_beyond_the_wait_the_hash_is_refused_in_italian() -> None:
    with ExitStack() as held:
        for _ in range(passwords.hashing_concurrency()):
            held.enter_context(passwords._turn())
        with pytest.raises(PasswordHashingBusy, match="riprovare tra qualche secondo"):
            passwords._turn(wait=0.05).__enter__()
