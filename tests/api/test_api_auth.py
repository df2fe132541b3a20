"""Login, token, expiry, logout, throttling of failed logins."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api import auth
from api.routers import users
from models.people import ApiToken
from registro.db import get_engine
from registro.passwords import hash_password, verify_password
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
    """``argon2`` (a hash or a check) that first asks, from another connection, whether a writer could begin."""

    def probed(*args: Any) -> Any:
        engine = get_engine()
        probe = sqlite3.connect(str(engine.url.database), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            record.append(True)
        except sqlite3.OperationalError:  # database is locked
            record.append(False)
        finally:
            probe.close()
        return argon2(*args)

    return probed


def test_argon2_runs_without_the_write_lock(
    client: TestClient, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite: while Argon2 hashes or checks a password (~100 ms), another writer must be able to begin
    if get_engine().dialect.name != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
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
